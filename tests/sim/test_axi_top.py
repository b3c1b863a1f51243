"""The AXI-wrapped top in cocotb (cocotbext-axi AXI4-Lite master, AXI4-Stream source/sink with random
pauses) against the software model, and the PYNQ driver's own code against the same simulation.

Default suite: the trained digits example (all three stages, 48 test samples) on Icarus with 64-bit
words, and the small two-exit model with 32-bit words (the sample id cut to fit the result word).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qkeras")


def _wrap(stage_models, stage_rtls, configs, thresholds, out, data_width):
    from hardware.axi_top import AxiTopParams, write_axi_top
    from hardware.pipeline.generate import PipelineParams
    from sim.pipeline.simulate import build_rtl

    pipeline, _, _ = build_rtl(stage_models, configs, out / "rtl", stage_rtls=stage_rtls,
                               params=PipelineParams(per_exit_enable=True))
    t = stage_rtls[0].input
    desc = {"shape": list(t.shape), "width": t.fmt.width, "frac": t.fmt.frac, "signed": t.fmt.signed}
    return write_axi_top(pipeline, thresholds, out, AxiTopParams(data_width=data_width), input_desc=desc)


def _check(res, n):
    assert (res.mismatches, res.lost, res.duplicated) == (0, 0, 0), res.summary()
    assert res.counters_match_model, res.counter_failures
    assert res.samples == n and res.phases[1].samples > 0
    assert 0 < res.apply_id < n
    d = res.driver
    assert (d["mismatches"], d["counters_match_model"]) == (0, True), d["failures"]


@pytest.mark.slow
def test_digits_wrapped_top_over_axi_matches_the_model_and_the_driver_runs_on_it(digits_stages, digits_data,
                                                                                 trained_digits, tmp_path):
    from frontend.calibrate import calibrate, exit_configs, logit_codes
    from frontend.macs import cumulative_exit_macs
    from hardware.stage import build_stage_rtl
    from sim.axi_top.simulate import simulate_axi_top

    configs = exit_configs(digits_stages, "max_prob")
    cal = logit_codes(trained_digits, digits_stages, digits_data.x_cal)
    thresholds = calibrate(configs, cal, digits_data.y_cal, cumulative_exit_macs(digits_stages))
    rtls, prev = [], None
    for s in digits_stages:
        prev = build_stage_rtl(s.model, prev.forwarded.fmt if prev else None, tmp_path / "rtl" / f"stage_{s.index}",
                               f"stage_{s.index}")
        rtls.append(prev)
    top = _wrap([s.model for s in digits_stages], rtls, configs, thresholds, tmp_path / "board", 64)
    assert top.regmap["THRESHOLD_1"].reset == thresholds[0]       # registers reset to the calibrated codes
    n = 48
    x = digits_data.x_test[:n]
    codes = rtls[0].input_format.quantize(x).reshape((n,) + rtls[0].input.shape)
    res = simulate_axi_top(top, configs, logit_codes(trained_digits, digits_stages, x), codes, rtls[0].input,
                           tmp_path / "sim", simulator="icarus", driver_samples=16)
    _check(res, n)
    assert res.moved_by_change > 0       # the new thresholds sent some later samples to another exit
    assert res.phases[1].exit_counts[res.disabled_exit] == 0      # the exit turned off let nothing out


def test_two_exit_model_with_32_bit_words(tmp_path, digits_data):
    from exit_unit.reference import ExitUnitConfig, confidence
    from hardware.stage import build_stage_rtl
    from sim.axi_top.simulate import simulate_axi_top
    from sim.pipeline.simulate import expected_route
    from sim.stage.testmodels import two_exit_stages

    models = two_exit_stages()
    r1 = build_stage_rtl(models[0], None, tmp_path / "rtl" / "stage_1", "stage_1")
    r2 = build_stage_rtl(models[1], r1.forwarded.fmt, tmp_path / "rtl" / "stage_2", "stage_2")
    cfgs = [ExitUnitConfig(classes=10, logit=r.outputs[0].fmt, policy="max_prob") for r in (r1, r2)]
    n = 32
    codes_in = r1.input_format.quantize(digits_data.x_test[:n]).reshape((n, 8, 8, 1))
    logits = expected_route(models, [r1, r2], cfgs, codes_in, [0, 0])[2]
    thr = [int(np.percentile(confidence(cfgs[0], logits[0]), 70)), cfgs[1].confidence_format.max_code]
    top = _wrap(models, [r1, r2], cfgs, thr, tmp_path / "board", 32)
    ids = next(f for f in top.regmap.result_fields if f.name == "id")
    assert ids.width == 32 - sum(f.width for f in top.regmap.result_fields if f.name != "id") < 16
    res = simulate_axi_top(top, cfgs, logits, codes_in, r1.input, tmp_path / "sim", simulator="icarus",
                           driver_samples=12, in_pause=0.5, out_pause=0.2, seed=3)
    _check(res, n)
