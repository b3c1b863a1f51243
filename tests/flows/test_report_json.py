"""report.json is strict JSON: a max_prob exit whose register code lets no sample out is written as a
null threshold beside its code (not Infinity), and a non-finite figure is refused, not written."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from exit_unit.reference import ExitUnitConfig
from frontend.calibrate import evaluate
from frontend.fixedpoint import FixedFormat
from flows.report import DatasetInfo, Overall, Report, write_report


def strict_json(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (Python's json accepts them by default)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_strict_parser_refuses_what_python_json_lets_through():
    assert json.loads('{"t": Infinity}')["t"] == math.inf
    with pytest.raises(ValueError, match="Infinity is not JSON"):
        strict_json('{"t": Infinity}')


def _report(exits, accuracy: float = 0.9) -> Report:
    return Report(model="m", board="pynq-z2", part="xc7z020clg400-1", clock_mhz=100.0, flow="open",
                  dataset=DatasetInfo("synthetic", 200, 0, 0), training={"mode": "as_given"}, exits=exits,
                  overall=Overall(accuracy=accuracy, final_exit_accuracy=0.9, avg_macs=10.0, baseline_macs=20,
                                  accuracy_drop_target=1.0, calibration_accuracy=0.9,
                                  calibration_final_exit_accuracy=0.9),
                  stages=[], tools={})


@pytest.fixture
def never_exiting_max_prob_exit():
    """Two max_prob exits on random logits; exit 1's register holds code 0."""
    cfg = ExitUnitConfig(classes=4, logit=FixedFormat(8, 3, signed=True), policy="max_prob")
    rng = np.random.default_rng(1)
    codes = [rng.integers(-128, 128, (200, 4)) for _ in range(2)]
    y = rng.integers(0, 4, 200)
    return evaluate([cfg, cfg], codes, y, [0, cfg.confidence_format.max_code], [10, 20], 20)


def test_max_prob_code_0_is_a_null_threshold_beside_its_code_and_lets_no_sample_out(never_exiting_max_prob_exit):
    first = never_exiting_max_prob_exit.exits[0]
    assert first.threshold_code == 0 and first.threshold is None
    # the unit exits when S = 1/p_top <= code, and S >= 1 for every sample: code 0 must let nobody out
    assert first.exit_rate == 0.0 and first.samples == 0


def test_report_json_with_a_never_exiting_exit_passes_a_strict_parser(tmp_path, never_exiting_max_prob_exit):
    json_path, md_path, html_path = write_report(_report(never_exiting_max_prob_exit.exits), tmp_path)
    report = strict_json(json_path.read_text())
    assert report["exits"][0]["threshold"] is None and report["exits"][0]["threshold_code"] == 0
    assert "never (no sample exits)" in md_path.read_text() and "never (no sample exits)" in html_path.read_text()


def test_a_non_finite_figure_is_refused_and_no_report_is_written(tmp_path, never_exiting_max_prob_exit):
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_report(_report(never_exiting_max_prob_exit.exits, accuracy=float("nan")), tmp_path)
    assert not list(tmp_path.iterdir())
