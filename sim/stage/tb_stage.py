"""cocotb testbench of a stage core's valid/ready top (hardware/stage).

Inputs (convention of sim/runner.py): ``TB_VECTORS`` -> .npz with ``inputs``
(N, in_bytes) and ``expected`` (N, out_bytes), little-endian bytes of the
packed port words (packing: hardware/stage/packing.py); ``TB_IN_PAUSE`` and
``TB_OUT_PAUSE``: probability of an idle input cycle / a back-pressure output
cycle; ``TB_SEED``; ``TB_LATENCY``: the core's latency in cycles.
Outputs: ``TB_OUTPUT`` -> .npz ``outputs`` (N, out_bytes) as received;
``TB_RESULT`` -> JSON {vectors, mismatches, first_mismatch, cycles, wall_seconds}.
"""
from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def random_pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def words_from_bytes(rows: np.ndarray) -> list[int]:
    return [int.from_bytes(row.tobytes(), "little") for row in rows]


class StageTB:
    """Owns the clock, the reset, the stream drivers and a cycle counter."""

    def __init__(self, dut, in_pause: float, out_pause: float, seed: int):
        self.dut = dut
        self.cycles = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
        if in_pause > 0:
            self.source.set_pause_generator(random_pauses(in_pause, seed))
        if out_pause > 0:
            self.sink.set_pause_generator(random_pauses(out_pause, seed + 1))

    async def _count(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            self.cycles += 1

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 1)
        cocotb.start_soon(self._count())

    async def stream(self, words: list[int]) -> list[int]:
        """Send every word, collect as many results, in order."""
        for w in words:
            await self.source.send(AxiStreamFrame([w]))
        got = []
        for _ in words:
            frame = await self.sink.recv()
            got.append(int(frame.tdata[0]))
        return got


@cocotb.test()
async def stage_matches_reference(dut):
    """Every packed output word equals the QKeras stage's, under random stalls on both sides."""
    data = np.load(os.environ["TB_VECTORS"])
    inputs, expected = data["inputs"], data["expected"]
    tb = StageTB(dut, float(os.environ.get("TB_IN_PAUSE", 0)), float(os.environ.get("TB_OUT_PAUSE", 0)),
                 int(os.environ.get("TB_SEED", 1)))
    await tb.reset()
    start = time.perf_counter()
    got = await tb.stream(words_from_bytes(inputs))
    wall = time.perf_counter() - start
    want = words_from_bytes(expected)
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    out_bytes = expected.shape[1]
    np.savez(os.environ["TB_OUTPUT"], outputs=np.array(
        [np.frombuffer(g.to_bytes(out_bytes, "little"), dtype=np.uint8) for g in got]))
    with open(os.environ["TB_RESULT"], "w") as fh:
        json.dump({"vectors": len(want), "mismatches": len(bad), "first_mismatch": bad[0] if bad else None,
                   "cycles": tb.cycles, "wall_seconds": wall}, fh)
    assert not bad, f"{len(bad)} of {len(want)} outputs differ, first at vector {bad[0]}"


@cocotb.test()
async def stage_sustains_one_result_per_cycle(dut):
    """Without stalls the shell accepts and delivers one vector per clock (II = 1)."""
    data = np.load(os.environ["TB_VECTORS"])
    n = min(len(data["inputs"]), 256)
    latency = int(os.environ["TB_LATENCY"])
    tb = StageTB(dut, 0.0, 0.0, 0)
    await tb.reset()
    start = tb.cycles
    got = await tb.stream(words_from_bytes(data["inputs"][:n]))
    cycles = tb.cycles - start
    assert got == words_from_bytes(data["expected"][:n]), "outputs differ without stalls"
    # n beats + pipeline latency + FIFO read cycle + driver/monitor edges
    assert cycles <= n + latency + 6, f"{n} vectors took {cycles} cycles with latency {latency}"
