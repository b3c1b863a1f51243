"""The one definition of how stage ports pack tensors into flat bit vectors.

A port carries one or more tensors back to back, the first at bit 0. Inside a
tensor, element i of the C-order flatten of the Keras tensor (batch axis
dropped) sits at bits [i*W +: W], W being the width of its FixedFormat, as a
two's complement code for signed formats and a plain binary code otherwise.
The generator (emit.py) and the testbench (sim/stage) both use this module.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from frontend.fixedpoint import FixedFormat


@dataclass(frozen=True)
class PortTensor:
    """One tensor on a port: name, Keras shape without batch, element format."""

    name: str
    shape: tuple[int, ...]
    fmt: FixedFormat

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def bits(self) -> int:
        return self.size * self.fmt.width


def port_width(tensors: Sequence[PortTensor]) -> int:
    return sum(t.bits for t in tensors)


class StreamPorts:
    """Port views shared by every stage core (StageRtl, FoldedStage): ``s_axis_tdata`` carries ``input``,
    ``m_axis_tdata`` carries ``outputs`` (exit logits first, then the forwarded tensor; a headless core,
    ``has_logits`` False, outputs the forwarded tensor only)."""

    input: PortTensor
    outputs: list[PortTensor]
    has_logits: bool

    @property
    def input_format(self) -> FixedFormat:
        return self.input.fmt

    @property
    def forwarded(self) -> PortTensor | None:
        """The forwarded backbone tensor (None for the last stage)."""
        return self.outputs[-1] if len(self.outputs) > 1 or not self.has_logits else None

    @property
    def in_width(self) -> int:
        return port_width([self.input])

    @property
    def out_width(self) -> int:
        return port_width(self.outputs)


def bit_offsets(tensors: Sequence[PortTensor]) -> list[int]:
    """Bit offset of each tensor's element 0 on the port."""
    offsets, acc = [], 0
    for t in tensors:
        offsets.append(acc)
        acc += t.bits
    return offsets


def _codes_to_bits(codes: np.ndarray, width: int) -> np.ndarray:
    """(n, E) integer codes -> (n, E*width) bits, LSB first per element."""
    unsigned = np.mod(codes.astype(np.int64), 1 << width).astype(np.uint64)
    shifts = np.arange(width, dtype=np.uint64)
    bits = (unsigned[:, :, None] >> shifts) & np.uint64(1)
    return bits.reshape(codes.shape[0], -1).astype(np.uint8)


def pack(tensors: Sequence[PortTensor], codes: Sequence[np.ndarray]) -> list[int]:
    """Per-sample port words from per-tensor code arrays of shape (n, *shape)."""
    if len(tensors) != len(codes):
        raise ValueError(f"got {len(codes)} code arrays for {len(tensors)} port tensors")
    n = int(np.asarray(codes[0]).shape[0])
    parts = []
    for t, c in zip(tensors, codes):
        c = np.asarray(c).reshape(n, -1)
        if c.shape[1] != t.size:
            raise ValueError(f"tensor {t.name!r}: expected {t.size} elements per sample, got {c.shape[1]}")
        if c.size and (c.min() < t.fmt.min_code or c.max() > t.fmt.max_code):
            raise ValueError(f"tensor {t.name!r}: codes outside the range of {t.fmt}")
        parts.append(_codes_to_bits(c, t.fmt.width))
    bits = np.concatenate(parts, axis=1)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack(tensors: Sequence[PortTensor], words: Sequence[int]) -> list[np.ndarray]:
    """Inverse of :func:`pack`: per-tensor code arrays of shape (n, *shape)."""
    total = port_width(tensors)
    nbytes = (total + 7) // 8
    raw = np.frombuffer(b"".join(int(w).to_bytes(nbytes, "little") for w in words), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), nbytes), axis=1, bitorder="little")[:, :total]
    out, pos = [], 0
    for t in tensors:
        w = t.fmt.width
        chunk = bits[:, pos:pos + t.bits].reshape(len(words), t.size, w).astype(np.int64)
        values = np.sum(chunk << np.arange(w, dtype=np.int64), axis=2)
        if t.fmt.signed:
            values = np.where(values >= 1 << (w - 1), values - (1 << w), values)
        out.append(values.reshape((len(words),) + tuple(t.shape)))
        pos += t.bits
    return out
