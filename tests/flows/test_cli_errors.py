"""Bad inputs end in one `error:` line naming the problem and the fix, a non-zero exit and no report;
an internal error says it is a bug, exits 3 and keeps its traceback in build/exitflow.log.

Every bad input here must fail before anything trains or simulates: the guard fixture records any
call of the trainer or the cocotb runner.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from flows.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "digits.yaml"
CORRUPT_H5 = b"\x89HDF\r\n\x1a\n" + bytes(600)   # the HDF5 signature, then zeros: a damaged file


@pytest.fixture
def nothing_heavy_runs(monkeypatch):
    """Fail loudly (in the list) if a bad input got as far as training or a simulator."""
    import frontend.train
    import sim.runner

    calls = []
    monkeypatch.setattr(frontend.train, "train", lambda *a, **k: calls.append("train"))
    monkeypatch.setattr(sim.runner, "run_cocotb", lambda *a, **k: calls.append("run_cocotb"))
    return calls


def _spec(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    change(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _h5(tmp_path: Path, name: str, body) -> Path:
    """A small (untrained) model from ``body(inputs) -> (input shape, outputs)`` saved as the user would."""
    from tensorflow import keras

    shape, make = body
    inputs = keras.Input(shape, name="input")
    model = keras.Model(inputs, make(inputs), name=name)
    path = tmp_path / f"{name}.h5"
    model.save(path)
    return path


def _q(x, name, spec="quantized_bits(8, 0, alpha=1)"):
    from qkeras import QActivation

    return QActivation(spec, name=name)(x)


def _head(x, name):
    from qkeras import QDense
    from tensorflow import keras

    x = keras.layers.Flatten(name=f"{name}_flat")(x) if len(x.shape) > 2 else x
    x = QDense(10, kernel_quantizer="quantized_bits(4, 0, alpha=1)", bias_quantizer="quantized_bits(4, 0, alpha=1)",
               name=f"{name}_dense")(x)
    return _q(x, name, "quantized_bits(16, 6, alpha=1)")


def _conv(x, name):
    from qkeras import QConv2D

    x = QConv2D(4, 3, kernel_quantizer="quantized_bits(4, 0, alpha=1)", bias_quantizer="quantized_bits(4, 0, alpha=1)",
                name=name)(x)
    return _q(x, f"{name}_act", "quantized_relu(4, 2)")


def single_output(x):
    return [_head(_conv(_q(x, "in_q", "quantized_relu(5, 1)"), "c1"), "exit_1")]


def with_lstm(x):
    from tensorflow import keras

    h = keras.layers.LSTM(8, name="lstm")(_q(x, "in_q"))
    return [_head(h, "exit_1"), _head(h, "exit_2")]


def with_conv_transpose(x):
    from tensorflow import keras

    h = keras.layers.Conv2DTranspose(2, 3, name="upsample")(_conv(_q(x, "in_q", "quantized_relu(5, 1)"), "c1"))
    return [_head(h, "exit_1"), _head(_conv(h, "c2"), "exit_2")]


def float_scaled_weights(x):
    from qkeras import QDense
    from tensorflow import keras

    h = _conv(_q(x, "in_q", "quantized_relu(5, 1)"), "c1")
    d = QDense(10, kernel_quantizer="quantized_bits(4, 0, alpha='auto')", bias_quantizer="quantized_bits(4, 0, alpha=1)",
               name="auto_dense")(keras.layers.Flatten(name="f")(h))
    return [_head(h, "exit_1"), d]


def batch_norm_after_pooling(x):
    from tensorflow import keras

    h = _conv(_q(x, "in_q", "quantized_relu(5, 1)"), "c1")
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    return [_head(h, "exit_1"), _head(_conv(h, "c2"), "exit_2")]


def _renamed_class(path: Path, old: str, new: str) -> Path:
    """The saved file with every layer of class ``old`` renamed ``new`` in its config (as a file written by a
    QKeras that has ``new`` would read)."""
    import h5py

    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        assert f'"class_name": "{old}"' in config
        f.attrs["model_config"] = config.replace(f'"class_name": "{old}"', f'"class_name": "{new}"')
    return path


def qdense_batchnorm_file(t: Path) -> Path:
    import qkeras

    assert not hasattr(qkeras, "QDenseBatchnorm"), "the pinned QKeras gained QDenseBatchnorm: support it"
    return _renamed_class(_h5(t, "dense_bn", ((8, 8, 1), single_output)), "QDense", "QDenseBatchnorm")


def _npz(tmp_path, **arrays) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


# (name, argv from tmp_path, a fragment of the one error line, exit code)
BAD_INPUTS = [
    ("corrupt .h5", lambda t: ["synth", "--model", str(_bytes(t / "broken.h5", CORRUPT_H5))],
     "cannot read model file", 1),
    ("single-output model", lambda t: ["synth", "--model", str(_h5(t, "single", ((8, 8, 1), single_output)))],
     "has a single output, so no early exit; pass EXITS=auto", 1),
    ("a QDenseBatchnorm (not in QKeras 0.9.0)", lambda t: ["synth", "--model", str(qdense_batchnorm_file(t))],
     "layer 'exit_1_dense' is a QDenseBatchnorm, which QKeras 0.9.0 (the version exitflow pins) and Keras do not "
     "provide; use QDense followed by BatchNormalization", 1),
    ("an LSTM", lambda t: ["synth", "--model", str(_h5(t, "recurrent", ((8, 8), with_lstm)))],
     "layer 'lstm' (LSTM) is not supported", 1),
    ("a Conv2DTranspose", lambda t: ["synth", "--model", str(_h5(t, "transposed", ((8, 8, 1), with_conv_transpose)))],
     "layer 'upsample' (Conv2DTranspose) is not supported", 1),
    ("alpha='auto' weights", lambda t: ["synth", "--model", str(_h5(t, "auto_alpha", ((8, 8, 1), float_scaled_weights)))],
     "layer 'auto_dense' (QDense): kernel quantiser: quantized_bits with alpha='auto' scales by a float", 1),
    ("EXITS naming a missing layer", lambda t: ["synth", "--exits", "nowhere", "--model",
                                               str(_h5(t, "single", ((8, 8, 1), single_output)))],
     "EXITS names layer 'nowhere', which model 'single' does not have", 1),
    ("EXITS on a spec", lambda t: ["synth", "--exits", "auto"], "EXITS=auto attaches exit heads to a one-output", 1),
    ("wrong-shape data", lambda t: ["synth", "--data", str(_npz(t, x_train=np.zeros((10, 5)), y_train=np.zeros(10),
                                                                x_test=np.zeros((4, 5)), y_test=np.zeros(4)))],
     "x_train samples have shape (5,) but the model input is (8, 8, 1)", 1),
    ("data missing keys", lambda t: ["synth", "--data", str(_npz(t, x_train=np.zeros((10, 8, 8, 1))))],
     "lacks array(s) y_train, x_test, y_test", 1),
    ("spec without a shape", lambda t: ["synth", "--model", str(_spec(t, lambda d: d["input"].pop("shape")))],
     "input.shape: missing; give the input shape", 1),
    ("non-integer layer field", lambda t: ["synth", "--model", str(_spec(
        t, lambda d: d["blocks"][0]["layers"][0].update(filters="six")))],
     "blocks[0].layers[0].filters: 'six' is not a whole number; give an integer >= 1", 1),
    ("float BatchNormalization after pooling", lambda t: ["synth", "--model", str(_h5(
        t, "bn_after_pool", ((8, 8, 1), batch_norm_after_pooling)))],
     "layer 'bn' (BatchNormalization) follows 'pool' (MaxPooling2D), which has no weights to fold it into", 1),
    ("negative accuracy_drop", lambda t: ["synth", "--model", str(_spec(
        t, lambda d: d["calibration"].update(accuracy_drop=-1.0)))],
     "calibration.accuracy_drop: -1.0 is not >= 0", 1),
    ("unknown policy", lambda t: ["synth", "--policy", "vibes"], "unknown exit policy 'vibes'; use one of", 1),
    ("unknown board", lambda t: ["synth", "--board", "zx-spectrum"], "unknown board 'zx-spectrum'; known boards:", 1),
    ("compare on a non-report", lambda t: ["compare", str(_bytes(t / "a.json", b'{"schema": 1}')),
                                           str(_bytes(t / "notes.json", b'{"todo": []}'))],
     "is not an exitflow report.json (no 'schema' key)", 2),
]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _with_root(argv: list[str], root: Path) -> list[str]:
    return argv + ["--build-root", str(root)] if argv[0] == "synth" else argv


@pytest.mark.parametrize("name, argv, fragment, code", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_error_line_a_non_zero_exit_and_no_report(tmp_path, capsys, nothing_heavy_runs,
                                                                    name, argv, fragment, code):
    root = tmp_path / "build"
    got = main(_with_root(argv(tmp_path), root))
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert got == code
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "; " in lines[0], "the line names the fix after the problem"
    assert "Traceback" not in out + err
    assert not list(tmp_path.rglob("report.json")), "a failed run must not write a report"
    assert nothing_heavy_runs == [], f"{name} got as far as {nothing_heavy_runs}"


def test_corrupt_h5_keeps_what_h5py_said(tmp_path, capsys):
    import h5py

    bad = _bytes(tmp_path / "broken.h5", CORRUPT_H5)
    with pytest.raises(OSError) as h5py_said:
        h5py.File(bad, "r")
    main(["synth", "--model", str(bad), "--build-root", str(tmp_path / "b")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"cannot read model file {bad}: OSError: {h5py_said.value}" in line
    assert line.endswith("save a QKeras functional model with model.save('model.h5')")


def test_negative_accuracy_drop_on_the_command_line_fails_before_training(tmp_path, capsys, nothing_heavy_runs):
    assert main(["synth", "--accuracy-drop", "-0.5", "--build-root", str(tmp_path)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "accuracy drop -0.5 is not >= 0" in line and "--accuracy-drop 1.0" in line
    assert nothing_heavy_runs == []


def test_every_problem_of_a_spec_gets_its_own_error_line(tmp_path, capsys):
    def two_problems(d):
        d["input"].pop("shape")
        d["calibration"]["policy"] = "vibes"

    spec = _spec(tmp_path, two_problems)
    assert main(["synth", "--model", str(spec), "--build-root", str(tmp_path / "b")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {spec}: input.shape: missing; give the input shape as a list of positive integers, "
                     "e.g. shape: [8, 8, 1]",
                     f"error: {spec}: calibration.policy: 'vibes' is unknown; use one of max_prob, entropy, margin"]
    log = (tmp_path / "b" / "exitflow.log").read_text()
    assert all(line.removeprefix("error: ") in log for line in lines)   # the run's log has them too


def test_internal_error_is_called_a_bug_exits_3_and_keeps_the_traceback(tmp_path, capsys, monkeypatch):
    import flows.synth

    def broken_board_loader(name):
        return {}["part"]   # a bug: a KeyError deep in a step

    monkeypatch.setattr(flows.synth, "load_board", broken_board_loader)
    assert main(["synth", "--build-root", str(tmp_path)]) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    log = tmp_path / "exitflow.log"
    assert line == f"error: internal error (a bug in exitflow): KeyError: 'part'; traceback in {log}"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "broken_board_loader" in text and "KeyError: 'part'" in text


def _python_m_flows(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "flows", *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("argv, code", [(["synth", "--board", "zx-spectrum"], 1),
                                        (["compare", "a.json", "notes.json"], 2)])
def test_python_m_flows_exit_code_and_stderr_are_exactly_the_error_line(tmp_path, argv, code):
    _bytes(tmp_path / "a.json", b'{"schema": 1}')
    _bytes(tmp_path / "notes.json", b"not json at all")
    proc = _python_m_flows(argv + (["--build-root", str(tmp_path / "b")] if argv[0] == "synth" else []), tmp_path)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stdout, proc.stderr
