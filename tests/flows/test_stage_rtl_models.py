"""Whole stages through the tracer, checked in numpy against QKeras (fast; cocotb runs are in tests/sim).

(a) the trained digits example, split by the frontend; (b) a differently shaped
2-exit model built here. Every digits test sample plus 10,000 random in-range
vectors per stage, max |difference| == 0.
"""
from __future__ import annotations

import pytest

pytest.importorskip("qkeras")


def test_every_example_stage_traces_bit_exact_on_digits_and_random(digits_stages, digits_data, tmp_path):
    from hardware.stage import build_stage_rtl
    from sim.stage.verify import chain_inputs, verify_stage

    rtls, prev = [], None
    for stage in digits_stages:
        rtl = build_stage_rtl(stage.model, prev.forwarded.fmt if prev else stage.input_format,
                              tmp_path / f"stage_{stage.index}", f"stage_{stage.index}")
        assert rtl.outputs[0].fmt == stage.logit_format
        assert len(rtl.outputs) == (1 if stage.is_last else 2)
        rtls.append(rtl)
        prev = rtl
    inputs = chain_inputs([s.model for s in digits_stages], rtls, digits_data.x_test)
    for stage, rtl, x in zip(digits_stages, rtls, inputs):
        check = verify_stage(stage.model, rtl, x, 10_000, tmp_path, simulate=False, seed=stage.index)
        assert check.reference_max_abs_diff == [0] * len(rtl.outputs), f"stage {stage.index}"


def test_two_exit_model_with_other_widths_traces_bit_exact(digits_data, tmp_path):
    from hardware.stage import build_stage_rtl
    from frontend.fixedpoint import FixedFormat
    from sim.stage.testmodels import two_exit_stages
    from sim.stage.verify import chain_inputs, verify_stage

    models = two_exit_stages()
    s1 = build_stage_rtl(models[0], None, tmp_path / "s1", "two_exit_1")
    s2 = build_stage_rtl(models[1], s1.forwarded.fmt, tmp_path / "s2", "two_exit_2")
    assert s1.input_format == FixedFormat(7, 5, True)
    assert s1.forwarded.fmt == FixedFormat(7, 5, True)  # avg pool 2x2 of sfixed<5,2>: two more fraction bits
    assert s2.outputs[0].fmt == FixedFormat(12, 7, True)
    inputs = chain_inputs(models, [s1, s2], digits_data.x_test)
    for model, rtl, x in zip(models, [s1, s2], inputs):
        check = verify_stage(model, rtl, x, 10_000, tmp_path, simulate=False)
        assert check.reference_max_abs_diff == [0] * len(rtl.outputs)
