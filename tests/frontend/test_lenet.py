"""The Branchy-LeNet example (examples/lenet.yaml) on 28x28 MNIST: reduced in the default suite, full when slow."""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from frontend.build import build_model
from frontend.calibrate import calibrate, evaluate, exit_configs, logit_codes
from frontend.data import load_dataset
from frontend.macs import baseline_macs, cumulative_exit_macs
from frontend.spec import load_spec, parse_spec
from frontend.stages import split_model
from frontend.train import train

LENET = Path(__file__).resolve().parents[2] / "examples" / "lenet.yaml"


@pytest.fixture(scope="module")
def mnist():
    spec = load_spec(LENET)
    return load_dataset(spec.input_shape, spec.classes, dataset=spec.dataset)


def _reduced_spec():
    """Same layers, exits and quantisers; 3 filters in stage 1, 4 in the exit head, 4 and 6 in stage 2,
    dense 32, 6 epochs at a higher rate.

    Tracing the training step costs more than an epoch of 1,200 images, so epochs are cheap here."""
    data = copy.deepcopy(yaml.safe_load(LENET.read_text()))
    data["blocks"][0]["layers"][0]["filters"] = 3
    data["blocks"][0]["exit"][0]["filters"] = 4
    data["blocks"][1]["layers"][0]["filters"] = 4
    data["blocks"][1]["layers"][2]["filters"] = 6
    data["blocks"][1]["layers"][5]["units"] = 32
    data["training"].update(epochs=6, learning_rate=0.01)
    return parse_spec(data)


def _train_and_calibrate(spec, data):
    model = build_model(spec)
    train(model, data.x_train, data.y_train, spec.training)
    stages = split_model(model)
    configs = exit_configs(stages, spec.calibration.policy)
    macs, base = cumulative_exit_macs(stages), baseline_macs(stages)
    thresholds = calibrate(configs, logit_codes(model, stages, data.x_cal), data.y_cal, macs,
                           spec.calibration.accuracy_drop, spec.calibration.margin_se)
    codes = logit_codes(model, stages, data.x_test)
    return model, stages, codes, evaluate(configs, codes, data.y_test, thresholds, macs, base)


def test_reduced_lenet_trains_into_two_stages_that_exit_early(mnist):
    spec = _reduced_spec()
    subset = replace(mnist, x_train=mnist.x_train[:1200], y_train=mnist.y_train[:1200])
    model, stages, codes, ev = _train_and_calibrate(spec, subset)
    assert [s.index for s in stages] == [1, 2] and stages[1].is_last
    assert stages[0].model.input_shape[1:] == (28, 28, 1)
    assert stages[1].model.input_shape[1:] == (12, 12, 3)             # the pooled block-1 tensor, forwarded
    assert model.get_layer("exit1_dense").input.shape[-1] == 6 * 6 * 4   # exit head: conv 3x3, pool 2x2, flatten
    exit_accuracy = [float((np.argmax(z, 1) == mnist.y_test).mean()) for z in codes]
    assert min(exit_accuracy) > 0.6                                   # chance is 0.1
    assert ev.exits[0].exit_rate > 0.3 and ev.avg_macs < ev.baseline_macs


@pytest.mark.slow
def test_full_lenet_reaches_97_percent_and_most_samples_leave_at_exit_1(mnist):
    """The example as `make synth MODEL=examples/lenet.yaml` trains it (about 2 minutes on 2 cores)."""
    spec = load_spec(LENET)
    _, _, codes, ev = _train_and_calibrate(spec, mnist)
    assert ev.final_exit_accuracy >= 0.97
    assert float((np.argmax(codes[0], 1) == mnist.y_test).mean()) >= 0.95
    assert ev.exits[0].exit_rate >= 0.8
    assert ev.accuracy >= ev.final_exit_accuracy - 0.02
