"""cond_buffer.v: exactly the kept frames, in order and whole, under random stalls and decision timing;
1 beat/cycle when unstalled; drops free their frame at once; the RAM maps to block RAM in Yosys."""
from __future__ import annotations

import pytest

from hardware.cond_buffer import CondBuffer
from hardware.primitive import PrimitiveParameterError
from sim.hardware.run import run_primitive_tb


# cocotb names its parametrized tests <test>/<arg>=<value>
RANDOM_TESTS = ",".join(f"cond_buffer_passes_exactly_the_kept_frames/late={late}" for late in (0.0, 0.5, 1.0))


def run(tmp_path, buf: CondBuffer, simulator: str = "icarus", testcase: str | None = None, **env) -> dict:
    env = {"TB_WIDTH": buf.width, "TB_FRAME_BEATS": buf.frame_beats, "TB_DEPTH": buf.depth, **env}
    return run_primitive_tb(buf, "tb_cond_buffer", tmp_path, simulator=simulator, testcase=testcase,
                            env={f"TB_{k.upper()}" if not k.startswith("TB_") else k: v for k, v in env.items()})


def assert_full_rate(result: dict, kept_all: bool = True) -> None:
    for name, r in result.items():
        if not name.startswith("unstalled"):
            continue
        assert r["in_cycles"] == r["beats_in"], f"{name}: {r['beats_in']} beats took {r['in_cycles']} cycles to enter"
        if name == "unstalled_keep1.0" and kept_all:
            assert r["out_cycles"] == r["beats_out"], f"{name}: {r['beats_out']} beats left in {r['out_cycles']} cycles"


@pytest.mark.parametrize("frame_beats, depth", [(1, 4), (7, 16), (7, 8), (144, 256)])
def test_cond_buffer_passes_kept_frames_at_one_beat_per_cycle(tmp_path, frame_beats, depth):
    buf = CondBuffer(5, frame_beats, depth)
    frames = max(4, 400 // frame_beats)
    result = run(tmp_path, buf, frames=frames, seed=frame_beats + depth)
    assert result["random_late0.5"]["frames"] == frames
    if depth >= CondBuffer.depth_for(frame_beats):
        assert_full_rate(result)
        if frame_beats == 1:  # one frame, and one decision, per cycle
            r = result["unstalled_keep1.0"]
            assert r["dec_cycles"] == r["decisions"] == r["beats_out"]


def test_cond_buffer_on_verilator_at_lenet_size(tmp_path):
    """The size of a LeNet stage boundary (12x12 pixels per frame, 24-bit beats) on Verilator."""
    buf = CondBuffer(24, 144, 512)
    result = run(tmp_path, buf, simulator="verilator", frames=16, pause=0.2, seed=11)
    assert_full_rate(result)
    assert max(r["peak_frames_held"] for k, r in result.items() if k.startswith("random")) >= 2


@pytest.mark.parametrize("frame_beats, latency, full_rate", [(14, 1, True), (15, 1, False), (7, 8, True),
                                                             (7, 9, False)])
def test_cond_buffer_depth_for_is_the_smallest_depth_at_full_rate(tmp_path, frame_beats, latency, full_rate):
    """DEPTH = 16 against frames and decision latencies on both sides of depth_for's bound."""
    buf = CondBuffer(4, frame_beats, 16)
    assert (CondBuffer.depth_for(frame_beats, latency) <= 16) == full_rate
    r = run(tmp_path, buf, testcase="cond_buffer_unstalled_timing/keep=1.0", frames=20, dec_latency=latency,
            seed=latency)["unstalled_keep1.0"]
    assert (r["in_cycles"] == r["beats_in"] and r["out_cycles"] == r["beats_out"]) == full_rate, r


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("frame_beats, depth", [(1, 2), (1, 16), (3, 4), (7, 32), (144, 256), (144, 1024)])
def test_cond_buffer_sweep(tmp_path, frame_beats, depth, seed):
    buf = CondBuffer(6, frame_beats, depth)
    run(tmp_path, buf, testcase=RANDOM_TESTS, frames=max(6, 600 // frame_beats),
        pause=0.1 + 0.3 * seed, longest=2 + 6 * seed, keep=0.3 + 0.2 * seed, seed=seed)


@pytest.mark.parametrize("frame_beats, depth", [(4, 32), (3, 64)])
def test_cond_buffer_decides_every_frame_it_holds_however_many_are_kept(tmp_path, frame_beats, depth):
    run(tmp_path, CondBuffer(8, frame_beats, depth), testcase="cond_buffer_takes_every_decision_while_kept_frames_wait")


def test_cond_buffer_maps_a_lenet_size_buffer_to_block_ram(tmp_path):
    from flows.yosys import synth_xilinx

    buf = CondBuffer(24, 144, 512)
    res = synth_xilinx(buf.files, buf.top, params=buf.parameters, work_dir=tmp_path)
    assert res.ramb18 + res.ramb36 >= 1, res
    # the only LUTRAM is the queue of kept frames' start addresses (a few LUTs), not the frame storage
    lutram = {m["instance"]: m["lutram_luts"] for m in res.memories if m["lutram_luts"]}
    assert set(lutram) <= {"kq_mem"} and res.lut_as_memory <= 8, res
    assert res.ff < 120, f"{res.ff} FFs: the frame storage did not go to block RAM"


def test_cond_buffer_refuses_a_depth_below_one_frame():
    with pytest.raises(PrimitiveParameterError, match=r"DEPTH=128 is below FRAME_BEATS=144.*deadlock.*DEPTH=256"):
        CondBuffer(24, 144, 128)
