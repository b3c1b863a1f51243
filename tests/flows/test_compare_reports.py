"""compare: A vs B rows, tolerances, regressions, exit codes, and refusal of incomparable reports."""
import copy
import json

import pytest
from rich.console import Console

from flows.compare import (CompareInputError, Tolerances, compare_main, compare_reports, comparison_markdown,
                           render_comparison)


def _record(index, lut, ff, dsp, bram, source="yosys", **extra):
    return {"index": index, "lut": lut, "ff": ff, "carry4": 10, "dsp": dsp, "bram": bram, "lut_levels": 4,
            "source": source, "seconds": 1.0, **extra}


def _report(board="pynq-z2", flow="open", accuracy=0.95, lut_scale=1.0, capacity_lut=53200, with_sim=True):
    report = {
        "schema": 1, "model": "digits", "board": board, "part": "xc7z020clg400-1", "clock_mhz": 100.0,
        "flow": flow, "dataset": {"name": "digits", "test_samples": 360},
        "exits": [{"index": k, "policy": "max_prob", "threshold": 0.5, "threshold_code": 900,
                   "exit_rate": r, "accuracy_at_exit": 0.96, "cumulative_macs": m, "samples": int(r * 360)}
                  for k, r, m in ((1, 0.7, 2464), (2, 0.25, 9856), (3, 0.05, 12640))],
        "overall": {"accuracy": accuracy, "final_exit_accuracy": 0.96, "avg_macs": 4400.0, "baseline_macs": 12000},
        "stages": [{"index": k, "input_shape": s, "macs": m}
                   for k, s, m in ((1, [8, 8, 1], 2464), (2, [4, 4, 4], 7392), (3, [2, 2, 12], 2784))],
        "resources": {
            "stages": [_record(k, int(l * lut_scale), f, d, 0.0) for k, l, f, d in
                       ((1, 1200, 900, 4), (2, 3000, 2000, 10), (3, 900, 700, 3))],
            "exit_units": [_record(k, 150, 120, 0, 0.0) for k in (1, 2, 3)],
            "total": _record(0, int(5550 * lut_scale), 3960, 17, 0.5),
            "capacity": {"lut": capacity_lut, "ff": 106400, "bram36": 140, "dsp": 220},
        },
    }
    if with_sim:
        report["sim"] = {"exits": [{"index": k, "samples": 100, "latency_cycles": {"min": c, "mean": c, "max": c},
                                    "energy_nj": e} for k, c, e in ((1, 40, 4.0), (2, 90, 9.0), (3, 120, 12.0))],
                         "early_exit": {"mean_latency_cycles": 56.5, "throughput_samples_per_cycle": 0.02,
                                        "energy_nj_per_sample": 5.6, "cycles": 20000}}
    return report


def _row(comparison, section, metric):
    return next(r for r in comparison.rows if r.section == section and r.metric == metric)


def test_identical_reports_have_zero_differences_and_no_regression():
    c = compare_reports(_report(), _report(), Tolerances())
    assert c.comparable and not c.regressions
    numeric = [r for r in c.rows if r.a is not None]
    assert numeric and all(r.diff == 0 for r in numeric)
    assert {"stage 1", "exit unit 2", "total", "utilisation", "exit 3", "overall"} <= {r.section for r in c.rows}


def test_rows_give_a_b_difference_and_percent():
    c = compare_reports(_report(), _report(lut_scale=1.10), Tolerances())
    row = _row(c, "stage 2", "LUT")
    assert (row.a, row.b, row.diff) == (3000, 3300, 300) and row.pct == pytest.approx(10.0)
    assert _row(c, "exit 2", "latency (cycles)").a == 90 and _row(c, "overall", "accuracy %").a == pytest.approx(95)
    assert _row(c, "utilisation", "LUT %").a == pytest.approx(100 * 5550 / 53200)


def test_lut_growth_beyond_tolerance_is_a_regression_and_within_is_not():
    bigger = _report(lut_scale=1.10)
    strict = compare_reports(_report(), bigger, Tolerances.parse(["lut=5"]))
    assert {(r.section, r.metric) for r in strict.regressions} == {("stage 1", "LUT"), ("stage 2", "LUT"),
                                                                  ("stage 3", "LUT"), ("total", "LUT")}
    assert not compare_reports(_report(), bigger, Tolerances.parse(["lut=15"])).regressions
    # improvements never gate
    assert not compare_reports(bigger, _report(), Tolerances.parse(["lut=0"])).regressions


def test_accuracy_tolerance_is_in_points():
    a, b = _report(accuracy=0.95), _report(accuracy=0.944)   # -0.6 points
    assert [r.metric for r in compare_reports(a, b, Tolerances.parse(["accuracy=0.5"])).regressions] == ["accuracy %"]
    assert not compare_reports(a, b, Tolerances.parse(["accuracy=1"])).regressions


