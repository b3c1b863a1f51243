"""cocotb testbench of any pixel-stream core (s_axis and m_axis with tlast), e.g. hardware/swg, window chains.

Inputs (sim/runner.py convention): ``TB_VECTORS`` -> .npz ``inputs`` (frames, beats, in_bytes): the input
beats of each frame, little-endian bytes of the beat word, sent back to back, tlast on each frame's last
beat; ``TB_FRAMES_OUT``: output frames to wait for (tlast-terminated); ``TB_OUT_BYTES``;
``TB_IN_PAUSE``/``TB_OUT_PAUSE``: probability of an idle input / a back-pressure output cycle, from the
moment ``TB_FREE_FRAMES`` output frames have arrived without any stall (default 0); ``TB_SEED``.
Outputs: ``TB_OUTPUT`` -> .npz ``beats`` (all output beats, out_bytes each, in order);
``TB_RESULT`` -> JSON {beats_per_frame, tlast_cycles, input_cycles, wall_seconds}: output beats between
tlasts, and the cycle (clock edges after reset) of each output tlast beat and of each input beat taken.
"""
from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamFrame

from sim.stage.tb_stage import StageTB, random_pauses  # clock, reset, stream drivers


def _high(signal) -> bool:
    return str(signal.value) == "1"


class PixelStreamTB(StageTB):
    """StageTB plus a handshake monitor: cycle stamps of input beats and output tlast beats."""

    def __init__(self, dut):
        super().__init__(dut, 0.0, 0.0, 0)
        self.tlast_cycles: list[int] = []
        self.input_cycles: list[int] = []

    async def _monitor(self) -> None:
        dut, cycle = self.dut, 0
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            if _high(dut.s_axis_tvalid) and _high(dut.s_axis_tready):
                self.input_cycles.append(cycle)
            if _high(dut.m_axis_tvalid) and _high(dut.m_axis_tready) and _high(dut.m_axis_tlast):
                self.tlast_cycles.append(cycle)

    async def reset(self) -> None:
        await super().reset()
        cocotb.start_soon(self._monitor())


@cocotb.test()
async def frames_stream_through(dut):
    """Every input frame goes in back to back; the expected number of tlast-terminated frames comes out."""
    frames = np.load(os.environ["TB_VECTORS"])["inputs"]
    in_pause, out_pause = float(os.environ.get("TB_IN_PAUSE", 0)), float(os.environ.get("TB_OUT_PAUSE", 0))
    seed, free = int(os.environ.get("TB_SEED", 1)), int(os.environ.get("TB_FREE_FRAMES", 0))
    tb = PixelStreamTB(dut)
    await tb.reset()
    start = time.perf_counter()
    for frame in frames:  # queued at once, so the source never idles between frames
        await tb.source.send(AxiStreamFrame([int.from_bytes(beat.tobytes(), "little") for beat in frame]))
    out = []
    for i in range(int(os.environ["TB_FRAMES_OUT"])):
        if i == free:
            if in_pause > 0:
                tb.source.set_pause_generator(random_pauses(in_pause, seed))
            if out_pause > 0:
                tb.sink.set_pause_generator(random_pauses(out_pause, seed + 1))
        out.append(list((await tb.sink.recv()).tdata))
    await RisingEdge(dut.clk)  # the monitor has seen the last beat too
    wall = time.perf_counter() - start
    out_bytes = int(os.environ["TB_OUT_BYTES"])
    beats = [np.frombuffer(int(b).to_bytes(out_bytes, "little"), dtype=np.uint8) for f in out for b in f]
    np.savez(os.environ["TB_OUTPUT"], beats=np.array(beats).reshape(len(beats), out_bytes))
    with open(os.environ["TB_RESULT"], "w") as fh:
        json.dump({"beats_per_frame": [len(f) for f in out], "tlast_cycles": tb.tlast_cycles,
                   "input_cycles": tb.input_cycles, "wall_seconds": wall}, fh)
