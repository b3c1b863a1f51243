"""headless_model: a stage without its exit head computes the forwarded tensor exactly as the full stage."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qkeras")


@pytest.mark.parametrize("k", [1, 2])
def test_headless_model_outputs_the_stage_forwarded_tensor_without_head_layers(digits_stages, digits_data, k):
    from frontend.stages import headless_model

    stage = digits_stages[k - 1]
    model = headless_model(stage)
    assert model.name == f"stage_{k}_headless"
    assert len(model.outputs) == 1
    names = {layer.name for layer in model.layers}
    assert names == {layer.name for layer in stage.model.layers} - set(stage.plan.head)
    full_layers = {id(layer) for layer in stage.model.layers}
    assert not any(id(layer) in full_layers for layer in model.layers), "layers are clones, not shared"

    x = digits_data.x_test
    for stage_before in digits_stages[:k - 1]:  # the tensor entering stage k
        x = stage_before.model.predict(x, verbose=0)[-1]
    forwarded = stage.model.predict(x, verbose=0)[-1]
    headless = model.predict(x, verbose=0)
    assert headless.shape == forwarded.shape and len(np.unique(forwarded)) > 2
    assert np.array_equal(headless, forwarded)


def test_last_stage_has_no_headless_model(digits_stages):
    from frontend.stages import headless_model

    with pytest.raises(ValueError, match="final exit, which is always kept"):
        headless_model(digits_stages[-1])
