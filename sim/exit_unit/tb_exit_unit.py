"""cocotb testbench of a generated exit-decision unit.

Inputs (see sim/runner.py for the convention): ``TB_VECTORS`` -> .npz with
``logits`` (N, C) codes, ``thresholds`` (B,) register codes, ``bounds`` (B+1,)
row offsets of each threshold batch, expected ``exit``/``cls``/``confidence``;
``TB_CLASSES``, ``TB_WIDTH``, ``TB_CLASS_BITS``, ``TB_SERIAL``, ``TB_LATENCY``,
``TB_II``, ``TB_STALL`` (probability of an idle/back-pressure cycle).
``reset_*`` (exit, cls, confidence) are the expected decisions of the first
``len(reset_exit)`` rows at the unit's reset threshold (its THRESHOLD_INIT).
Outputs: ``TB_RESULT`` -> JSON {vectors_checked, mismatches, first_mismatch},
``TB_OUTPUT`` -> .npz of what the unit produced (exit, cls, confidence).
"""
from __future__ import annotations

import json
import logging
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def env_int(name: str, default: int = 0) -> int:
    return int(os.environ.get(name, default))


def random_pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


class ExitUnitTB:
    """Owns clock, reset, the stream drivers and the threshold register port."""

    def __init__(self, dut, stall: float, seed: int = 1):
        self.dut = dut
        self.classes = env_int("TB_CLASSES")
        self.width = env_int("TB_WIDTH")
        self.class_bits = env_int("TB_CLASS_BITS")
        self.serial = bool(env_int("TB_SERIAL"))
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
        for driver in (self.source, self.sink):
            driver.log.setLevel(logging.WARNING)  # per-frame INFO lines would dominate the run time
        if stall > 0:
            self.source.set_pause_generator(random_pauses(stall, seed))
            self.sink.set_pause_generator(random_pauses(stall, seed + 1))

    async def reset(self) -> None:
        self.dut.thr_we.value = 0
        self.dut.thr_data.value = 0
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def write_threshold(self, code: int) -> None:
        self.dut.thr_data.value = int(code)
        self.dut.thr_we.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.thr_we.value = 0

    def beats(self, row) -> list[int]:
        mask = (1 << self.width) - 1
        codes = [int(v) & mask for v in row]
        if self.serial:
            return codes
        word = 0
        for i, c in enumerate(codes):
            word |= c << (i * self.width)
        return [word]

    def unpack(self, word: int) -> tuple[int, int, int]:
        return word & 1, (word >> 1) & ((1 << self.class_bits) - 1), word >> (1 + self.class_bits)

    async def run_batch(self, logits: np.ndarray) -> list[tuple[int, int, int]]:
        for row in logits:
            self.source.send_nowait(AxiStreamFrame(tdata=self.beats(row)))
        got = []
        for _ in range(len(logits)):
            frame = await self.sink.recv()
            got.extend(self.unpack(w) for w in frame.tdata)
        return got


def load_vectors():
    data = np.load(os.environ["TB_VECTORS"])
    return {k: data[k] for k in data.files}


@cocotb.test()
async def decisions_match_reference_under_stalls(dut):
    """Every decision equals the reference model; none lost, duplicated or reordered."""
    v = load_vectors()
    tb = ExitUnitTB(dut, stall=float(os.environ.get("TB_STALL", "0.3")), seed=env_int("TB_SEED", 1))
    await tb.reset()
    n = len(v["logits"])
    outputs = []
    for b, thr in enumerate(v["thresholds"]):
        lo, hi = int(v["bounds"][b]), int(v["bounds"][b + 1])
        await tb.write_threshold(int(thr))
        timeout = 200 + (hi - lo) * 20 * max(1, env_int("TB_II", 1))
        outputs += await with_timeout(tb.run_batch(v["logits"][lo:hi]), timeout * 10, "ns")
    await ClockCycles(dut.clk, 4 * env_int("TB_LATENCY", 8) + 20)
    extra = tb.sink.count()
    got = np.array(outputs, dtype=np.int64).reshape(-1, 3)
    expected = np.stack([v["exit"].astype(np.int64), v["cls"], v["confidence"]], axis=1)
    bad = np.nonzero((got != expected).any(axis=1))[0]
    result = {"vectors_checked": int(len(got)), "mismatches": int(len(bad)), "extra_outputs": int(extra),
              "first_mismatch": None}
    if len(bad):
        i = int(bad[0])
        result["first_mismatch"] = {"row": i, "logits": v["logits"][i].tolist(), "got": got[i].tolist(),
                                    "expected": expected[i].tolist()}
    if "TB_OUTPUT" in os.environ:
        np.savez(os.environ["TB_OUTPUT"], exit=got[:, 0].astype(bool), cls=got[:, 1], confidence=got[:, 2])
    if "TB_RESULT" in os.environ:
        with open(os.environ["TB_RESULT"], "w") as f:
            json.dump(result, f)
    assert len(got) == n, f"{n} samples in, {len(got)} decisions out"
    assert extra == 0, f"{extra} decisions appeared after the last sample"
    assert not len(bad), f"{len(bad)} decisions differ from the reference; first: {result['first_mismatch']}"


@cocotb.test()
async def latency_and_initiation_interval_are_as_stated(dut):
    """Without stalls, the first decision appears LATENCY cycles after the first
    input handshake and then one every II cycles."""
    v = load_vectors()
    latency, ii = env_int("TB_LATENCY"), env_int("TB_II", 1)
    tb = ExitUnitTB(dut, stall=0.0)
    await tb.reset()
    await tb.write_threshold(int(v["thresholds"][0]))
    count = min(32, len(v["logits"]))
    for row in v["logits"][:count]:
        tb.source.send_nowait(AxiStreamFrame(tdata=tb.beats(row)))
    cycle, first_in, out_cycles = 0, None, []
    while len(out_cycles) < count and cycle < 100 * (count * ii + latency):
        await RisingEdge(dut.clk)
        cycle += 1
        if first_in is None and dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
            first_in = cycle
        if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
            out_cycles.append(cycle)
    assert first_in is not None and len(out_cycles) == count, "unit did not produce every decision"
    # serial: the sample's last beat arrives (C - 1) cycles after its first
    measured = out_cycles[0] - first_in - (tb.classes - 1 if tb.serial else 0)
    assert measured == latency, f"latency {measured} cycles, stated {latency}"
    gaps = set(np.diff(out_cycles).tolist())
    assert gaps == {ii}, f"output spacing {sorted(gaps)} cycles, stated II {ii}"


@cocotb.test()
async def after_reset_without_a_write_the_unit_uses_threshold_init(dut):
    """Reset, no threshold write: the decisions are those at the unit's THRESHOLD_INIT."""
    v = load_vectors()
    n = len(v["reset_exit"])
    tb = ExitUnitTB(dut, stall=float(os.environ.get("TB_STALL", "0.3")), seed=env_int("TB_SEED", 1) + 7)
    await tb.reset()
    timeout = 200 + n * 20 * max(1, env_int("TB_II", 1))
    got = np.array(await with_timeout(tb.run_batch(v["logits"][:n]), timeout * 10, "ns"), dtype=np.int64)
    expected = np.stack([v["reset_exit"].astype(np.int64), v["reset_cls"], v["reset_confidence"]], axis=1)
    bad = np.nonzero((got.reshape(-1, 3) != expected).any(axis=1))[0]
    assert not len(bad), (f"{len(bad)} of {n} decisions after reset differ from THRESHOLD_INIT's; first: row "
                          f"{int(bad[0])} got {got[bad[0]].tolist()}, expected {expected[bad[0]].tolist()}")
