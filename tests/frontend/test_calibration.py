"""Calibration: thresholds from held-out data through the exit unit's reference decision."""
import numpy as np
import pytest

from exit_unit.reference import decide
from frontend.calibrate import calibrate, evaluate, exit_configs, logit_codes, route
from frontend.macs import baseline_macs, cumulative_exit_macs, stage_macs


@pytest.fixture(scope="module")
def codes(trained_digits, digits_stages, digits_data):
    return (logit_codes(trained_digits, digits_stages, digits_data.x_cal),
            logit_codes(trained_digits, digits_stages, digits_data.x_test))


@pytest.fixture(scope="module")
def macs(digits_stages):
    return cumulative_exit_macs(digits_stages), baseline_macs(digits_stages)


def test_mac_counts_follow_the_layer_shapes(digits_stages):
    # stage 1: valid conv 6x6 out, 3x3x1 kernel, 4 filters; head: 3x3x4 -> 10
    assert stage_macs(digits_stages[0]) == (6 * 6 * 9 * 4, 36 * 10)
    assert stage_macs(digits_stages[1]) == (3 * 3 * 9 * 4 * 6, 54 * 10)
    assert stage_macs(digits_stages[2]) == (54 * 16 + 16 * 10, 0)


@pytest.mark.parametrize("policy", ["max_prob", "entropy", "margin"])
def test_each_policy_meets_the_accuracy_target_with_fewer_macs(digits_stages, digits_data, codes, macs, policy):
    cal, test = codes
    configs = exit_configs(digits_stages, policy)
    thresholds = calibrate(configs, cal, digits_data.y_cal, macs[0], accuracy_drop=1.0)
    on_cal = evaluate(configs, cal, digits_data.y_cal, thresholds, *macs)
    assert on_cal.accuracy >= on_cal.final_exit_accuracy - 0.01 - 1e-9
    assert on_cal.avg_macs < 0.8 * on_cal.baseline_macs
    on_test = evaluate(configs, test, digits_data.y_test, thresholds, *macs)
    assert sum(e.exit_rate for e in on_test.exits) == pytest.approx(1.0)
    assert sum(e.samples for e in on_test.exits) == len(digits_data.y_test)


def test_zero_drop_never_loses_calibration_accuracy(digits_stages, digits_data, codes, macs):
    configs = exit_configs(digits_stages, "max_prob")
    strict = calibrate(configs, codes[0], digits_data.y_cal, macs[0], accuracy_drop=0.0)
    loose = calibrate(configs, codes[0], digits_data.y_cal, macs[0], accuracy_drop=10.0)
    e_strict = evaluate(configs, codes[0], digits_data.y_cal, strict, *macs)
    e_loose = evaluate(configs, codes[0], digits_data.y_cal, loose, *macs)
    assert e_strict.accuracy >= e_strict.final_exit_accuracy
    assert e_loose.avg_macs <= e_strict.avg_macs
    assert e_loose.exits[0].exit_rate >= e_strict.exits[0].exit_rate


def test_routing_uses_the_reference_decision_sample_by_sample(digits_stages, codes, macs):
    configs = exit_configs(digits_stages, "entropy")
    thresholds = [configs[0].threshold_code(0.3), configs[1].threshold_code(0.3), configs[2].threshold_code(1.0)]
    exit_at, predicted = route(configs, codes[1], thresholds)
    first = decide(configs[0], codes[1][0], thresholds[0])
    assert np.array_equal(exit_at == 1, first.exit)
    assert np.array_equal(predicted[first.exit], first.cls[first.exit])
    second = decide(configs[1], codes[1][1], thresholds[1])
    expect_2 = ~first.exit & second.exit
    assert np.array_equal(exit_at == 2, expect_2)
    assert np.all(exit_at[~first.exit & ~second.exit] == 3)


def test_negative_accuracy_drop_is_rejected(digits_stages, digits_data, codes, macs):
    with pytest.raises(ValueError, match="accuracy_drop"):
        calibrate(exit_configs(digits_stages, "margin"), codes[0], digits_data.y_cal, macs[0], accuracy_drop=-1)
