"""What the primitive testbenches share: a bench that owns the clock, the reset and a cycle counter,
cocotbext-axi sources and sinks with random pause generators, and a handshake recorder.

Configuration comes from ``TB_*`` variables (sim/runner.py convention); ``TB_RESULT`` names a JSON file
the testbenches add their measurements to, one section per cocotb test.
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def pauses(probability: float, seed: int, longest: int = 1):
    """Pause pattern: each cycle starts a pause with ``probability``, lasting 1..longest cycles."""
    rng = random.Random(seed)
    while True:
        if rng.random() < probability:
            for _ in range(rng.randint(1, longest)):
                yield True
        else:
            yield False


class Handshakes:
    """Every beat that moved on one valid/ready bus: cycle number, tdata, tlast, tkeep (lists in beat order;
    tlast 1 and tkeep -1 on a bus without them)."""

    def __init__(self, bench: "Bench", prefix: str):
        dut = bench.dut
        self.valid = getattr(dut, f"{prefix}_tvalid")
        self.ready = getattr(dut, f"{prefix}_tready")
        self.data = getattr(dut, f"{prefix}_tdata")
        self.last = getattr(dut, f"{prefix}_tlast", None)
        self.keep = getattr(dut, f"{prefix}_tkeep", None)
        self.cycles: list[int] = []
        self.beats: list[int] = []
        self.lasts: list[int] = []
        self.keeps: list[int] = []
        self.bench = bench
        cocotb.start_soon(self._watch())

    async def _watch(self) -> None:
        while True:
            await RisingEdge(self.bench.dut.clk)
            if self.valid.value == 1 and self.ready.value == 1:
                self.cycles.append(self.bench.cycles)
                self.beats.append(int(self.data.value))
                self.lasts.append(int(self.last.value) if self.last is not None else 1)
                self.keeps.append(int(self.keep.value) if self.keep is not None else -1)

    def to_dict(self) -> dict:
        return {"cycles": self.cycles, "data": self.beats, "last": self.lasts, "keep": self.keeps}

    def back_to_back(self) -> bool:
        """Whether the beats moved on consecutive cycles, first to last."""
        return not self.cycles or self.cycles[-1] - self.cycles[0] + 1 == len(self.cycles)


class Bench:
    """Clock, synchronous reset, cycle counter; makes sources/sinks on named buses. A test that runs past
    ``limit`` cycles fails (a lost beat would otherwise leave a receive waiting for ever)."""

    def __init__(self, dut, limit: int = 10**6):
        self.dut = dut
        self.cycles = 0
        self.limit = limit
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        cocotb.start_soon(self._count())

    async def _count(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            self.cycles += 1
            if self.cycles > self.limit:
                raise AssertionError(f"the test ran past {self.limit} cycles: a beat or a frame never came")

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 1)

    def source(self, prefix: str, pause: float = 0.0, seed: int = 0, longest: int = 1, **kw) -> AxiStreamSource:
        src = AxiStreamSource(AxiStreamBus.from_prefix(self.dut, prefix), self.dut.clk, self.dut.rst, **kw)
        if pause > 0:
            src.set_pause_generator(pauses(pause, seed, longest))
        return src

    def sink(self, prefix: str, pause: float = 0.0, seed: int = 0, longest: int = 1, **kw) -> AxiStreamSink:
        snk = AxiStreamSink(AxiStreamBus.from_prefix(self.dut, prefix), self.dut.clk, self.dut.rst, **kw)
        if pause > 0:
            snk.set_pause_generator(pauses(pause, seed, longest))
        return snk

    async def wait_until(self, condition, limit: int, what: str) -> None:
        """Wait for ``condition()`` at most ``limit`` cycles; fail naming ``what`` on timeout."""
        for _ in range(limit):
            if condition():
                return
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"timed out after {limit} cycles waiting for {what}")


def record_result(test: str, result: dict) -> None:
    """Add ``result`` under ``test`` to the JSON file named by TB_RESULT (one section per cocotb test)."""
    path = os.environ.get("TB_RESULT")
    if not path:
        return
    sections = json.loads(open(path).read()) if os.path.isfile(path) else {}
    sections[test] = result
    with open(path, "w") as fh:
        json.dump(sections, fh)
