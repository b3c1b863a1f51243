"""The generated pipeline on a small two-exit model (random weights), Icarus: every scenario
matches the software model sample by sample, with and without the reorder buffer."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qkeras")


def _two_exit(tmp_path, digits_data, n, **kw):
    from boards import load_board
    from exit_unit.reference import ExitUnitConfig, confidence
    from hardware.stage import build_stage_rtl
    from sim.pipeline.simulate import expected_route, simulate_pipeline
    from sim.stage.testmodels import two_exit_stages

    models = two_exit_stages()
    r1 = build_stage_rtl(models[0], None, tmp_path / "rtl" / "stage_1", "stage_1")
    r2 = build_stage_rtl(models[1], r1.forwarded.fmt, tmp_path / "rtl" / "stage_2", "stage_2")
    cfgs = [ExitUnitConfig(classes=10, logit=r.outputs[0].fmt, policy="max_prob") for r in (r1, r2)]
    x = digits_data.x_test[:n]
    codes = expected_route(models, [r1, r2], cfgs, r1.input_format.quantize(x).reshape((n, 8, 8, 1)), [0, 0])[2]
    thr = [int(np.median(confidence(cfgs[0], codes[0]))), cfgs[1].confidence_format.max_code]
    return simulate_pipeline(models, cfgs, thr, x, tmp_path, load_board("pynq-z2"), stage_rtls=[r1, r2],
                             simulator="icarus", **kw)


def test_two_exit_pipeline_matches_software_model_in_every_scenario(tmp_path, digits_data):
    res = _two_exit(tmp_path, digits_data, 48)
    assert set(res.scenarios) == {"early_exit", "exits_off", "back_pressure", "all_exit_1", "all_to_end"}
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), name
    on, off = res.scenarios["early_exit"], res.scenarios["exits_off"]
    assert 0 < np.sum(on.exit_at == 1) < 48, "the median threshold should split the samples"
    assert np.all(off.exit_at == 2) and np.all(res.scenarios["all_to_end"].exit_at == 2)
    assert np.all(res.scenarios["all_exit_1"].exit_at == 1)
    # without back-pressure every exit has one fixed latency, and exit 1 is the shorter path
    lat = {e["index"]: e["latency_cycles"] for e in res.exits}
    assert lat[1]["min"] == lat[1]["max"] < lat[2]["min"] == lat[2]["max"]
    assert on.mean_latency < off.mean_latency
    assert res.to_dict()["speedup"] > 1.0
    assert "| 1 |" in res.to_markdown()


def test_reorder_buffer_restores_input_order(tmp_path, digits_data):
    from hardware.pipeline.generate import PipelineParams

    res = _two_exit(tmp_path, digits_data, 40, params=PipelineParams(reorder=True, reorder_slots_log2=5),
                    extremes=False)
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated, sc.out_of_order) == (0, 0, 0, 0), name
    assert res.rtl.lanes == 1


def test_board_without_energy_figures_still_simulates_and_says_why_energy_is_missing(tmp_path, digits_data):
    from boards import load_board
    from exit_unit.reference import ExitUnitConfig
    from hardware.stage import build_stage_rtl
    from sim.pipeline.simulate import simulate_pipeline
    from sim.stage.testmodels import two_exit_stages

    board = load_board("zcu104")
    assert "energy" not in board.extra  # the premise: this board file has no energy: block yet
    models = two_exit_stages()
    r1 = build_stage_rtl(models[0], None, tmp_path / "rtl" / "stage_1", "stage_1")
    r2 = build_stage_rtl(models[1], r1.forwarded.fmt, tmp_path / "rtl" / "stage_2", "stage_2")
    cfgs = [ExitUnitConfig(classes=10, logit=r.outputs[0].fmt, policy="max_prob") for r in (r1, r2)]
    thr = [cfgs[0].confidence_format.max_code, cfgs[1].confidence_format.max_code]
    res = simulate_pipeline(models, cfgs, thr, digits_data.x_test[:16], tmp_path, board, stage_rtls=[r1, r2],
                            simulator="verilator", extremes=False)
    assert (res.mismatches, res.lost, res.duplicated) == (0, 0, 0)
    assert res.scenarios["early_exit"].energy is None and res.to_dict()["early_exit"]["energy_nj_per_sample"] is None
    assert any("no energy figures: board zcu104 has no energy" in n for n in res.notes)
    assert "| - |" in res.to_markdown()
