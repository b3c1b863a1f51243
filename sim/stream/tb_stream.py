"""cocotb test of the generated stream harness (sim/stream/harness.py): reset, settings, run, wait.

``TB_SETTINGS``: JSON {input: value} held on the harness top's inputs for the whole run (stall and
idle rates, seeds, expected frame counts, the design's static inputs such as thresholds);
``TB_MAX_CYCLES``: watchdog; ``TB_RESULT``: JSON {cycles, wall_seconds, timed_out} written at the end.
Everything per beat happens in HDL; Python wakes up only when the run is over (or every 2**16 cycles
to check the watchdog).
"""
from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

POLL_CYCLES = 1 << 16
PERIOD_NS = 10


@cocotb.test()
async def stream_run(dut):
    """Play every input frame, wait for every expected output frame (checked in Python afterwards)."""
    settings = json.loads(os.environ.get("TB_SETTINGS", "{}"))
    max_cycles = int(os.environ.get("TB_MAX_CYCLES", 10**9))
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    dut.running.value = 0
    dut.flush.value = 0
    for name, value in settings.items():
        getattr(dut, name).value = int(value)
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    wall = time.perf_counter()
    dut.running.value = 1
    timed_out = False
    while not dut.done.value:
        # a Timer is one simulator callback; ClockCycles would wake Python on every edge
        await First(RisingEdge(dut.done), Timer(POLL_CYCLES * PERIOD_NS, unit="ns"))
        if int(dut.cycles.value) > max_cycles:
            timed_out = True
            break
    wall = time.perf_counter() - wall
    await ClockCycles(dut.clk, 64)             # anything after the last expected frame is a duplicate
    dut.flush.value = 1
    await ClockCycles(dut.clk, 2)
    with open(os.environ["TB_RESULT"], "w") as fh:
        json.dump({"cycles": int(dut.cycles.value), "wall_seconds": wall, "timed_out": timed_out}, fh)
