"""Stage cores in cocotb (Verilator) against the QKeras stages, under random stalls on both sides.

Every digits test sample plus 10,000 random in-range vectors per stage, max |difference| == 0.
Default: the small differently shaped 2-exit model with 2,000 random vectors; slow: the same with
10,000 and the trained digits example.
"""
from __future__ import annotations

import pytest

pytest.importorskip("qkeras")


def _check_chain(models, stage1_format, x_test, tmp_path, names, n_random=10_000):
    from sim.stage.verify import build_and_verify_chain

    for rtl, check in build_and_verify_chain(models, stage1_format, x_test, tmp_path, n_random, names=names):
        assert check.reference_max_abs_diff == [0] * len(rtl.outputs), rtl.name
        assert check.sim.vectors == check.samples + n_random == len(x_test) + n_random
        assert check.sim.max_abs_diff == [0] * len(rtl.outputs) and check.sim.mismatches == 0, rtl.name
        assert check.bit_exact


# The Verilator build (~30-60 s per stage on 2 shared cores) dominates; 10,000 vectors simulate in ~2 s.
# The default run uses 2,000 random vectors per stage, the slow run the full 10,000.
@pytest.mark.parametrize("n_random", [500, pytest.param(10_000, marks=pytest.mark.slow)])
def test_two_exit_model_rtl_is_bit_exact_under_back_pressure(n_random, digits_data, tmp_path):
    from sim.stage.testmodels import two_exit_stages

    _check_chain(two_exit_stages(), None, digits_data.x_test, tmp_path, ["two_exit_1", "two_exit_2"],
                 n_random)


@pytest.mark.slow
def test_example_stage_rtl_is_bit_exact_under_back_pressure(digits_stages, digits_data, tmp_path):
    _check_chain([s.model for s in digits_stages], digits_stages[0].input_format, digits_data.x_test,
                 tmp_path, [f"stage_{s.index}" for s in digits_stages])
