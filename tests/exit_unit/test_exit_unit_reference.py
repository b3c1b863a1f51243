"""The exit unit's reference model: float accuracy, threshold semantics, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from exit_unit.reference import POLICIES, ExitUnitConfig, confidence, decide
from exit_unit.verify import corner_vectors, random_vectors
from frontend.fixedpoint import FixedFormat

LOGIT = FixedFormat(16, 9)


def digits_like_logits(n: int = 5000) -> np.ndarray:
    rng = np.random.default_rng(3)
    return LOGIT.quantize(rng.normal(0, 3, (n, 10)))


def test_margin_confidence_is_exact_top1_minus_top2():
    cfg = ExitUnitConfig(10, LOGIT, "margin")
    z = digits_like_logits()
    s = np.sort(z, axis=1)
    assert np.array_equal(confidence(cfg, z), s[:, -1] - s[:, -2])


def test_predicted_class_is_lowest_index_among_ties():
    cfg = ExitUnitConfig(4, LOGIT, "max_prob")
    z = np.array([[5, 9, 9, 1], [7, 7, 7, 7], [-3, -3, -4, -3]])
    assert decide(cfg, z, 0).cls.tolist() == [1, 0, 0]


def test_all_equal_logits_give_uniform_confidence():
    for policy, expected in (("max_prob", 0.1), ("entropy", 1.0), ("margin", 0.0)):
        cfg = ExitUnitConfig(10, LOGIT, policy)
        conf = cfg.confidence_value(confidence(cfg, np.zeros((1, 10), dtype=np.int64)))
        assert abs(conf[0] - expected) < 0.01, policy


@pytest.mark.parametrize("policy", POLICIES)
def test_exits_is_monotone_in_threshold_code_in_the_documented_direction(policy):
    cfg = ExitUnitConfig(10, LOGIT, policy)
    conf = confidence(cfg, digits_like_logits(2000))
    fmt = cfg.confidence_format
    codes = np.unique(np.linspace(0, fmt.max_code, 200).astype(int))
    counts = np.array([cfg.exits(conf, c).sum() for c in codes])
    steps = np.diff(counts)
    assert (steps <= 0).all() if cfg.higher_is_confident else (steps >= 0).all()
    assert counts.min() < counts.max()


@pytest.mark.parametrize("policy,human", [("max_prob", 0.9), ("entropy", 0.3), ("margin", 1.25)])
def test_threshold_code_matches_the_float_comparison(policy, human):
    cfg = ExitUnitConfig(10, LOGIT, policy)
    code = cfg.threshold_code(human)
    conf = confidence(cfg, digits_like_logits())
    value = cfg.confidence_value(conf)
    hw = cfg.exits(conf, code)
    sw = value >= human if policy != "entropy" else value <= human
    assert np.array_equal(hw, sw)
    assert cfg.threshold_value(code) == pytest.approx(human, rel=0.01)


def test_permissive_human_thresholds_let_every_sample_exit():
    z = corner_vectors(ExitUnitConfig(10, LOGIT, "max_prob"))
    for policy, always in (("max_prob", 0.0), ("entropy", 1.0), ("margin", 0.0)):
        cfg = ExitUnitConfig(10, LOGIT, policy)
        assert decide(cfg, z, cfg.threshold_code(always)).exit.all(), policy


def test_max_prob_threshold_code_zero_never_exits():
    cfg = ExitUnitConfig(10, LOGIT, "max_prob")
    assert not decide(cfg, corner_vectors(cfg), 0).exit.any()


@pytest.mark.parametrize("fmt, classes", [(LOGIT, 10), (FixedFormat(4, 1), 3)])
@pytest.mark.parametrize("policy", POLICIES)
def test_never_exit_code_lets_out_only_samples_at_the_very_end_of_the_confidence_range(policy, fmt, classes):
    """Judged on the logits as reals: max_prob none; margin only a full-scale margin (top logit at the format's
    maximum, the runner-up at its minimum); entropy only samples whose float64 entropy is ~0, if any."""
    cfg = ExitUnitConfig(classes, fmt, policy)
    z = np.concatenate([corner_vectors(cfg), random_vectors(cfg, 20_000, seed=9)])
    out = decide(cfg, z, cfg.never_exit_code).exit
    x = np.sort(fmt.to_real(z), axis=1)
    if policy == "max_prob":
        assert not out.any()
    elif policy == "margin":
        full_scale = (x[:, -1] == fmt.max_value) & (x[:, -2] == fmt.min_value)
        assert full_scale.any() and np.array_equal(out, full_scale)
    else:
        p = np.exp(x - x[:, -1:]) / np.exp(x - x[:, -1:]).sum(axis=1, keepdims=True)
        entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) / math.log(classes)
        assert entropy[out].max(initial=0.0) < 0.02
        # only 16-bit logits reach past the exp table (8 logit units), where the entropy rounds to 0
        assert out.any() == (fmt.max_value - fmt.min_value > 8)


@pytest.mark.parametrize("policy,bad", [("max_prob", 1.5), ("entropy", -0.1), ("margin", 1000.0)])
def test_out_of_range_threshold_is_rejected(policy, bad):
    with pytest.raises(ValueError, match="outside"):
        ExitUnitConfig(10, LOGIT, policy).threshold_code(bad)


@pytest.mark.parametrize("kwargs,message", [
    (dict(classes=1), "2..1024 classes"),
    (dict(classes=0), "2..1024 classes"),
    (dict(policy="softmax"), "unknown exit policy"),
    (dict(logit=FixedFormat(40, 20)), "logit width"),
    (dict(lut_index_bits=3), "cannot cover"),
    (dict(norm_bits=12), "norm_bits"),
])
def test_bad_parameters_fail_with_a_clear_message(kwargs, message):
    args = dict(classes=10, logit=LOGIT, policy="max_prob") | kwargs
    with pytest.raises(ValueError, match=message):
        ExitUnitConfig(**args)


def test_logit_codes_out_of_format_are_rejected():
    cfg = ExitUnitConfig(3, FixedFormat(4, 1), "margin")
    with pytest.raises(ValueError, match="outside"):
        decide(cfg, np.array([[0, 8, 0]]), 0)


def test_lut_tables_are_positive_and_decreasing():
    cfg = ExitUnitConfig(10, LOGIT, "entropy")
    assert cfg.exp_table[0] == 1 << cfg.lut_frac_bits
    assert (np.diff(cfg.exp_table) <= 0).all() and cfg.exp_table[-1] == 0
    assert cfg.xexp_table.max() <= math.ceil(2**cfg.lut_frac_bits / math.e / math.log(10))


def test_exit_config_reads_hls4ml_and_qkeras_precisions():
    from qkeras import quantized_bits

    from exit_unit.reference import config_for_exit, logit_format

    assert logit_format("fixed<16,7>") == FixedFormat(16, 9)
    assert logit_format("ap_ufixed<8,3,AP_RND_CONV,AP_SAT>") == FixedFormat(8, 5, signed=False)
    assert logit_format(quantized_bits(16, 6, alpha=1)) == FixedFormat(16, 9)
    assert config_for_exit(10, "fixed<16,7>", "margin").name == "exit_unit_10c_16b_margin"
    with pytest.raises(ValueError, match="cannot read"):
        logit_format("float32")
