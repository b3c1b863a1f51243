"""cocotb testbench of hardware/global_pool/stream_global_sum.v: the per-channel mean of random frames.

Env: ``TB_GAP`` (JSON: input format [width, frac, signed], channels, beats, pixels), ``TB_FRAMES``,
``TB_PAUSE`` idle probability of the source and back-pressure probability of the sink (bursts up to
``TB_LONGEST``), ``TB_SEED``. Expected: numpy's mean of each channel's real values over the frame,
read as a code of the IR's mean format (frontend.ir.mean_formats), which holds it exactly.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from frontend.fixedpoint import FixedFormat
from frontend.ir import mean_formats
from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result
from sim.hardware.tb_stream_join import pack, random_codes


@cocotb.test()
async def global_sum_gives_each_frames_exact_mean_under_stalls(dut):
    cfg = json.loads(os.environ["TB_GAP"])
    fmt = FixedFormat(*cfg["format"][:2], bool(cfg["format"][2]))
    channels, beats, pixels = cfg["channels"], cfg["beats"], cfg["pixels"]
    _, out = mean_formats(None, fmt, beats * pixels)
    seed = env_int("TB_SEED", 1)
    rng = np.random.default_rng(seed)
    frames = [random_codes(rng, fmt, beats * pixels * channels) for _ in range(env_int("TB_FRAMES", 20))]
    want = [pack(out.to_codes(fmt.to_real(f).reshape(-1, channels).mean(axis=0)), out.width) for f in frames]
    bench = Bench(dut, limit=100 * beats * len(frames) + 10000)
    pause, longest = env_float("TB_PAUSE", 0.3), env_int("TB_LONGEST", 4)
    source = bench.source("s_axis", pause, seed, longest, byte_lanes=1)
    # the sink stalls in long bursts, so frames arrive while a result waits
    sink = bench.sink("m_axis", pause, seed + 1, longest * beats, byte_lanes=1)
    ins, outs = Handshakes(bench, "s_axis"), Handshakes(bench, "m_axis")
    await bench.reset()
    per_beat = pixels * channels
    for f in frames:
        await source.send(AxiStreamFrame([pack(f[k * per_beat:(k + 1) * per_beat], fmt.width)
                                          for k in range(beats)]))
    got = [list((await sink.recv()).tdata) for _ in frames]
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != [w]]
    assert not bad, f"{len(bad)} of {len(frames)} frames differ, first {bad[0]}: {got[bad[0]]} != {[want[bad[0]]]}"
    await ClockCycles(dut.clk, 10)
    assert sink.empty() and len(outs.cycles) == len(frames)
    record_result("stalled", {"beats_in": len(ins.cycles)})


@cocotb.test()
async def global_sum_takes_one_beat_per_cycle_unstalled(dut):
    cfg = json.loads(os.environ["TB_GAP"])
    fmt = FixedFormat(*cfg["format"][:2], bool(cfg["format"][2]))
    beats, per_beat = cfg["beats"], cfg["pixels"] * cfg["channels"]
    rng = np.random.default_rng(3)
    n = 8
    data = [pack(random_codes(rng, fmt, per_beat), fmt.width) for _ in range(n * beats)]
    bench = Bench(dut, limit=20 * len(data) + 1000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis", byte_lanes=1)
    ins = Handshakes(bench, "s_axis")
    await bench.reset()
    await source.send(AxiStreamFrame(data))
    for _ in range(n):
        await sink.recv()
    assert ins.back_to_back(), "the input paused without stalls"
    record_result("unstalled", {"beats": len(data), "cycles": ins.cycles[-1] - ins.cycles[0] + 1})
