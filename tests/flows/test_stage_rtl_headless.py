"""A headless stage core (exit dropped): forwarded tensor only, smaller than the core with its head."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("qkeras")


def test_headless_core_outputs_the_forwarded_tensor_and_is_smaller(digits_stages, tmp_path):
    from hardware.stage import build_stage_rtl
    from frontend.stages import headless_model

    stage = digits_stages[1]
    fmt = stage.input_format
    full = build_stage_rtl(stage.model, fmt, tmp_path / "full", "stage_2")
    core = build_stage_rtl(headless_model(stage), fmt, tmp_path / "headless", "stage_2_headless", has_logits=False)
    assert not core.has_logits and full.has_logits
    assert core.outputs == [core.forwarded]
    assert (core.forwarded.shape, core.forwarded.fmt) == (full.forwarded.shape, full.forwarded.fmt)
    assert core.out_width == full.forwarded.bits
    # the exit head (flatten + dense to 10 logits) is adders da4ml no longer builds
    assert core.lut_estimate < full.lut_estimate
    manifest = json.loads((tmp_path / "headless" / "stage.json").read_text())
    assert manifest["has_logits"] is False and len(manifest["outputs"]) == 1
    assert json.loads((tmp_path / "full" / "stage.json").read_text())["has_logits"] is True


def test_has_logits_false_needs_a_single_output_model(digits_stages, tmp_path):
    from hardware.stage import build_stage_rtl

    with pytest.raises(ValueError, match="headless stage outputs its forwarded tensor only"):
        build_stage_rtl(digits_stages[1].model, digits_stages[1].input_format, tmp_path, "s2", has_logits=False)
