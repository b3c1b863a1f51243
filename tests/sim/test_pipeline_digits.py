"""The digits example through the multi-exit pipeline RTL: decisions equal the software model
(QKeras logits + exit-unit reference) for every sample, and early exits cut the mean latency.

Default: the first 60 test samples on Icarus (a reduced run). Slow: the whole test set on
Verilator with SAIF energy, against the issue's floors (mean latency with exits on <= 0.6 x off,
simulation of the test set under 5 minutes).
"""
from __future__ import annotations

import pytest

pytest.importorskip("qkeras")


def _calibrated(digits_stages, digits_data, trained_digits):
    from frontend.calibrate import calibrate, exit_configs, logit_codes
    from frontend.macs import cumulative_exit_macs

    configs = exit_configs(digits_stages, "max_prob")
    cal = logit_codes(trained_digits, digits_stages, digits_data.x_cal)
    thresholds = calibrate(configs, cal, digits_data.y_cal, cumulative_exit_macs(digits_stages))
    return configs, thresholds


def _simulate(digits_stages, digits_data, trained_digits, tmp_path, simulator, samples):
    from boards import load_board
    from frontend.calibrate import logit_codes
    from sim.pipeline import simulate_pipeline

    configs, thresholds = _calibrated(digits_stages, digits_data, trained_digits)
    x = digits_data.x_test[:samples] if samples else digits_data.x_test
    return simulate_pipeline([s.model for s in digits_stages], configs, thresholds, x, tmp_path,
                             load_board("pynq-z2"), logit_codes=logit_codes(trained_digits, digits_stages, x),
                             simulator=simulator)


def _check_decisions(res, n):
    assert res.samples == n
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), name
    assert (res.scenarios["all_exit_1"].exit_at == 1).all()
    assert (res.scenarios["all_to_end"].exit_at == len(res.exits)).all()
    assert (res.scenarios["exits_off"].exit_at == len(res.exits)).all()


def test_digits_pipeline_reduced_run_matches_software_model(digits_stages, digits_data, trained_digits, tmp_path):
    res = _simulate(digits_stages, digits_data, trained_digits, tmp_path, "icarus", 60)
    _check_decisions(res, 60)
    assert res.speedup > 1.0
    # every stage takes a sample per cycle: the steady-state rate is 1 with exits on and off
    d = res.to_dict()
    assert d["early_exit"]["throughput_samples_per_cycle"] == d["exits_off"]["throughput_samples_per_cycle"] == 1.0
    assert d["early_exit"]["whole_run_samples_per_cycle"] < 1.0


@pytest.mark.slow
def test_digits_pipeline_full_test_set_meets_latency_and_speed_floors(digits_stages, digits_data, trained_digits,
                                                                      tmp_path):
    res = _simulate(digits_stages, digits_data, trained_digits, tmp_path, "verilator", None)
    _check_decisions(res, len(digits_data.x_test))
    d = res.to_dict()
    assert d["early_exit"]["mean_latency_cycles"] <= 0.6 * d["exits_off"]["mean_latency_cycles"]
    assert d["early_exit"]["throughput_samples_per_cycle"] >= 0.99 and d["exits_off"]["throughput_samples_per_cycle"] >= 0.99
    assert d["early_exit"]["energy_nj_per_sample"] < d["exits_off"]["energy_nj_per_sample"]
    assert all((tmp_path / "sim" / f"{n}.saif").is_file() for n in ("early_exit", "exits_off"))
    assert d["sim_seconds"] < 300
