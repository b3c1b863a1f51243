"""Shared fixtures: the example spec, the digits data, and a trained example model (trained once per run)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits.yaml"


@pytest.fixture(scope="session")
def digits_spec():
    from frontend.spec import load_spec

    return load_spec(EXAMPLE)


@pytest.fixture(scope="session")
def digits_data(digits_spec):
    from frontend.data import load_dataset

    return load_dataset(digits_spec.input_shape, digits_spec.classes)


@pytest.fixture(scope="session")
def trained_digits(digits_spec, digits_data):
    """The example model trained as the flow trains it (a few seconds)."""
    from frontend.build import build_model
    from frontend.train import train

    model = build_model(digits_spec)
    train(model, digits_data.x_train, digits_data.y_train, digits_spec.training)
    return model


@pytest.fixture(scope="session")
def digits_stages(trained_digits):
    from frontend.stages import split_model

    return split_model(trained_digits)
