"""The example model's exit logits (digits test set) through the simulated exit
units route every sample exactly as the calibration report says."""
from __future__ import annotations

import numpy as np
import pytest

from exit_unit.verify import rtl_decide
from frontend.calibrate import calibrate, evaluate, exit_configs, logit_codes
from frontend.macs import baseline_macs, cumulative_exit_macs


@pytest.mark.parametrize("policy", ["max_prob", "entropy", "margin"])
def test_rtl_decisions_on_digits_match_the_calibration_report(policy, trained_digits, digits_stages, digits_data,
                                                              tmp_path):
    cal = logit_codes(trained_digits, digits_stages, digits_data.x_cal)
    test = logit_codes(trained_digits, digits_stages, digits_data.x_test)
    configs = exit_configs(digits_stages, policy)
    macs = cumulative_exit_macs(digits_stages)
    thresholds = calibrate(configs, cal, digits_data.y_cal, macs, accuracy_drop=1.0)
    report = evaluate(configs, test, digits_data.y_test, thresholds, macs, baseline_macs(digits_stages))
    n = len(digits_data.y_test)
    exit_at, predicted, pending = np.full(n, len(configs)), np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    for k, (cfg, z, thr) in enumerate(zip(configs, test, thresholds), start=1):
        hw = rtl_decide(cfg, z, thr, tmp_path / f"exit{k}", simulator="icarus")
        leave = pending & (hw.exit if k < len(configs) else True)
        exit_at[leave], predicted[leave] = k, hw.cls[leave]
        pending &= ~leave
    assert np.array_equal(exit_at, report.exit_of_sample)
    assert np.array_equal(predicted, report.predicted)
    rates = [float((exit_at == k).mean()) for k in range(1, len(configs) + 1)]
    assert rates == pytest.approx([e.exit_rate for e in report.exits])