def test_throughput_drop_is_a_regression_because_higher_is_better():
    b = _report()
    b["sim"]["early_exit"]["throughput_samples_per_cycle"] = 0.015
    names = [r.metric for r in compare_reports(_report(), b, Tolerances()).regressions]
    assert names == ["throughput (samples/cycle)"]


def test_absent_blocks_are_na_rows_not_errors():
    a = _report(with_sim=False)
    del a["resources"]
    b = copy.deepcopy(a)
    c = compare_reports(a, b, Tolerances())
    assert c.comparable and not c.regressions
    na = {r.section for r in c.rows if r.metric.startswith("n/a")}
    assert {"stage", "total", "utilisation"} <= na
    # present in one report only: shown, never gating
    one_sided = compare_reports(_report(with_sim=False), _report(), Tolerances())
    row = _row(one_sided, "overall", "mean latency (cycles)")
    assert row.a is None and row.b == 56.5 and row.diff is None and not row.regression


def test_different_models_or_schema_or_data_are_not_comparable():
    other = _report()
    other["model"] = "cifar"
    c = compare_reports(_report(), other, Tolerances())
    assert not c.comparable and "different models" in c.reason and not c.rows
    newer = _report()
    newer["schema"] = 2
    assert "schema" in compare_reports(_report(), newer).reason
    resplit = _report()
    resplit["stages"][1]["input_shape"] = [4, 4, 8]
    assert "split differently" in compare_reports(_report(), resplit).reason
    fewer = _report()
    fewer["dataset"]["test_samples"] = 100
    assert "test data" in compare_reports(_report(), fewer).reason
    on_calibration = _report()
    on_calibration["sim"]["split"] = "calibration"      # a SIM_SPLIT=calibration build; older reports name none
    assert "the test split vs the calibration split" in compare_reports(_report(), on_calibration).reason
    assert compare_reports(_report(with_sim=False), on_calibration).comparable


def test_boards_and_flows_may_differ_and_are_noted():
    b = _report(board="zcu104", flow="vendor", capacity_lut=230400)
    for rec in b["resources"]["stages"]:
        rec["source"] = "vivado_impl"
    c = compare_reports(_report(), b)
    assert c.comparable
    assert any("different boards" in n for n in c.notes) and any("different flows" in n for n in c.notes)
    assert _row(c, "utilisation", "LUT %").b == pytest.approx(100 * 5550 / 230400)


def test_bad_tolerance_items_name_the_fix():
    for item in ("lut", "speed=3", "lut=abc", "lut=-1"):
        with pytest.raises(CompareInputError) as err:
            Tolerances.parse([item])
        assert "\n" not in str(err.value)


def test_compare_main_exit_codes(tmp_path):
    paths = {}
    for name, report in {"a": _report(), "same": _report(), "worse": _report(lut_scale=1.2),
                         "other": {**_report(), "model": "other"}}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(report))
    console = Console(width=120, record=True)
    assert compare_main(paths["a"], paths["same"], Tolerances(), console) == 0
    assert compare_main(paths["a"], paths["worse"], Tolerances(), console) == 1
    assert compare_main(paths["a"], paths["worse"], Tolerances.parse(["lut=25"]), console) == 0
    assert compare_main(paths["a"], paths["other"], Tolerances(), console) == 2
    text = console.export_text()
    assert "REGRESSION" in text and "not comparable" in text and "no regression" in text
    (tmp_path / "broken.json").write_text("{")
    for bad, fragment in (("missing.json", "does not exist"), ("broken.json", "invalid JSON")):
        with pytest.raises(CompareInputError, match=fragment) as err:   # the CLI prints it, exit code 2
            compare_main(paths["a"], tmp_path / bad, Tolerances(), console)
        assert err.value.exit_code == 2


def test_render_shows_every_block_and_the_verdict():
    console = Console(width=160, record=True)
    render_comparison(compare_reports(_report(), _report(lut_scale=1.1), Tolerances()), console)
    text = console.export_text()
    for word in ("stage 1", "exit unit 3", "total", "utilisation", "exit 2", "overall", "+10.0%", "regression"):
        assert word in text, word


def test_markdown_table_is_written_for_ci(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report()))
    b.write_text(json.dumps(_report(lut_scale=1.1)))
    out = tmp_path / "ci" / "compare.md"
    assert compare_main(a, b, Tolerances(), Console(quiet=True), markdown=out) == 1
    text = out.read_text()
    assert "| stage 2 | LUT | 3,000 | 3,300 | +300 | +10.0% | 5% | REGRESSION |" in text
    assert "regression(s) beyond tolerance" in text
    other = {**_report(), "model": "x"}
    assert comparison_markdown(compare_reports(_report(), other)).startswith("**Not comparable:** different models")
