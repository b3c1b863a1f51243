"""stream_join.v: Add and Concatenate of two streams, exact against numpy under independent stalls."""
from __future__ import annotations

import json

import pytest

from frontend.fixedpoint import FixedFormat
from hardware.join import StreamJoin
from hardware.primitive import PrimitiveParameterError
from sim.hardware.run import run_primitive_tb

# (op, formats a, b, out, channels, pixels): different fraction bits, signed + unsigned, the IR's formats
CASES = {
    "add_mixed": ("add", FixedFormat(6, 4, False), FixedFormat(7, 3, True), FixedFormat(9, 4, True), (3, 3), 1),
    "add_equal": ("add", FixedFormat(5, 2, False), FixedFormat(5, 2, False), FixedFormat(6, 2, False), (4, 4), 2),
    "concat": ("concat", FixedFormat(4, 2, False), FixedFormat(6, 3, True), FixedFormat(6, 3, True), (2, 3), 2),
}


def _run(tmp_path, case: str, testcase: str | None = None, **env):
    op, fa, fb, out, channels, pixels = CASES[case]
    join = StreamJoin(op, (fa, fb), channels, out, pixels)
    cfg = {"op": op, "formats": [[f.width, f.frac, int(f.signed)] for f in (fa, fb, out)],
           "channels": list(channels), "pixels": pixels}
    return run_primitive_tb(join, "tb_stream_join", tmp_path, env={"TB_JOIN": json.dumps(cfg), **env},
                            testcase=testcase)


@pytest.mark.parametrize("case", sorted(CASES))
def test_stream_join_is_exact_under_stalls_and_moves_one_beat_per_cycle(tmp_path, case):
    result = _run(tmp_path, case, TB_FRAMES=30, TB_SEED=len(case))
    assert result["unstalled"]["cycles"] == result["unstalled"]["beats"] + StreamJoin.LATENCY


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("pause", [0.1, 0.7])
def test_stream_join_under_many_stall_patterns(tmp_path, seed, pause):
    _run(tmp_path, "add_mixed", TB_FRAMES=200, TB_PAUSE=pause, TB_LONGEST=10, TB_SEED=seed,
         testcase="join_matches_numpy_on_every_beat_under_stalls")


def test_stream_join_refuses_an_output_format_that_cannot_hold_the_sum():
    with pytest.raises(PrimitiveParameterError, match=r"ufixed<3,2> cannot hold \[0.0, 7.0\].*widen the output format"):
        StreamJoin("add", (FixedFormat(3, 1, False), FixedFormat(3, 1, False)), (2, 2), FixedFormat(3, 1, False))
    with pytest.raises(PrimitiveParameterError, match="more fraction bits than the output"):
        StreamJoin("concat", (FixedFormat(4, 3), FixedFormat(4, 1)), (1, 1), FixedFormat(8, 1))


def test_stream_join_synthesises_to_one_output_register_and_an_adder_per_element(tmp_path):
    """Yosys: an add of 4 channels is the output register (4 x OUT_W + valid + last) and one adder per element;
    measured 28 LUTs, 46 FFs, 12 CARRY4."""
    from flows.yosys import synth_xilinx

    join = StreamJoin("add", (FixedFormat(6, 4, False), FixedFormat(10, 5, True)), (4, 4), FixedFormat(11, 5, True))
    res = synth_xilinx(join.files, join.top, params=join.parameters, work_dir=tmp_path)
    assert res.ff == 4 * 11 + 2 and res.carry4 >= 4, res
