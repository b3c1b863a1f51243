"""``stream_global_sum.v`` (:class:`StreamGlobalSum`): GlobalAveragePooling2D on a pixel stream.

Sums each channel over a frame of ``beats`` beats of ``pixels`` pixels and emits one beat of
``channels`` sums. Over a power-of-two number of positions (the only ones frontend/ir.py accepts) the
sum's code is exactly the code of the mean in the IR's mean format, ``log2(positions)`` more
fraction bits (frontend.ir.mean_formats), so the hardware only adds.
"""
from __future__ import annotations

from dataclasses import dataclass

from frontend.fixedpoint import FixedFormat
from hardware.primitive import Primitive, PrimitiveParameterError, require_at_least


@dataclass(frozen=True)
class StreamGlobalSum(Primitive):
    in_format: FixedFormat
    channels: int
    beats: int
    pixels: int = 1              # pixels per beat (P)

    top = "stream_global_sum"
    SOURCES = ("global_pool/stream_global_sum.v",)

    def __post_init__(self) -> None:
        require_at_least(self.top, "C", self.channels, 1)
        require_at_least(self.top, "P", self.pixels, 1)
        require_at_least(self.top, "BEATS", self.beats, 1)
        positions = self.beats * self.pixels
        if positions & (positions - 1):
            raise PrimitiveParameterError(f"stream_global_sum over {positions} positions: the mean is exact only "
                                          "over a power of two; use a power-of-two H x W")

    @property
    def out_format(self) -> FixedFormat:
        """The exact mean's format: the sum's code, log2(positions) more fraction bits."""
        shift = (self.beats * self.pixels).bit_length() - 1
        f = self.in_format
        return FixedFormat(f.width + shift, f.frac + shift, f.signed)

    @property
    def parameters(self) -> dict[str, int]:
        return {"C": self.channels, "P": self.pixels, "W": self.in_format.width, "SIGNED": int(self.in_format.signed),
                "BEATS": self.beats, "OUT_W": self.out_format.width}
