"""cocotb testbench of the generated multi-exit pipeline (hardware/pipeline/generate.py).

Inputs (convention of sim/runner.py): ``TB_VECTORS`` -> .npz ``inputs`` (N,
in_bytes), little-endian bytes of the packed stage-1 input words;
``TB_SCENARIOS`` -> JSON list of {name, exits_enable, thresholds,
write_thresholds, out_pause, in_pause, seed}, thresholds per stage (null where
the exit is dropped: no thr port); ``TB_OUT_DIR``: where each scenario's
records go; ``TB_LANES``, ``TB_LANE_BITS``: results per output beat and bits per
lane (its valid flag on top), so the bench knows when every result is out.

Each scenario resets the pipeline, writes the threshold registers unless
``write_thresholds`` is false (then the registers hold their reset values, the
THRESHOLD_INIT the pipeline was generated with), sets ``exits_enable`` and
streams every input: back to back when ``in_pause`` is 0 (the pipeline's
s_axis_tready alone paces it), else the source idles a cycle with probability
``in_pause`` (seeded), while the sink applies random back-pressure with
probability ``out_pause``. A monitor samples both handshakes every clock: it
records the cycle each sample was accepted, the cycles the pipeline was ready
but the source offered nothing, and, for each result, the cycle its
m_axis_tvalid first rose, the cycle it was taken and the word. Output:
``<name>.npz`` with ``accepted`` (N,), ``source_idle``, ``words`` (decimal
strings), ``first_valid``, ``handshake`` and ``<name>.json`` {cycles,
wall_seconds}. Checking against the software model happens in Python
(simulate.analyse).
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

DRAIN_CYCLES = 48  # after the last expected result, keep watching for duplicates (> any pipeline latency)


def random_pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


class PipelineTB:
    """Owns the clock, the reset, the stream drivers and the handshake monitor."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.accepted: list[int] = []
        self.source_idle: list[int] = []
        self.results: list[tuple[int, int, int]] = []  # (word, first valid cycle, handshake cycle)
        self.result_count = 0                             # results (valid lanes) in those words
        lanes, lane_bits = int(os.environ.get("TB_LANES", 1)), int(os.environ.get("TB_LANE_BITS", 1))
        self._valid_bits = [i * lane_bits + lane_bits - 1 for i in range(lanes)]
        self._start: int | None = None
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.source.log.setLevel("WARNING")
        self.sink.log.setLevel("WARNING")
        cocotb.start_soon(self._monitor())

    async def _monitor(self) -> None:
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if d.rst.value:
                continue
            if d.s_axis_tready.value:
                (self.accepted if d.s_axis_tvalid.value else self.source_idle).append(self.cycle)
            if d.m_axis_tvalid.value:
                if self._start is None:
                    self._start = self.cycle
                if d.m_axis_tready.value:
                    word = int(d.m_axis_tdata.value)
                    self.results.append((word, self._start, self.cycle))
                    self.result_count += sum((word >> b) & 1 for b in self._valid_bits)
                    self._start = None

    async def reset(self, thresholds: list[int | None], exits_enable: bool, write: bool = True) -> None:
        """Reset; write the threshold registers unless ``write`` is False (they keep their reset values)."""
        d = self.dut
        kept = {k: code for k, code in enumerate(thresholds, start=1) if code is not None}
        d.rst.value = 1
        d.exits_enable.value = int(exits_enable)
        for k in kept:
            getattr(d, f"thr{k}_we").value = 0
            getattr(d, f"thr{k}_data").value = 0
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        if write:
            for k, code in kept.items():
                getattr(d, f"thr{k}_we").value = 1
                getattr(d, f"thr{k}_data").value = int(code)
        await RisingEdge(d.clk)
        for k in kept:
            getattr(d, f"thr{k}_we").value = 0
        await RisingEdge(d.clk)
        self.accepted, self.source_idle, self.results, self._start, self.result_count = [], [], [], None, 0
        self.sink.clear()

    async def run(self, words: list[int], out_pause: float, seed: int, in_pause: float = 0.0) -> int:
        """Stream every word; return the cycles from the first accept to the last result."""
        for driver, prob, salt in ((self.sink, out_pause, 0), (self.source, in_pause, 1)):
            driver.set_pause_generator(random_pauses(prob, seed + salt) if prob > 0 else None)
            if prob <= 0:
                driver.pause = False  # a removed generator leaves its last value behind
        start = self.cycle
        for w in words:
            await self.source.send(AxiStreamFrame([w]))
        # a watchdog, not a measurement: generous for the slowest (most folded) stage of the design
        limit = start + int(os.environ.get("TB_CYCLES_PER_SAMPLE", 20)) * len(words) + 2000
        while self.result_count < len(words) and self.cycle < limit:
            await RisingEdge(self.dut.clk)
        await ClockCycles(self.dut.clk, DRAIN_CYCLES)
        end = self.results[-1][2] if self.results else self.cycle
        return end - (self.accepted[0] if self.accepted else start) + 1


@cocotb.test()
async def pipeline_scenarios(dut):
    """Run every scenario of TB_SCENARIOS and record handshakes (checked in Python)."""
    inputs = np.load(os.environ["TB_VECTORS"])["inputs"]
    words = [int.from_bytes(row.tobytes(), "little") for row in inputs]
    out_dir = Path(os.environ["TB_OUT_DIR"])
    tb = PipelineTB(dut)
    for sc in json.loads(Path(os.environ["TB_SCENARIOS"]).read_text()):
        await tb.reset(sc["thresholds"], sc["exits_enable"], write=sc.get("write_thresholds", True))
        wall = time.perf_counter()
        cycles = await tb.run(words, float(sc["out_pause"]), int(sc.get("seed", 0)), float(sc.get("in_pause", 0.0)))
        wall = time.perf_counter() - wall
        res = np.array(tb.results, dtype=object).reshape(-1, 3)
        last = tb.accepted[-1] if tb.accepted else 0  # idle cycles after the last input are not the run's
        np.savez(out_dir / f"{sc['name']}.npz", accepted=np.array(tb.accepted, dtype=np.int64),
                 source_idle=np.array([c for c in tb.source_idle if c < last], dtype=np.int64),
                 words=np.array([str(w) for w in res[:, 0]]), first_valid=res[:, 1].astype(np.int64),
                 handshake=res[:, 2].astype(np.int64))
        (out_dir / f"{sc['name']}.json").write_text(json.dumps({"cycles": cycles, "wall_seconds": wall}))
