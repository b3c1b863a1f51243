"""Which data split a build's pipeline run streams (sim.pipeline.simulate.simulate_build, SIM_SPLIT=)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import frontend.calibrate
import sim.pipeline.simulate as simulate


def _build():
    data = SimpleNamespace(x_test=np.zeros((5, 2)), y_test=np.zeros(5, dtype=int),
                           x_cal=np.ones((7, 2)), y_cal=np.ones(7, dtype=int))
    stage = SimpleNamespace(model=None, input_format=None)
    return SimpleNamespace(dataset=data, model=None, stages=[stage], exit_configs=[], thresholds=[],
                           out_dir=None, board=None)


@pytest.mark.parametrize("split,rows,label", [("test", 5, 0), ("calibration", 7, 1)])
def test_the_pipeline_streams_the_split_it_is_asked_for_and_says_which(monkeypatch, split, rows, label):
    streamed = {}

    def fake_pipeline(models, configs, thresholds, x, *args, labels=None, **kwargs):
        streamed.update(x=x, labels=labels)
        return SimpleNamespace(split=None)

    monkeypatch.setattr(simulate, "simulate_pipeline", fake_pipeline)
    monkeypatch.setattr(frontend.calibrate, "logit_codes", lambda model, stages, x: [])
    result = simulate.simulate_build(_build(), split=split)
    assert len(streamed["x"]) == rows and set(streamed["labels"]) == {label}
    assert result.split == split


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        simulate.simulate_build(_build(), split="train")
