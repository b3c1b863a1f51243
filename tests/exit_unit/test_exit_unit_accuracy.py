"""The exit unit's confidence against float64 softmax / entropy / margin over the whole confidence range,
recomputed here in plain numpy, and the error figures the READMEs state: they must hold and stay tight."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from exit_unit.accuracy import BINS, confidence_error, range_vectors
from exit_unit.reference import POLICIES, ExitUnitConfig, confidence
from exit_unit.verify import exhaustive_vectors
from frontend.fixedpoint import FixedFormat

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {"10 x 16": (10, FixedFormat(16, 9)), "3 x 4": (3, FixedFormat(4, 1))}


def float64_policy(policy: str, x: np.ndarray) -> np.ndarray:
    """Top-1 softmax probability, softmax entropy / ln C, or top-1 minus top-2 of real logits x (N, C)."""
    if policy == "margin":
        s = np.sort(x, axis=1)
        return s[:, -1] - s[:, -2]
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if policy == "max_prob":
        return p.max(axis=1)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1) / math.log(x.shape[1])


def unit_value(cfg: ExitUnitConfig, z: np.ndarray) -> np.ndarray:
    """The unit's confidence codes in human units: 1/S for max_prob, codes x LSB otherwise."""
    codes = confidence(cfg, z).astype(np.float64)
    if cfg.policy == "max_prob":
        return 2.0**cfg.lut_frac_bits / codes
    return codes * 2.0**-cfg.confidence_format.frac


def stated_errors() -> dict[tuple[str, str], float]:
    """(policy, '10 x 16' | '3 x 4') -> worst error stated in exit_unit/README.md's error table."""
    text = (ROOT / "exit_unit" / "README.md").read_text()
    out = {}
    for policy in POLICIES:
        row = re.search(rf"^\| {policy} \| [^|]+ \| ([0-9.]+) \| [^|]+ \| ([0-9.]+) \|$", text, re.MULTILINE)
        assert row, f"exit_unit/README.md has no error row for {policy}"
        out[policy, "10 x 16"], out[policy, "3 x 4"] = float(row.group(1)), float(row.group(2))
    return out


def measured_error(policy: str, size: str) -> tuple[float, np.ndarray, np.ndarray]:
    classes, fmt = CONFIGS[size]
    cfg = ExitUnitConfig(classes, fmt, policy)
    z = range_vectors(cfg, extra=exhaustive_vectors(cfg) if size == "3 x 4" else None)
    exact = float64_policy(policy, fmt.to_real(z).astype(np.float64))
    return float(np.abs(unit_value(cfg, z) - exact).max()), z, exact


@pytest.mark.parametrize("size", CONFIGS)
@pytest.mark.parametrize("policy", POLICIES)
def test_readme_error_figures_hold_over_the_whole_confidence_range_and_are_tight(policy, size):
    worst, _, exact = measured_error(policy, size)
    stated = stated_errors()[policy, size]
    assert worst <= stated, f"{policy} {size}: measured {worst:.5f} exceeds the README's {stated}"
    assert stated - worst < 2e-4, f"{policy} {size}: the README's {stated} overstates the measured {worst:.5f}"
    if policy != "margin":  # the vectors reach every tenth of the range (max_prob: from 1/C; margin: exact)
        low = 1.0 / CONFIGS[size][0] if policy == "max_prob" else 0.0
        counts = np.histogram(exact, bins=BINS, range=(low, 1.0))[0]
        assert (counts > 100).all(), counts


def test_main_readme_quotes_the_same_worst_errors():
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", (ROOT / "README.md").read_text())]
    line = next((p for p in paragraphs if "whole confidence range" in p), "")
    stated = stated_errors()
    for policy in ("max_prob", "entropy"):
        m = re.search(rf"{policy} ([0-9.]+)", line)
        assert m and float(m.group(1)) == stated[policy, "10 x 16"], f"README.md: {line!r}"


def test_error_report_agrees_with_the_independent_computation():
    cfg = ExitUnitConfig(10, FixedFormat(16, 9), "entropy")
    report = confidence_error(cfg)
    worst, _, _ = measured_error("entropy", "10 x 16")
    assert report.max_error == pytest.approx(worst, abs=1e-12)
    assert report.bins[0]["max_error"] == pytest.approx(worst, abs=1e-12)  # the worst case is h ~ 0.04
