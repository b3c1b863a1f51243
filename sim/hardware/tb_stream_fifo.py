"""cocotb testbench of hardware/fifo/stream_fifo.v.

Env: ``TB_WIDTH``, ``TB_DEPTH`` (the Verilog parameters), ``TB_FRAMES`` (random frames of 1..``TB_MAX_LEN``
beats), ``TB_PAUSE`` (idle/back-pressure probability on both sides, bursts up to ``TB_LONGEST`` cycles),
``TB_SEED``. Records in TB_RESULT: cycles of the unstalled run, beats held when the output stalls.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result

LATENCY = 3  # a beat written at cycle t is on m_axis at t + 3 (stream_fifo.v header)


def random_frames(rng: random.Random, width: int, count: int, longest: int) -> list[list[int]]:
    return [[rng.getrandbits(width) for _ in range(rng.randint(1, longest))] for _ in range(count)]


@cocotb.test()
async def fifo_passes_every_beat_once_in_order(dut):
    """Random frames under random idle and back-pressure cycles come out whole, in order, tlast kept."""
    seed = env_int("TB_SEED", 1)
    rng = random.Random(seed)
    frames = random_frames(rng, env_int("TB_WIDTH", 8), env_int("TB_FRAMES", 100), env_int("TB_MAX_LEN", 20))
    bench = Bench(dut, limit=100 * sum(len(f) for f in frames) + 10000)
    pause, longest = env_float("TB_PAUSE", 0.3), env_int("TB_LONGEST", 4)
    source = bench.source("s_axis", pause, seed, longest, byte_lanes=1)
    sink = bench.sink("m_axis", pause, seed + 1, longest * 2, byte_lanes=1)
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    got = [list((await sink.recv()).tdata) for _ in frames]
    bad = [i for i, (g, f) in enumerate(zip(got, frames)) if g != f]
    assert not bad, f"{len(bad)} of {len(frames)} frames differ, first {bad[0]}: {got[bad[0]]} != {frames[bad[0]]}"
    await ClockCycles(dut.clk, 10)
    assert sink.empty() and dut.m_axis_tvalid.value == 0, "beats left the FIFO after the last frame"


@cocotb.test()
async def fifo_moves_one_beat_per_cycle_unstalled(dut):
    """With no idle or back-pressure cycles, every beat enters and leaves on consecutive cycles."""
    width, depth = env_int("TB_WIDTH", 8), env_int("TB_DEPTH", 16)
    rng = random.Random(env_int("TB_SEED", 1))
    beats = [rng.getrandbits(width) for _ in range(4 * depth + 50)]
    bench = Bench(dut, limit=10 * len(beats) + 1000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis", byte_lanes=1)
    ins, outs = Handshakes(bench, "s_axis"), Handshakes(bench, "m_axis")
    await bench.reset()
    await source.send(AxiStreamFrame(beats))
    got = list((await sink.recv()).tdata)
    assert got == beats, "beats differ without stalls"
    assert ins.back_to_back() and outs.back_to_back(), "a bubble on s_axis or m_axis without stalls"
    cycles = outs.cycles[-1] - ins.cycles[0] + 1
    assert cycles == len(beats) + LATENCY, f"{len(beats)} beats took {cycles} cycles"
    record_result("unstalled", {"beats": len(beats), "cycles": cycles})


@cocotb.test()
async def fifo_holds_depth_plus_two_beats_then_stops_taking(dut):
    """With m_axis stalled, s_axis_tready falls after DEPTH + 2 beats; releasing it drains all, in order."""
    width, depth = env_int("TB_WIDTH", 8), env_int("TB_DEPTH", 16)
    rng = random.Random(env_int("TB_SEED", 1) + 7)
    beats = [rng.getrandbits(width) for _ in range(2 * depth + 8)]
    bench = Bench(dut, limit=10 * len(beats) + 1000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis", byte_lanes=1)
    ins = Handshakes(bench, "s_axis")
    sink.pause = True
    await bench.reset()
    await source.send(AxiStreamFrame(beats))
    await ClockCycles(dut.clk, 2 * depth + 20)
    held = len(ins.cycles)
    assert held == depth + 2, f"FIFO of DEPTH {depth} took {held} beats with its output stalled"
    assert dut.s_axis_tready.value == 0, "s_axis_tready high while full"
    sink.pause = False
    got = list((await sink.recv()).tdata)
    assert got == beats, "beats differ after the stall"
    record_result("full", {"held": held})
