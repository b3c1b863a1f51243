"""The trained-model cache: keyed on the training arrays, spec, options, code and tool versions.

A tiny dense spec trained for one epoch on a small DATA= file keeps each flow run to seconds.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml

TINY = {"name": "tiny", "classes": 3, "input": {"shape": [4], "quantizer": "quantized_bits(8, 0, alpha=1)"},
        "blocks": [{"layers": [{"type": "dense", "units": 4}], "exit": []},
                   {"layers": [{"type": "dense", "units": 4}], "exit": []}],
        "training": {"epochs": 1, "batch_size": 16}}


def _data(path, seed: int):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.uniform(0, 1, (48, 4)).astype(np.float32), y_train=rng.integers(0, 3, 48),
             x_test=rng.uniform(0, 1, (12, 4)).astype(np.float32), y_test=rng.integers(0, 3, 12))


def _train(root, spec, data, **options):
    from rich.console import Console

    from flows.synth import Build, SynthOptions, load_inputs, train_model

    build = Build(options=SynthOptions(model=str(spec), data=str(data), build_root=root, **options),
                  console=Console(quiet=True))
    load_inputs(build)
    train_model(build)
    return build


@pytest.fixture
def tiny(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    data = tmp_path / "data.npz"
    _data(data, seed=0)
    return spec, data


def test_editing_the_data_file_under_the_same_name_retrains(tmp_path, tiny):
    spec, data = tiny
    first = _train(tmp_path / "build", spec, data)
    assert first.training["from_cache"] is False
    again = _train(tmp_path / "build", spec, data)
    assert again.training["from_cache"] is True and again.training["key"] == first.training["key"]
    _data(data, seed=1)                                    # same name, new arrays
    edited = _train(tmp_path / "build", spec, data)
    assert edited.training["from_cache"] is False and edited.training["key"] != first.training["key"]
    w_first, w_edited = (b.model.get_weights() for b in (first, edited))
    assert any(not np.array_equal(a, b) for a, b in zip(w_first, w_edited))   # really trained on the new data


@pytest.fixture(scope="module")
def key_inputs():
    from frontend.data import Dataset
    from frontend.spec import parse_spec

    spec = parse_spec(TINY)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (20, 4)).astype(np.float32), rng.integers(0, 3, 20)
    return spec, Dataset("d", x, y, x[:5], y[:5], x[:5], y[:5])


def test_training_key_changes_with_each_input_and_only_then(key_inputs, monkeypatch):
    import flows.content_key as content_key
    from flows.synth import training_key

    spec, data = key_inputs
    base = training_key(spec, spec.training, data)
    assert training_key(spec, spec.training, replace(data)) == base            # nothing changed: a hit
    x = data.x_train.copy()
    x[0, 0] += 0.25
    y = data.y_train.copy()
    y[0] = (y[0] + 1) % 3
    misses = {
        "x_train": training_key(spec, spec.training, replace(data, x_train=x)),
        "y_train": training_key(spec, spec.training, replace(data, y_train=y)),
        "mode": training_key(spec, replace(spec.training, mode="exits_only"), data),
        "epochs": training_key(spec, replace(spec.training, epochs=2), data),
        "seed": training_key(spec, replace(spec.training, seed=1), data),
        "spec": training_key(replace(spec, classes=4), spec.training, data),
        "backbone": training_key(spec, spec.training, data, backbone_trained=True),
    }
    assert all(k != base for k in misses.values()), [n for n, k in misses.items() if k == base]
    assert len(set(misses.values())) == len(misses)
    # the calibration block acts after training: changing it reuses the model
    assert training_key(replace(spec, calibration=replace(spec.calibration, policy="margin")),
                        spec.training, data) == base
    # the splits training does not read (calibration, test) do not change the key
    assert training_key(spec, spec.training, replace(data, x_test=data.x_test + 1)) == base
    # a new QKeras version misses
    real = content_key.tool_version
    monkeypatch.setattr(content_key, "tool_version", lambda name: "0.9.1" if name == "qkeras" else real(name))
    assert training_key(spec, spec.training, data) != base


def test_training_key_covers_the_training_code(key_inputs, tmp_path, monkeypatch):
    import flows.content_key as content_key
    from flows.synth import training_key

    spec, data = key_inputs
    fake = tmp_path / "frontend"
    fake.mkdir()
    for name in ("build.py", "train.py", "spec.py", "graph.py"):
        (fake / name).write_text(f"# {name}\n")
    monkeypatch.setattr(content_key, "ROOT", tmp_path)
    base = training_key(spec, spec.training, data)
    (fake / "train.py").write_text("# train.py, edited\n")
    assert training_key(spec, spec.training, data) != base
