"""Data-width converters for streams: change pixels per beat, feed a whole-tensor core from a pixel
stream, pack samples into 32/64-bit AXI DMA words.

``stream_gather.v`` (:class:`StreamGather`): ``pieces`` beats of ``width`` bits -> one beat of
``pieces * width`` bits, beat 0 in the low bits, tlast of the group's last beat; ``m_axis_tkeep``
has one bit per piece. ``aligned=False``: a tlast ends a group early (a short, zero-padded beat whose
tkeep marks the pieces present). ``aligned=True``: groups are exactly ``pieces`` beats, tkeep is all
ones, and a tlast inside a group sets the sticky ``error`` output.

``stream_split.v`` (:class:`StreamSplit`): one beat of ``pieces * width`` bits -> ``pieces`` beats of
``width`` bits, low bits first, tlast on the beat's last piece; ``s_axis_tkeep`` (one bit per piece,
contiguous from piece 0) shortens a beat, so a split undoes a gather exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.primitive import Primitive, require_at_least


@dataclass(frozen=True)
class StreamGather(Primitive):
    width: int
    pieces: int
    aligned: bool = False

    top = "stream_gather"
    SOURCES = ("dwc/stream_gather.v",)

    def __post_init__(self) -> None:
        require_at_least(self.top, "W", self.width, 1)
        require_at_least(self.top, "N", self.pieces, 2, "N = 1 is a plain wire: leave the converter out")

    @property
    def parameters(self) -> dict[str, int]:
        return {"W": self.width, "N": self.pieces, "ALIGNED": int(self.aligned)}


@dataclass(frozen=True)
class StreamSplit(Primitive):
    width: int
    pieces: int

    top = "stream_split"
    SOURCES = ("dwc/stream_split.v",)

    def __post_init__(self) -> None:
        require_at_least(self.top, "W", self.width, 1)
        require_at_least(self.top, "N", self.pieces, 2, "N = 1 is a plain wire: leave the converter out")

    @property
    def parameters(self) -> dict[str, int]:
        return {"W": self.width, "N": self.pieces}
