"""FIFOs.

``pl_fifo.v``: small flip-flop / LUTRAM first-word-fall-through FIFO with asynchronous read, used by
the pipeline and the stream shell (``hardware.source("fifo/pl_fifo.v")``).

``stream_fifo.v`` (:class:`StreamFifo`): first-word-fall-through FIFO for a stream (data + tlast) on a
synchronous RAM, so deep instances map to RAMB18/RAMB36 and shallow ones to LUTRAM. One beat in and
one out per cycle; holds up to ``depth + 2`` beats (the RAM, its read register, the output register);
a beat written at cycle t is on m_axis at t + 3.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.primitive import Primitive, require_at_least, require_power_of_two


@dataclass(frozen=True)
class StreamFifo(Primitive):
    width: int
    depth: int

    top = "stream_fifo"
    SOURCES = ("fifo/stream_fifo.v",)
    LATENCY = 3  # cycles from a beat written to it on m_axis

    def __post_init__(self) -> None:
        require_at_least(self.top, "W", self.width, 1)
        require_power_of_two(self.top, "DEPTH", self.depth)

    @property
    def parameters(self) -> dict[str, int]:
        return {"W": self.width, "DEPTH": self.depth}

    @property
    def capacity(self) -> int:
        """Beats held when full: the RAM plus its read register and the output register."""
        return self.depth + 2
