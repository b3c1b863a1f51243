"""``cond_buffer.v`` (:class:`CondBuffer`): the conditional buffer between stage k and stage k + 1 of
a streaming multi-exit pipeline (ATHEENA's). It holds each forwarded frame (``frame_beats`` beats)
until that sample's decision arrives on ``dec`` (``dec_tdata[0]`` 1 keep, 0 drop), then passes the
whole frame on or discards it in one cycle. Frames and decisions are in order; the buffer never
reorders, duplicates or loses a frame. Ports: ``s_axis_*`` (frames in), ``dec_*`` (decisions),
``m_axis_*`` (kept frames out, tlast on each frame's last beat), ``frames_held`` (monitoring),
``frame_error`` (sticky: an input tlast disagreed with ``frame_beats``). The exit unit's output
(hardware/exit_unit) has bit 0 = exit flag, 1 when the sample leaves at this exit, which is a drop
here: connect ``dec_tdata = ~exit_flag``.

Sizing: ``depth >= frame_beats`` is required, or the pipeline deadlocks (the exit head needs the
whole frame before it decides, and the fork feeds it only as fast as this buffer accepts). For one
beat per cycle in steady state the buffer must also cover the beats that arrive while a decision
is on its way: :meth:`CondBuffer.depth_for` gives the smallest power of two that does.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.primitive import (PrimitiveParameterError, Primitive, next_power_of_two, require_at_least,
                                require_power_of_two)

# A beat's slot is in use from its write until the cycle after its read. A frame's decision is taken
# `decision_latency` cycles after its last beat entered (1 at the earliest: the buffer's pointers are
# registers), its first beat is read the cycle after that, so under a steady 1 beat/cycle a slot is
# held for FRAME_BEATS + decision_latency + 1 cycles, and the buffer needs that many slots.


@dataclass(frozen=True)
class CondBuffer(Primitive):
    width: int
    frame_beats: int
    depth: int

    top = "cond_buffer"
    SOURCES = ("cond_buffer/cond_buffer.v",)

    def __post_init__(self) -> None:
        require_at_least(self.top, "W", self.width, 1)
        require_at_least(self.top, "FRAME_BEATS", self.frame_beats, 1)
        if isinstance(self.depth, int) and self.depth < self.frame_beats:
            raise PrimitiveParameterError(
                f"cond_buffer DEPTH={self.depth} is below FRAME_BEATS={self.frame_beats}: the exit head needs "
                f"a whole frame before it decides, so the pipeline would deadlock; use "
                f"DEPTH={next_power_of_two(max(2, self.frame_beats))}")
        require_power_of_two(self.top, "DEPTH", self.depth)

    @property
    def parameters(self) -> dict[str, int]:
        return {"W": self.width, "FRAME_BEATS": self.frame_beats, "DEPTH": self.depth}

    @property
    def frames_held_width(self) -> int:
        return self.depth.bit_length()

    @staticmethod
    def depth_for(frame_beats: int, decision_latency: int = 1) -> int:
        """Smallest DEPTH that sustains one beat per cycle in and out (all frames kept, no stalls) when each
        decision is offered on ``dec`` ``decision_latency`` cycles after its frame's last beat entered
        (1: the next cycle). Bursts and back-pressure need more; that is the queue model's call."""
        require_at_least("cond_buffer", "FRAME_BEATS", frame_beats, 1)
        require_at_least("cond_buffer", "decision latency", decision_latency, 1)
        return next_power_of_two(frame_beats + decision_latency + 1)
