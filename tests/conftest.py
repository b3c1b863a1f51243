"""Shared fixtures: the example spec, the digits data, a trained example model (trained once per run), and a
temporary build root per test module.

Hermetic: no test reads or writes the checkout's build/. Every module that runs the flow gets its own
build root under pytest's temporary directory (``example_build_root``); it starts with the flow's
training cache of the example, made once per session from scratch, so a module neither trains again
nor depends on what other modules (or earlier sessions) left behind.
"""
from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def example_training_cache(tmp_path_factory) -> Path:
    """A build root in which the flow itself trained the example once (no HLS, no RTL): its */train caches."""
    from rich.console import Console

    from flows.synth import SynthOptions, run_synth

    root = tmp_path_factory.mktemp("example_training")
    run_synth(SynthOptions(build_root=root, hls=False, rtl=False), Console(quiet=True))
    return root


@pytest.fixture(scope="module")
def example_build_root(tmp_path_factory, request, example_training_cache) -> Path:
    """This module's own build root, seeded with the session's training cache of the example."""
    root = tmp_path_factory.mktemp(f"build_{request.module.__name__.rsplit('.', 1)[-1]}")
    for cache in example_training_cache.glob("*/train"):
        shutil.copytree(cache, root / cache.relative_to(example_training_cache))
    return root


@pytest.fixture(scope="session", autouse=True)
def checkout_build_dir_is_left_alone():
    """Fails the session's last teardown if a test wrote into the checkout's build/ (tests use temporary roots)."""
    build = ROOT / "build"

    def entries() -> set[Path]:  # two levels deep: build/<model>/<board>, build/tests/<cache>, build/<log>
        return {*build.glob("*"), *build.glob("*/*")} if build.exists() else set()

    before = entries()
    yield
    after = entries()
    new = sorted(str(p.relative_to(ROOT)) for p in after - before)
    assert not new, (f"tests wrote {len(new)} path(s) into the checkout's build/ (first: {new[:3]}); "
                     "give them a temporary build root (tmp_path, example_build_root)")
