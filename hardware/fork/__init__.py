"""``stream_fork.v`` (:class:`StreamFork`): broadcasts one stream (data + tlast) to ``outputs`` streams.

Output i is bit i of ``m_axis_tvalid/tready/tlast`` and ``m_axis_tdata[i*W +: W]``. A beat leaves
when every output has taken it (per-output 'taken' flags, so no output's tvalid depends on any
tready); one beat per cycle when all outputs are ready; latency one cycle. ``s_axis_tready`` is
combinational from the ``m_axis_tready`` inputs: put a stream_fifo in front to cut that path.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.primitive import Primitive, require_at_least


@dataclass(frozen=True)
class StreamFork(Primitive):
    width: int
    outputs: int

    top = "stream_fork"
    SOURCES = ("fork/stream_fork.v",)

    def __post_init__(self) -> None:
        require_at_least(self.top, "W", self.width, 1)
        require_at_least(self.top, "N", self.outputs, 1)

    @property
    def parameters(self) -> dict[str, int]:
        return {"W": self.width, "N": self.outputs}
