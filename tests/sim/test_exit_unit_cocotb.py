"""The generated exit units in cocotb: every decision equals the reference model.

Default run: exhaustive 3 classes x 4 bits and 20k random 10 x 16-bit vectors
per policy (parallel, Verilator), the serial units at 3k vectors and one
Icarus run. The full 100k-vector suites are marked slow.
"""
from __future__ import annotations

import numpy as np
import pytest

from hardware.exit_unit.generate import write_unit
from exit_unit.reference import POLICIES, ExitUnitConfig, confidence, decide
from exit_unit.verify import exhaustive_vectors, random_vectors, rtl_decide, simulate, threshold_batches
from frontend.fixedpoint import FixedFormat

MAIN, SMALL = FixedFormat(16, 9), FixedFormat(4, 1)


def check(cfg, variant, vectors, tmp_path, simulator="verilator", repeat=False, stall=0.3):
    unit = write_unit(cfg, variant, tmp_path / "rtl")
    vs = threshold_batches(cfg, vectors, batches=3 if repeat else 8, repeat=repeat)
    result = simulate(unit, vs, tmp_path / "sim", simulator=simulator, stall=stall)
    assert result.vectors_checked == len(vs.logits) and result.mismatches == 0
    return result


@pytest.mark.parametrize("policy", POLICIES)
def test_every_3class_4bit_input_decides_like_the_reference(policy, tmp_path):
    cfg = ExitUnitConfig(3, SMALL, policy)
    result = check(cfg, "parallel", exhaustive_vectors(cfg), tmp_path, repeat=True)
    assert result.vectors_checked == 3 * 16**3


@pytest.mark.parametrize("vectors", [4_000, pytest.param(20_000, marks=pytest.mark.slow)])
@pytest.mark.parametrize("policy", POLICIES)
def test_random_10class_16bit_vectors_decide_like_the_reference_under_stalls(policy, vectors, tmp_path):
    cfg = ExitUnitConfig(10, MAIN, policy)
    check(cfg, "parallel", random_vectors(cfg, vectors, seed=11), tmp_path)


@pytest.mark.parametrize("policy", POLICIES)
def test_serial_unit_decides_like_the_reference(policy, tmp_path):
    cfg = ExitUnitConfig(10, MAIN, policy)
    check(cfg, "serial", random_vectors(cfg, 3_000, seed=12), tmp_path, simulator="icarus")


def test_icarus_runs_the_parallel_entropy_unit(tmp_path):
    cfg = ExitUnitConfig(10, MAIN, "entropy")
    check(cfg, "parallel", random_vectors(cfg, 3_000, seed=13), tmp_path, simulator="icarus")


@pytest.mark.parametrize("policy", POLICIES)
def test_after_reset_without_a_write_the_unit_decides_at_its_threshold_init(policy, tmp_path):
    """Default THRESHOLD_INIT (never exit) and a calibrated-looking one (the median confidence): the tb's
    after-reset test runs the vectors with no threshold write and compares with decide() at that code."""
    cfg = ExitUnitConfig(10, MAIN, policy)
    z = random_vectors(cfg, 1_500, seed=16)  # corner rows first: full-scale margins, zero entropies
    unit = write_unit(cfg, "parallel", tmp_path / "rtl")
    vs = threshold_batches(cfg, z, batches=2)
    assert not decide(cfg, z, cfg.never_exit_code).exit.all()
    simulate(unit, vs, tmp_path / "default", simulator="icarus", stall=0.2)
    median = int(np.median(confidence(cfg, z)))
    assert 0 < decide(cfg, z, median).exit.sum() < len(z)
    simulate(unit, vs, tmp_path / "median", simulator="icarus", stall=0.2, threshold_init=median)


def test_rtl_decide_returns_the_hardware_decisions(tmp_path):
    cfg = ExitUnitConfig(10, MAIN, "max_prob")
    z = random_vectors(cfg, 500, seed=14)
    code = cfg.threshold_code(0.8)
    got = rtl_decide(cfg, z, code, tmp_path, simulator="icarus")
    want = decide(cfg, z, code)
    assert np.array_equal(got.exit, want.exit) and np.array_equal(got.cls, want.cls)
    assert 0 < got.exit.sum() < len(z)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("policy", POLICIES)
def test_full_random_vector_suite_decides_like_the_reference(policy, variant, tmp_path):
    cfg = ExitUnitConfig(10, MAIN, policy)
    count = 100_000 if variant == "parallel" else 20_000  # serial: 10 beats per sample
    check(cfg, variant, random_vectors(cfg, count, seed=21), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_every_3class_4bit_input_decides_like_the_reference_serially(policy, tmp_path):
    cfg = ExitUnitConfig(3, SMALL, policy)
    check(cfg, "serial", exhaustive_vectors(cfg), tmp_path, repeat=True)


@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("classes,fmt", [(5, FixedFormat(8, 4, signed=False)), (17, FixedFormat(12, 3))])
def test_odd_class_counts_and_unsigned_logits_decide_like_the_reference(classes, fmt, policy, variant, tmp_path):
    cfg = ExitUnitConfig(classes, fmt, policy)
    check(cfg, variant, random_vectors(cfg, 1_000, seed=15), tmp_path, simulator="icarus")
