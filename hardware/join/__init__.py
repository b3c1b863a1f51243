"""``stream_join.v`` (:class:`StreamJoin`): two pixel streams -> one, beat by beat (skip connections).

``op="add"``: Keras Add, the element-wise exact sum; ``op="concat"``: Keras Concatenate on the channel
axis, each output pixel input a's channels then input b's. Both take the codes of their input formats,
align them to the output format (shift left by ``out.frac - in.frac``) and, for ``add``, sum them; the
output format must hold every aligned value and (add) every sum, which is checked here, so the
Verilog's truncation to OUT_W bits is exact. frontend/ir.py defines the output formats (``_add``,
``_concat``); a join of more than two inputs is a chain of joins.

The inputs come from one fork (a residual block): the branch that reaches the join first needs a FIFO
deep enough to hold what the other branch takes in before it gives its first beat (hardware/stream_stage
sizes it), otherwise the fork stalls on the full FIFO while the join waits for the other branch.
"""
from __future__ import annotations

from dataclasses import dataclass

from frontend.fixedpoint import FixedFormat
from hardware.primitive import Primitive, PrimitiveParameterError, require_at_least

OPS = ("add", "concat")


@dataclass(frozen=True)
class StreamJoin(Primitive):
    op: str
    in_formats: tuple[FixedFormat, FixedFormat]
    channels: tuple[int, int]    # elements of one pixel of each input
    out_format: FixedFormat
    pixels: int = 1              # pixels per beat (P)

    top = "stream_join"
    SOURCES = ("join/stream_join.v",)
    LATENCY = 1

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise PrimitiveParameterError(f"stream_join op {self.op!r} is unknown; use 'add' or 'concat'")
        if len(self.in_formats) != 2 or len(self.channels) != 2:
            raise PrimitiveParameterError("stream_join joins exactly two inputs; chain joins for more")
        require_at_least(self.top, "P", self.pixels, 1)
        for name, c in zip(("A_C", "B_C"), self.channels):
            require_at_least(self.top, name, c, 1)
        if self.op == "add" and self.channels[0] != self.channels[1]:
            raise PrimitiveParameterError(f"stream_join add needs equal channels, got {self.channels}")
        out = self.out_format
        for k, f in enumerate(self.in_formats):
            if f.frac > out.frac:
                raise PrimitiveParameterError(f"stream_join input {k} {f} has more fraction bits than the output "
                                              f"{out}: the output format must be the finest of its inputs")
        los = [f.min_value for f in self.in_formats]
        his = [f.max_value for f in self.in_formats]
        lo, hi = (sum(los), sum(his)) if self.op == "add" else (min(los), max(his))
        if lo < out.min_value or hi > out.max_value:
            raise PrimitiveParameterError(f"stream_join {self.op} output {out} cannot hold [{lo}, {hi}] of inputs "
                                          f"{', '.join(map(str, self.in_formats))}; widen the output format")

    @property
    def out_channels(self) -> int:
        return self.channels[0] if self.op == "add" else sum(self.channels)

    @property
    def parameters(self) -> dict[str, int]:
        (a, b), (ca, cb), out = self.in_formats, self.channels, self.out_format
        return {"ADD": int(self.op == "add"), "P": self.pixels,
                "A_C": ca, "A_W": a.width, "A_SIGNED": int(a.signed), "A_SHIFT": out.frac - a.frac,
                "B_C": cb, "B_W": b.width, "B_SIGNED": int(b.signed), "B_SHIFT": out.frac - b.frac,
                "OUT_W": out.width}
