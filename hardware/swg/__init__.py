"""Sliding-window generator (swg.v): parameters checked once, and what a caller needs to chain it.

``build_swg`` turns a layer's geometry (input shape, element format, window, stride, padding, P)
into the Verilog parameters of ``swg`` and the stream sizes around it. The Verilog module is
hand-written; nothing is generated. Padding 'same' follows TensorFlow: pad_total =
max((out - 1)*S + K - IN, 0) with out = ceil(IN / S), the odd row/column at the bottom/right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from frontend.fixedpoint import FixedFormat

from hardware import source

SWG_TOP = "swg"
SWG_FILES = [source("swg/swg.v"), source("swg/swg_line_buffer.v")]
# The Verilog parameters of swg.v, in its order; Swg.parameters has exactly these keys.
SWG_PARAMETERS = ("IN_H", "IN_W", "C", "B", "K_H", "K_W", "S_H", "S_W", "PAD_T", "PAD_B", "PAD_L", "PAD_R", "P")


class SwgConfigError(ValueError):
    """A sliding-window geometry the generator cannot build; the message names the fix."""


@dataclass(frozen=True)
class Swg:
    """One sliding-window generator instance: ``s_axis`` P pixels per beat -> ``m_axis`` P windows per beat.

    A window is the C-order flatten of its (K_H, K_W, C) patch, element formats unchanged
    (``fmt`` in and out); ``out_shape`` is (out_h, out_w, C) window positions x channels.
    """

    in_shape: tuple[int, int, int]
    fmt: FixedFormat
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]   # top, bottom, left, right (pixels)
    parallelism: int
    out_shape: tuple[int, int, int]
    top: str = SWG_TOP

    @property
    def verilog_files(self) -> list[Path]:
        return list(SWG_FILES)

    @property
    def parameters(self) -> dict[str, int]:
        """Verilog parameters of this instance (keys: SWG_PARAMETERS)."""
        (h, w, c), (kh, kw), (sh, sw), (pt, pb, pl, pr) = self.in_shape, self.kernel, self.stride, self.padding
        values = (h, w, c, self.fmt.width, kh, kw, sh, sw, pt, pb, pl, pr, self.parallelism)
        return dict(zip(SWG_PARAMETERS, values))

    @property
    def window_shape(self) -> tuple[int, int, int]:
        return (*self.kernel, self.in_shape[2])

    @property
    def in_elements(self) -> int:
        """Elements per input beat (P pixels x C)."""
        return self.parallelism * self.in_shape[2]

    @property
    def out_elements(self) -> int:
        """Elements per output beat (P windows x K_H*K_W*C)."""
        return self.parallelism * math.prod(self.window_shape)

    @property
    def in_width(self) -> int:
        return self.in_elements * self.fmt.width

    @property
    def out_width(self) -> int:
        return self.out_elements * self.fmt.width

    @property
    def in_beats(self) -> int:
        return self.in_shape[0] * self.in_shape[1] // self.parallelism

    @property
    def out_beats(self) -> int:
        return self.out_shape[0] * self.out_shape[1] // self.parallelism

    @property
    def frame_cycles(self) -> int:
        """Cycles per frame without output stalls: one padded position per cycle, P per beat."""
        (h, w, _), (pt, pb, pl, pr) = self.in_shape, self.padding
        return (h + pt + pb) * (w + pl + pr) // self.parallelism

    def instance(self, name: str, connections: dict[str, str]) -> str:
        """Verilog instantiation text, ``connections`` = {port: expression}."""
        params = ", ".join(f".{k}({v})" for k, v in self.parameters.items())
        ports = ", ".join(f".{p}({e})" for p, e in connections.items())
        return f"{self.top} #({params}) {name} ({ports});"


def _pair(value, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in pair):
        raise SwgConfigError(f"{what} must be a positive int or a pair of them, got {value!r}")
    return pair


def tf_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of one axis as TensorFlow's 'valid'/'same'."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    raise SwgConfigError(f"padding {padding!r} is not supported; use 'valid', 'same' or (top, bottom, left, right)")


def build_swg(in_shape: tuple[int, int, int], fmt: FixedFormat, kernel: int | tuple[int, int],
              stride: int | tuple[int, int] = 1, padding: str | tuple[int, int, int, int] = "valid",
              parallelism: int = 1) -> Swg:
    """Check a sliding-window geometry and describe its ``swg`` instance."""
    if len(in_shape) != 3 or not all(isinstance(d, int) and d >= 1 for d in in_shape):
        raise SwgConfigError(f"in_shape must be (height, width, channels) of positive ints, got {in_shape!r}")
    (kh, kw), (sh, sw) = _pair(kernel, "kernel"), _pair(stride, "stride")
    h, w, c = in_shape
    if isinstance(padding, str):
        pads = (*tf_padding(h, kh, sh, padding), *tf_padding(w, kw, sw, padding))
    else:
        pads = tuple(padding)
        if len(pads) != 4 or not all(isinstance(p, int) and p >= 0 for p in pads):
            raise SwgConfigError(f"padding must be 'valid', 'same' or four ints >= 0 (top, bottom, left, right), "
                                 f"got {padding!r}")
    pt, pb, pl, pr = pads
    if kh > h + pt + pb or kw > w + pl + pr:
        raise SwgConfigError(f"window {kh}x{kw} is larger than the padded image {h + pt + pb}x{w + pl + pr}")
    p = parallelism
    if not isinstance(p, int) or p < 1:
        raise SwgConfigError(f"parallelism must be an int >= 1, got {p!r}")
    if p > 1 and ((sh, sw) != (1, 1) or w % p or pl % p or pr % p or (kw - 1) % p):
        raise SwgConfigError(f"parallelism {p} needs stride 1 and image width ({w}), left/right padding ({pl}, {pr}) "
                             f"and kernel width - 1 ({kw - 1}) all multiples of {p}; use parallelism 1")
    out_shape = ((h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1, c)
    return Swg((h, w, c), fmt, (kh, kw), (sh, sw), pads, p, out_shape)
