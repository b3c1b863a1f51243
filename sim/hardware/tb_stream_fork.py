"""cocotb testbench of hardware/fork/stream_fork.v through its wrapper sim/hardware/stream_fork_tb.v.

Env: ``TB_WIDTH``, ``TB_OUTPUTS`` (N), ``TB_FRAMES`` random frames of 1..``TB_MAX_LEN`` beats,
``TB_PAUSE`` idle probability of the source and back-pressure probability of each output (independent
patterns, bursts up to ``TB_LONGEST``), ``TB_SEED``. Records the unstalled run's cycles in TB_RESULT.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.axi import AxiStreamFrame

from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result


async def collect(sink, count: int) -> list[list[int]]:
    return [list((await sink.recv()).tdata) for _ in range(count)]


@cocotb.test()
async def fork_gives_every_output_every_beat_once_in_order(dut):
    """Each output, stalled on its own random pattern, receives the whole input stream once, in order."""
    seed, n = env_int("TB_SEED", 1), env_int("TB_OUTPUTS", 2)
    rng = random.Random(seed)
    frames = [[rng.getrandbits(env_int("TB_WIDTH", 8)) for _ in range(rng.randint(1, env_int("TB_MAX_LEN", 12)))]
              for _ in range(env_int("TB_FRAMES", 80))]
    bench = Bench(dut, limit=100 * n * sum(len(f) for f in frames) + 10000)
    pause, longest = env_float("TB_PAUSE", 0.3), env_int("TB_LONGEST", 4)
    source = bench.source("s_axis", pause, seed, longest, byte_lanes=1)
    # output i stalls more than output i - 1, so they drift apart
    sinks = [bench.sink(f"m{i}_axis", pause, seed + 10 + i, longest * (i + 1), byte_lanes=1) for i in range(n)]
    outs = [Handshakes(bench, f"m{i}_axis") for i in range(n)]
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    tasks = [cocotb.start_soon(collect(s, len(frames))) for s in sinks]  # all outputs drain concurrently
    for i, task in enumerate(tasks):
        got = await task
        bad = [k for k, (g, f) in enumerate(zip(got, frames)) if g != f]
        assert not bad, f"output {i}: {len(bad)} of {len(frames)} frames differ, first {bad[0]}"
    await ClockCycles(dut.clk, 10)
    total = sum(len(f) for f in frames)
    for i, (sink, out) in enumerate(zip(sinks, outs)):
        assert sink.empty() and len(out.cycles) == total, f"output {i} took {len(out.cycles)} beats of {total}"
    skew = max(abs(a - b) for a, b in zip(outs[0].cycles, outs[-1].cycles))
    assert n == 1 or skew > 0, "the outputs never drifted apart: the stalls were not independent"


@cocotb.test()
async def fork_moves_one_beat_per_cycle_when_all_outputs_are_ready(dut):
    """No stalls: each beat enters and leaves every output on consecutive cycles, one cycle later."""
    n = env_int("TB_OUTPUTS", 2)
    rng = random.Random(env_int("TB_SEED", 1))
    beats = [rng.getrandbits(env_int("TB_WIDTH", 8)) for _ in range(300)]
    bench = Bench(dut, limit=10 * len(beats) + 1000)
    source = bench.source("s_axis", byte_lanes=1)
    sinks = [bench.sink(f"m{i}_axis", byte_lanes=1) for i in range(n)]
    ins = Handshakes(bench, "s_axis")
    outs = [Handshakes(bench, f"m{i}_axis") for i in range(n)]
    await bench.reset()
    await source.send(AxiStreamFrame(beats))
    for i, sink in enumerate(sinks):
        assert list((await sink.recv()).tdata) == beats, f"output {i} differs without stalls"
    assert ins.back_to_back() and all(o.back_to_back() for o in outs), "a bubble without stalls"
    assert all(o.cycles == [c + 1 for c in ins.cycles] for o in outs), "a beat took more than one cycle"
    record_result("unstalled", {"beats": len(beats), "cycles": outs[-1].cycles[-1] - ins.cycles[0] + 1})


@cocotb.test()
async def fork_never_raises_tvalid_in_answer_to_tready(dut):
    """Each output's tvalid is the same whatever the tready inputs do within a cycle (held beat, flags)."""
    n = env_int("TB_OUTPUTS", 2)
    bench = Bench(dut, limit=1000)
    source = bench.source("s_axis", byte_lanes=1)
    readies = [getattr(dut, f"m{i}_axis_tready") for i in range(n)]
    valids = [getattr(dut, f"m{i}_axis_tvalid") for i in range(n)]
    for r in readies:
        r.value = 0
    await bench.reset()
    await source.send(AxiStreamFrame([1, 2, 3]))
    rng = random.Random(3)
    for _ in range(40):
        await RisingEdge(dut.clk)
        await Timer(1, "ns")  # registers settled
        seen = [int(v.value) for v in valids]
        for _ in range(4):  # toggle the readies within the cycle, before the next edge
            for r in readies:
                r.value = rng.getrandbits(1)
            await Timer(1, "ns")
            assert [int(v.value) for v in valids] == seen, "an output's tvalid followed a tready within the cycle"
