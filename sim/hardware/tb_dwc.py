"""cocotb testbenches of the width converters hardware/dwc/stream_gather.v and stream_split.v, alone
(top stream_gather / stream_split) or chained both ways (top dwc_roundtrip_tb, sim/hardware/dwc_roundtrip_tb.v).

Env: ``TB_VECTORS`` -> .npz ``pieces`` (W-bit codes, all frames back to back) and ``lengths`` (pieces
per frame); ``TB_PIECES`` (N); ``TB_PAUSE`` idle / back-pressure probability (bursts up to
``TB_LONGEST``); ``TB_SEED``. Records in TB_RESULT every beat that moved on each bus (cycle, tdata,
tlast, tkeep), which the pytest side checks against numpy.
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result


def input_frames() -> list[list[int]]:
    data = np.load(os.environ["TB_VECTORS"])
    bounds = np.cumsum(data["lengths"])[:-1]
    return [[int(p) for p in frame] for frame in np.split(data["pieces"], bounds)]


def stalls(seed_offset: int) -> dict:
    return {"pause": env_float("TB_PAUSE", 0.3), "seed": env_int("TB_SEED", 1) + seed_offset,
            "longest": env_int("TB_LONGEST", 4)}


async def stream_through(dut, source_prefix: str, sink_prefix: str, narrow_in: bool, name: str) -> None:
    """Send the frames (as W-bit pieces) through, expect the same pieces back frame by frame; record both buses."""
    frames = input_frames()
    bench = Bench(dut, limit=100 * sum(len(f) for f in frames) + 10000)
    # on a bus with tkeep cocotbext-axi takes one lane per W-bit piece; on a narrow bus one beat per piece
    source = bench.source(source_prefix, **stalls(0), **({"byte_lanes": 1} if narrow_in else {}))
    wide_out = hasattr(dut, f"{sink_prefix}_tkeep")
    sink = bench.sink(sink_prefix, **stalls(1), **({} if wide_out else {"byte_lanes": 1}))
    ins, outs = Handshakes(bench, source_prefix), Handshakes(bench, sink_prefix)
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    for i, want in enumerate(frames):
        got = await sink.recv()
        assert list(got.tdata) == want, f"frame {i}: pieces {list(got.tdata)[:6]}... where {want[:6]}... were sent"
    await ClockCycles(dut.clk, 10)
    assert sink.empty(), "beats left after the last frame"
    record_result(name, {"in": ins.to_dict(), "out": outs.to_dict(),
                         "error": int(dut.error.value) if hasattr(dut, "error") else None})


@cocotb.test(skip=os.environ.get("TB_TOP") == "dwc_roundtrip_tb")
async def converter_keeps_every_piece_in_order(dut):
    """The converter alone under random stalls: the pieces of every frame come out in order, framed as sent."""
    gather = hasattr(dut, "m_axis_tkeep")
    await stream_through(dut, "s_axis", "m_axis", narrow_in=gather, name="alone")


@cocotb.test(skip=os.environ.get("TB_TOP") != "dwc_roundtrip_tb")
async def split_undoes_gather(dut):
    """Narrow frames through gather then split come back unchanged, short last beats included."""
    await stream_through(dut, "n_axis", "nout_axis", narrow_in=True, name="gather_split")


@cocotb.test(skip=os.environ.get("TB_TOP") != "dwc_roundtrip_tb")
async def gather_undoes_split(dut):
    """Wide frames through split then gather come back unchanged, tkeep of short last beats included."""
    await stream_through(dut, "w_axis", "wout_axis", narrow_in=False, name="split_gather")


@cocotb.test(skip=os.environ.get("TB_TOP") != "stream_gather")
async def gather_takes_one_beat_per_cycle(dut):
    """No stalls: the gather takes a beat every cycle and gives a wide beat every N cycles."""
    n = env_int("TB_PIECES", 4)
    frames = [list(range(1, 8 * n + 1))] * 6
    bench = Bench(dut, limit=100 * n + 10000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis")
    ins, outs = Handshakes(bench, "s_axis"), Handshakes(bench, "m_axis")
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    for frame in frames:
        assert list((await sink.recv()).tdata) == frame
    assert ins.back_to_back(), "the gather missed an input cycle without stalls"
    assert np.all(np.diff(outs.cycles) == n), "wide beats not every N cycles"


@cocotb.test(skip=os.environ.get("TB_TOP") != "stream_split")
async def split_gives_one_beat_per_cycle(dut):
    """No stalls: the split gives a piece every cycle and takes a wide beat every N cycles."""
    n = env_int("TB_PIECES", 4)
    frames = [list(range(1, 8 * n + 1))] * 6
    bench = Bench(dut, limit=100 * n + 10000)
    source, sink = bench.source("s_axis"), bench.sink("m_axis", byte_lanes=1)
    outs = Handshakes(bench, "m_axis")
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    for frame in frames:
        assert list((await sink.recv()).tdata) == frame
    assert outs.back_to_back(), "the split missed an output cycle without stalls"


@cocotb.test(skip=os.environ.get("TB_TOP") != "stream_gather" or os.environ.get("TB_ALIGNED") != "1")
async def aligned_gather_flags_a_tlast_inside_a_group(dut):
    """ALIGNED = 1: whole groups leave error low; a frame one piece short of a group sets it, and it stays."""
    n = env_int("TB_PIECES", 4)
    bench = Bench(dut, limit=100 * n + 10000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis")
    await bench.reset()
    await source.send(AxiStreamFrame(list(range(2 * n))))
    assert list((await sink.recv()).tdata) == list(range(2 * n))
    assert dut.error.value == 0, "error set by whole groups"
    await source.send(AxiStreamFrame(list(range(n - 1))))
    await ClockCycles(dut.clk, 2 * n)
    assert dut.error.value == 1, "a tlast inside a group did not set error"
    await source.send(AxiStreamFrame(list(range(n + 1))))  # completes the open group, then one more piece
    await ClockCycles(dut.clk, 3 * n)
    assert dut.error.value == 1, "error did not stay set"
