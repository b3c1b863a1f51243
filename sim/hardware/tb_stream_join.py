"""cocotb testbench of hardware/join/stream_join.v: two random code streams joined under random stalls.

Env: ``TB_JOIN`` (JSON: op, the two input formats and the output format as [width, frac, signed],
channels, pixels), ``TB_FRAMES`` frames of 1..``TB_MAX_LEN`` beats, ``TB_PAUSE`` idle probability of
each source and back-pressure probability of the sink (independent patterns, bursts up to
``TB_LONGEST``), ``TB_SEED``. The expected beats are numpy's: the inputs' real values added or
concatenated, then read as codes of the output format (which must hold them exactly).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from frontend.fixedpoint import FixedFormat
from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result


def config():
    cfg = json.loads(os.environ["TB_JOIN"])
    fa, fb, out = (FixedFormat(w, f, bool(s)) for w, f, s in cfg["formats"])
    return cfg["op"], fa, fb, out, cfg["channels"], cfg["pixels"]


def random_codes(rng, fmt: FixedFormat, n: int) -> np.ndarray:
    """Codes over the whole range, extremes included (where sign extension and carries go wrong)."""
    codes = rng.integers(fmt.min_code, fmt.max_code + 1, size=n)
    codes[rng.random(n) < 0.2] = fmt.min_code
    codes[rng.random(n) < 0.2] = fmt.max_code
    return codes


def pack(codes: np.ndarray, width: int) -> int:
    word = 0
    for i, c in enumerate(codes):
        word |= (int(c) & ((1 << width) - 1)) << (i * width)
    return word


def expected_beat(op, fa, fb, out, a: np.ndarray, b: np.ndarray, pixels: int) -> np.ndarray:
    ra, rb = fa.to_real(a).reshape(pixels, -1), fb.to_real(b).reshape(pixels, -1)
    joined = ra + rb if op == "add" else np.concatenate([ra, rb], axis=1)
    return out.to_codes(joined.ravel())


@cocotb.test()
async def join_matches_numpy_on_every_beat_under_stalls(dut):
    """Random frames on both inputs, each input and the output stalled on its own pattern: every output
    beat is numpy's join of the two input beats of the same index, tlast kept, nothing lost."""
    op, fa, fb, out, (ca, cb), pixels = config()
    seed = env_int("TB_SEED", 1)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, env_int("TB_MAX_LEN", 10) + 1, size=env_int("TB_FRAMES", 40))
    beats = int(lengths.sum())
    a = [random_codes(rng, fa, pixels * ca) for _ in range(beats)]
    b = [random_codes(rng, fb, pixels * cb) for _ in range(beats)]
    out_c = ca if op == "add" else ca + cb
    want = [pack(expected_beat(op, fa, fb, out, x, y, pixels), out.width) for x, y in zip(a, b)]
    bench = Bench(dut, limit=200 * beats + 10000)
    pause, longest = env_float("TB_PAUSE", 0.3), env_int("TB_LONGEST", 4)
    s0 = bench.source("s0_axis", pause, seed, longest, byte_lanes=1)
    s1 = bench.source("s1_axis", pause, seed + 1, 2 * longest, byte_lanes=1)
    sink = bench.sink("m_axis", pause, seed + 2, longest, byte_lanes=1)
    outs = Handshakes(bench, "m_axis")
    await bench.reset()
    start = 0
    for n in lengths:
        await s0.send(AxiStreamFrame([pack(x, fa.width) for x in a[start:start + n]]))
        await s1.send(AxiStreamFrame([pack(y, fb.width) for y in b[start:start + n]]))
        start += n
    got = []
    for n in lengths:
        frame = list((await sink.recv()).tdata)
        assert len(frame) == n, f"a frame of {n} beats came out as {len(frame)} (tlast misplaced)"
        got += frame
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} of {beats} beats differ, first beat {bad[0]}: {got[bad[0]]:#x} != {want[bad[0]]:#x}"
    await ClockCycles(dut.clk, 10)
    assert sink.empty() and len(outs.cycles) == beats, f"{len(outs.cycles)} beats left, {beats} expected"
    assert len(dut.m_axis_tdata) == pixels * out_c * out.width, "m_axis_tdata is not P x channels x OUT_W bits"


@cocotb.test()
async def join_moves_one_beat_per_cycle_when_unstalled(dut):
    """No stalls: beats enter and leave back to back, one cycle later."""
    op, fa, fb, out, (ca, cb), pixels = config()
    rng = np.random.default_rng(env_int("TB_SEED", 1) + 5)
    n = 200
    a = [pack(random_codes(rng, fa, pixels * ca), fa.width) for _ in range(n)]
    b = [pack(random_codes(rng, fb, pixels * cb), fb.width) for _ in range(n)]
    bench = Bench(dut, limit=20 * n + 1000)
    s0, s1 = bench.source("s0_axis", byte_lanes=1), bench.source("s1_axis", byte_lanes=1)
    sink = bench.sink("m_axis", byte_lanes=1)
    ins, outs = Handshakes(bench, "s0_axis"), Handshakes(bench, "m_axis")
    await bench.reset()
    await s0.send(AxiStreamFrame(a))
    await s1.send(AxiStreamFrame(b))
    assert len((await sink.recv()).tdata) == n
    assert ins.back_to_back() and outs.back_to_back(), "a bubble without stalls"
    assert outs.cycles == [c + 1 for c in ins.cycles], "a beat took other than one cycle"
    record_result("unstalled", {"beats": n, "cycles": outs.cycles[-1] - ins.cycles[0] + 1})
