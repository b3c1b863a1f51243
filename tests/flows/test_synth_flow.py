"""The whole `make synth` flow on the example and on a user .h5 model, and its bad inputs."""
import json
from pathlib import Path

import pytest

from flows.cli import main
from flows.synth import SynthOptions, run_synth


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"report.json holds {constant}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


def _check_report(path, test_samples):
    report = _strict_json(path.read_text())
    assert report["schema"] == 1 and report["part"] == "xc7z020clg400-1" and report["clock_mhz"] == 100
    assert sum(e["exit_rate"] for e in report["exits"]) == pytest.approx(1.0)
    overall = report["overall"]
    assert overall["accuracy"] >= overall["final_exit_accuracy"] - overall["accuracy_drop_target"] / 100 - 0.02
    assert overall["avg_macs"] < overall["baseline_macs"]
    for stage in report["stages"]:
        assert stage["csim_bit_exact"] is True and stage["max_abs_diff"] == 0
        assert stage["csim_samples"] == test_samples
    assert set(report["tools"]) >= {"tensorflow", "qkeras", "hls4ml", "python"}
    return report


@pytest.mark.slow
def test_example_flow_writes_a_bit_exact_report(tmp_path):
    """Every step: training, calibration, HLS C-sim, stage RTL in cocotb, Yosys, pipeline simulation, PR."""
    build = run_synth(SynthOptions(build_root=tmp_path, rtl_random_vectors=500))
    report = _check_report(tmp_path / "digits" / "pynq-z2" / "report.json", 360)
    assert len(report["exits"]) == 3 and report["overall"]["avg_macs"] < 0.8 * report["overall"]["baseline_macs"]
    assert (tmp_path / "digits" / "pynq-z2" / "report.md").read_text().startswith("# digits on pynq-z2")
    for k in (1, 2, 3):
        assert (tmp_path / "digits" / "pynq-z2" / "hls" / f"stage_{k}" / "firmware").is_dir()
    for stage in report["stages"]:
        assert stage["rtl_bit_exact"] is True and stage["rtl_samples"] == 360 and stage["rtl_random_vectors"] == 500
    resources = report["resources"]
    assert resources["fits"] and len(resources["stages"]) == 3 and len(resources["exit_units"]) == 3
    assert resources["total"]["lut"] == sum(r["lut"] for r in resources["stages"] + resources["exit_units"])
    sim = report["sim"]
    assert (sim["mismatches"], sim["lost"], sim["duplicated"]) == (0, 0, 0) and sim["samples"] == 360
    assert sim["early_exit"]["mean_latency_cycles"] <= 0.6 * sim["exits_off"]["mean_latency_cycles"]
    assert report["pr"]["mapping"]["all_resident_fits"] is True and report["pr"]["schedules"]
    assert (tmp_path / "digits" / "pynq-z2" / "report.html").read_text().count("data:image/png;base64") >= 3
    # the board files, and the wrapped top simulated over AXI against the model
    board = tmp_path / "digits" / "pynq-z2" / "board"
    for name in ("regmap.md", "regmap.h", "regmap.json", "exitflow_axi_top.v", "driver.py", "fixedpoint.py",
                 "report.json"):
        assert (board / name).is_file(), name
    top = report["board_top"]
    assert top["sim"]["phases"][0]["samples"] == 360 and top["sim"]["driver"]["samples"] > 0
    assert (top["sim"]["mismatches"], top["sim"]["lost"], top["sim"]["duplicated"]) == (0, 0, 0)
    assert top["sim"]["counters_match_model"] and "360 test samples through AXI4-Stream" in top["summary"]
    # an estimated Fmax per core and for the design, with the method named
    assert all(r["timing"]["fmax_mhz"] > 0 for r in resources["stages"] + resources["exit_units"])
    assert "estimate" in resources["timing"]["method"] and top["timing"]["fmax_mhz"] <= min(
        r["timing"]["fmax_mhz"] for r in resources["stages"])
    # a second run reuses the trained model
    again = run_synth(SynthOptions(build_root=tmp_path, hls=False, rtl=False))
    assert "cached" in again.training and again.evaluation.accuracy == build.evaluation.accuracy


@pytest.fixture(scope="module")
def user_model_file(tmp_path_factory):
    """examples/user_model.py: a hand-written two-exit model with softmax outputs, as users save them."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "user_model.py"
    spec = importlib.util.spec_from_file_location("user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_and_save(tmp_path_factory.mktemp("user") / "two_exit.h5")


def test_user_h5_model_goes_through_the_same_flow(tmp_path, user_model_file):
    build = run_synth(SynthOptions(model=str(user_model_file), build_root=tmp_path, rtl=False))
    assert build.training == {"mode": "as_given", "accuracy_drop_target": 1.0}
    report = _check_report(tmp_path / "two_exit" / "pynq-z2" / "report.json", 360)
    assert [s["outputs"] for s in report["stages"]] == [["exit_logits", "forwarded"], ["exit_logits"]]
    assert report["stages"][0]["logit_format"] == "sfixed<12,6>"


def _run_cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize("args, fragment", [   # more bad inputs: tests/flows/test_cli_errors.py
    (["--model", "missing.yaml"], "model missing.yaml does not exist"),
    (["--train", "sometimes", "--no-hls"], "unknown training mode 'sometimes'"),
])
def test_bad_arguments_fail_with_one_line_and_no_output(tmp_path, capsys, args, fragment):
    code, lines = _run_cli(["synth", "--build-root", str(tmp_path), *args], capsys)
    assert code == 1
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "digits").exists()


def test_a_calibration_split_run_builds_beside_the_test_split_build(tmp_path):
    from rich.console import Console

    from flows.errors import UserError
    from flows.synth import Build, load_inputs

    build = Build(options=SynthOptions(build_root=tmp_path, sim_split="calibration"), console=Console(quiet=True))
    load_inputs(build)
    assert build.out_dir == tmp_path / "digits" / "pynq-z2-sim-calibration"
    wrong = Build(options=SynthOptions(build_root=tmp_path, sim_split="train"), console=Console(quiet=True))
    with pytest.raises(UserError, match="SIM_SPLIT=train: not a split the pipeline can stream; give one of test"):
        load_inputs(wrong)
