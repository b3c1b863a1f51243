"""`make synth DESIGN=<point.yaml>`: the normal flow builds exactly one DSE point into designs/<id>/.

Bad point files fail through the CLI in one line and build nothing. A point is built as it says: dropped
exits have no head and no exit unit, P below a stage's windows folds its first conv, a subnet point deploys
stages up to its one exit (logits only), and the report's ``design`` block holds Yosys and pipeline figures.
Icarus throughout: on this machine it builds a point in about half Verilator's time (Verilator compiles every
folded core); energy from SAIF on a headless pipeline is pinned in tests/sim/test_pipeline_headless.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("qkeras")

from flows.cli import main  # noqa: E402
from flows.synth import SynthOptions, run_synth  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"
CLOCK_HZ = 100e6  # pynq-z2
TEST_SAMPLES = 360
PREDICTED = {"lut": 9000.0, "ff": 5000.0, "dsp": 0.0, "bram": 0.0, "throughput_samples_per_s": 2.0e7,
             "mean_latency_cycles": 40.0, "energy_nj_per_sample": 5.0, "accuracy": 0.95}


def _write_point(folder: Path, name: str, design: dict, *, model: str = str(EXAMPLE), board: str = "pynq-z2") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"model": model, "board": board, "policy": "max_prob", "design": design,
                                    "predicted": PREDICTED}))
    return path


# ---------------------------------------------------------------- bad input through the CLI

ANYTIME = {"exits": [1, 3], "thresholds": [531, 8191], "parallelism": [12, 3, 1], "mode": "anytime",
           "fifo_depth": 8}


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory):
    """One build root for the refused points, so the checks that need the model train it once."""
    return tmp_path_factory.mktemp("bad_points")


def _refused(argv: list[str], root: Path, capsys) -> str:
    code = main(["synth", "--build-root", str(root), *argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not list(root.rglob("designs")), "a refused point must not leave a designs/<id>/ folder"
    return lines[0]


def test_missing_design_file_is_refused_with_where_points_come_from(bad_root, tmp_path, capsys):
    line = _refused(["--design", str(tmp_path / "nope.yaml")], bad_root, capsys)
    assert "nope.yaml does not exist" in line and "make dse" in line


def test_design_explored_for_another_board_names_the_board_to_pass(bad_root, tmp_path, capsys):
    point = _write_point(tmp_path, "zcu", ANYTIME, board="zcu104")
    line = _refused(["--design", str(point)], bad_root, capsys)
    assert "explored for board zcu104" in line and "BOARD=zcu104" in line


def test_model_other_than_the_designs_is_refused(bad_root, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("name: digits", "name: other_digits", 1))
    point = _write_point(tmp_path, "mine", ANYTIME)
    line = _refused(["--design", str(point), "--model", str(other)], bad_root, capsys)
    assert f"explored for model {EXAMPLE}, not {other}" in line and "drop MODEL=" in line


@pytest.mark.parametrize("exit_pos, beyond", [(0, "below"), (1, "above")])
def test_threshold_outside_the_exits_confidence_codes_is_refused(bad_root, tmp_path, capsys, digits_stages,
                                                                exit_pos, beyond):
    from frontend.calibrate import exit_configs

    k = ANYTIME["exits"][exit_pos]
    fmt = exit_configs(digits_stages, "max_prob")[k - 1].confidence_format
    bad = fmt.min_code - 1 if beyond == "below" else fmt.max_code + 1
    thresholds = list(ANYTIME["thresholds"])
    thresholds[exit_pos] = bad
    point = _write_point(tmp_path, f"thr_{k}", {**ANYTIME, "thresholds": thresholds})
    line = _refused(["--design", str(point)], bad_root, capsys)
    assert f"threshold {bad} of exit {k} is outside its confidence codes {fmt.min_code}..{fmt.max_code}" in line


def test_parallelism_above_a_stages_windows_is_refused(bad_root, tmp_path, capsys):
    point = _write_point(tmp_path, "wide", {**ANYTIME, "parallelism": [12, 10, 1]})  # stage 2 has 9 windows
    line = _refused(["--design", str(point)], bad_root, capsys)
    assert "stage 2 has 9 conv windows, P=10 is more; use P in 1..9" in line


# ---------------------------------------------------------------- points built end to end

@pytest.fixture(scope="module")
def design_root(example_build_root):
    """One build root for the built points (seeded with the session's training of the example)."""
    return example_build_root


def _build(root: Path, folder: Path, name: str, design: dict, **options):
    point = _write_point(folder, name, design)
    build = run_synth(SynthOptions(design=str(point), build_root=root, rtl_random_vectors=200,
                                   simulator="icarus", **options))
    report = json.loads((build.out_dir / "report.json").read_text())
    return build, report


def _software_route(build, kept: list[int], thresholds: list[int]):
    """Exit and class per test sample from the bit-exact exit-unit reference over the kept exits only."""
    from frontend.calibrate import exit_configs, logit_codes, route

    configs = exit_configs(build.stages, "max_prob")
    codes = logit_codes(build.model, build.stages, build.dataset.x_test)
    return route([configs[k - 1] for k in kept], [codes[k - 1] for k in kept], thresholds)


def _check_point_build(build, report, root: Path, name: str, design: dict, initiation_interval: int):
    """What every built point must show: where it went, the design block, Yosys totals, a clean pipeline."""
    kept, thresholds = design["exits"], design["thresholds"]
    out = root / "digits" / "pynq-z2" / "designs" / name
    assert build.out_dir == out and (out / "report.md").is_file() and (out / "report.html").is_file()
    assert not (root / "digits" / "pynq-z2" / "report.json").exists(), "a point is built beside the full build"

    block = report["design"]
    assert block["id"] == name and block["predicted"] == PREDICTED
    assert {k: block[k] for k in ("exits", "thresholds", "parallelism", "mode")} == \
        {k: design[k] for k in ("exits", "thresholds", "parallelism", "mode")}
    assert block["fifo_depth"] == design["fifo_depth"] == report["sim"]["pipeline"]["params"]["fifo_depth"]
    measured, total = block["measured"], report["resources"]["total"]
    assert total["source"] == "yosys" and total["lut"] > 0
    assert (measured["lut"], measured["ff"]) == (total["lut"], total["ff"])
    # the slowest folded stage sets the rate: one sample per ceil(windows / P) cycles
    assert measured["throughput_samples_per_s"] == pytest.approx(CLOCK_HZ / initiation_interval, rel=1e-3)
    assert set(block["errors"]) >= {"lut", "throughput_samples_per_s", "accuracy"}

    sim = report["sim"]
    assert (sim["mismatches"], sim["lost"], sim["duplicated"]) == (0, 0, 0) and sim["samples"] == TEST_SAMPLES
    exit_at, predicted = _software_route(build, kept, thresholds)
    y = build.dataset.y_test
    assert measured["accuracy"] == sim["early_exit"]["accuracy"] == float(np.mean(predicted == y))
    assert report["overall"]["accuracy"] == measured["accuracy"]
    # results only at kept exits, as many at each as the software routing sends there
    assert sim["pipeline"]["exits"] == kept
    assert [(e["index"], e["samples"]) for e in sim["exits"]] == \
        [(k, int(np.sum(exit_at == i))) for i, k in enumerate(kept, start=1)]
    assert sum(e["samples"] for e in sim["exits"]) == TEST_SAMPLES

    for stage in report["stages"]:
        assert stage["rtl_bit_exact"] is True and stage["rtl_samples"] == TEST_SAMPLES
        assert stage["rtl_random_vectors"] == 200
    return exit_at


def _check_board_top(report: dict, out: Path, exits: list[int], samples: int) -> None:
    """The point's AXI-wrapped top: its files, and its simulation over AXI clean against the model."""
    for name in ("regmap.md", "regmap.h", "regmap.json", "exitflow_axi_top.v", "driver.py", "report.json"):
        assert (out / "board" / name).is_file(), name
    board = report["board_top"]
    assert board["top"]["exits"] == exits
    sim = board["sim"]
    assert (sim["mismatches"], sim["lost"], sim["duplicated"], sim["counters_match_model"]) == (0, 0, 0, True)
    assert sim["phases"][0]["samples"] == samples


def _deployed_macs(build, design: dict) -> list[int]:
    """MACs of each deployed core: its stage without the head where the exit is dropped."""
    from frontend.macs import stage_macs

    return [backbone + (head if k in design["exits"] else 0)
            for k, (backbone, head) in enumerate(map(stage_macs, build.stages), start=1)]


@pytest.mark.slow
def test_subnet_point_deploys_stages_up_to_its_exit_with_a_headless_folded_stage_1(design_root, tmp_path):
    """exits [2], subnet: stage 1 headless and folded (P=4 of 36 windows), stage 2 folded (P=1 of 9) and
    logits only, no stage 3 and no exit unit 1. Reduced form of the slow anytime build below (45-60 s)."""
    design = {"exits": [2], "thresholds": [8191], "parallelism": [4, 1, 1], "mode": "subnet", "fifo_depth": 4}
    build, report = _build(design_root, tmp_path, "subnet_2", design, board_samples=24)
    _check_point_build(build, report, design_root, "subnet_2", design, initiation_interval=9)
    _check_board_top(report, build.out_dir, exits=[2], samples=24)

    assert [(s["index"], s["outputs"]) for s in report["stages"]] == [(1, ["forwarded"]), (2, ["exit_logits"])]
    resources = report["resources"]
    assert [r["index"] for r in resources["stages"]] == [1, 2]
    assert [r["index"] for r in resources["exit_units"]] == [2]
    assert report["sim"]["pipeline"]["stages"] == 2
    assert [e["index"] for e in report["exits"]] == [2] and report["exits"][0]["exit_rate"] == 1.0
    # a sample pays for stage 1 without exit 1's head, then stage 2 with its own
    macs = _deployed_macs(build, design)
    assert [s["macs"] for s in report["stages"]] == macs
    assert report["exits"][0]["cumulative_macs"] == sum(macs)
    rtl = sorted(p.name for p in (build.out_dir / "rtl").iterdir())
    assert rtl == ["exit_unit_2", "pipeline", "s1_p4_headless", "s2_p1_logits"]


@pytest.fixture(scope="module")
def anytime_1_3(trained_digits, digits_stages, digits_data) -> dict:
    """exits [1, 3] (exit 1 lets about half the test samples out), both convs folded (P=12 of 36, P=3 of 9)."""
    from exit_unit.reference import confidence
    from frontend.calibrate import exit_configs, logit_codes

    configs = exit_configs(digits_stages, "max_prob")
    z1 = logit_codes(trained_digits, digits_stages, digits_data.x_test)[0]
    half = int(np.median(confidence(configs[0], z1)))
    return {"exits": [1, 3], "thresholds": [half, configs[2].confidence_format.max_code],
            "parallelism": [12, 3, 1], "mode": "anytime", "fifo_depth": 8}


def test_anytime_point_without_rtl_reports_kept_exits_and_the_macs_of_its_deployed_stages(
        design_root, tmp_path, anytime_1_3):
    """The software side of the point alone (no cores, Yosys or pipeline): a few seconds."""
    design = anytime_1_3
    build, report = _build(design_root, tmp_path, "anytime_sw", design, rtl=False)
    assert build.out_dir == design_root / "digits" / "pynq-z2" / "designs" / "anytime_sw"
    exit_at, predicted = _software_route(build, design["exits"], design["thresholds"])
    assert report["overall"]["accuracy"] == float(np.mean(predicted == build.dataset.y_test))
    assert [(e["index"], e["threshold_code"], e["samples"]) for e in report["exits"]] == \
        [(k, thr, int(np.sum(exit_at == i)))
         for i, (k, thr) in enumerate(zip(design["exits"], design["thresholds"]), start=1)]
    assert [(s["index"], s["outputs"]) for s in report["stages"]] == \
        [(1, ["exit_logits", "forwarded"]), (2, ["forwarded"]), (3, ["exit_logits"])]
    # a sample leaving at exit 3 went through exit 1's head (kept) but not exit 2's (dropped)
    macs = _deployed_macs(build, design)
    assert [s["macs"] for s in report["stages"]] == macs
    assert [e["cumulative_macs"] for e in report["exits"]] == [macs[0], sum(macs)]
    assert report["overall"]["avg_macs"] == pytest.approx(np.mean(np.where(exit_at == 1, macs[0], sum(macs))))
    assert report["resources"] is None and report["sim"] is None
    assert report["design"]["measured"]["lut"] is None


@pytest.mark.slow
def test_anytime_point_without_exit_2_routes_as_the_software_model_over_exits_1_and_3(
        design_root, tmp_path, anytime_1_3):
    """exits [1, 3], stage 2 headless, both convs folded, FIFO depth 8 (60 s on an idle 2-core machine, 85-100 s
    beside other jobs; the subnet test above is its reduced form)."""
    design = anytime_1_3
    build, report = _build(design_root, tmp_path, "anytime_1_3", design)
    exit_at = _check_point_build(build, report, design_root, "anytime_1_3", design, initiation_interval=3)
    assert 0.3 < np.mean(exit_at == 1) < 0.7, "both kept exits should see traffic"
    _check_board_top(report, build.out_dir, exits=[1, 3], samples=TEST_SAMPLES)

    assert [(s["index"], s["outputs"]) for s in report["stages"]] == \
        [(1, ["exit_logits", "forwarded"]), (2, ["forwarded"]), (3, ["exit_logits"])]
    resources = report["resources"]
    assert [r["index"] for r in resources["stages"]] == [1, 2, 3]
    assert [r["index"] for r in resources["exit_units"]] == [1, 3]
    assert report["sim"]["pipeline"]["stages"] == 3
    assert [e["index"] for e in report["exits"]] == [1, 3]
    # a sample leaving at exit 3 went through exit 1's head (kept) but not exit 2's (dropped)
    macs = _deployed_macs(build, design)
    assert [s["macs"] for s in report["stages"]] == macs
    assert [e["cumulative_macs"] for e in report["exits"]] == [macs[0], sum(macs)]
    rtl = sorted(p.name for p in (build.out_dir / "rtl").iterdir())
    assert rtl == ["exit_unit_1", "exit_unit_3", "pipeline", "s1_p12", "s2_p3_headless", "s3_pfull"]
