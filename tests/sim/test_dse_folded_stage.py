"""A whole stage with its conv folded (conv core -> gather -> parallel rest) is bit-exact with the QKeras stage."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("qkeras")


def test_folded_stage_matches_qkeras_stage_on_digits_and_random_inputs(tmp_path):
    from sklearn.datasets import load_digits

    from hardware.folded.folded import build_folded_stage
    from hardware.stage.trace import input_format_of
    from sim.dse.folded import simulate_folded_stage
    from sim.stage.testmodels import two_exit_stages

    stage = two_exit_stages(seed=2)[0]  # in_q -> conv 3x3 valid (36 windows) -> q -> avg pool -> exit head
    core = build_folded_stage(stage, None, tmp_path / "rtl", "fstage", parallelism=5)
    assert core.steps == 8
    rng = np.random.default_rng(9)
    x = np.concatenate([load_digits().images[:40].reshape(-1, 8, 8, 1) / 16.0,
                        rng.uniform(-2.0, 2.0, (30, 8, 8, 1))]).astype(np.float32)
    in_fmt = input_format_of(stage)
    x_codes = in_fmt.to_codes(in_fmt.to_real(in_fmt.quantize(x)))
    outs = stage.predict(in_fmt.to_real(x_codes).astype(np.float32), verbose=0)
    expected = [t.fmt.to_codes(o) for t, o in zip(core.outputs, outs)]
    assert all(len(np.unique(e)) > 10 for e in expected)  # real data, not a constant
    res = simulate_folded_stage(core, x_codes, expected, tmp_path / "sim", in_pause=0.2, out_pause=0.2)
    assert res.vectors == len(x) and res.mismatches == 0 and max(res.max_abs_diff) == 0


def test_folded_headless_stage_matches_headless_model(digits_stages, digits_data, tmp_path):
    """Digits stage 2 without its head is conv + activation only: the rest core after the fold is an identity."""
    from hardware.folded.folded import build_folded_stage
    from frontend.stages import headless_model
    from sim.dse.folded import simulate_folded_stage
    from sim.stage.verify import random_codes

    stage = digits_stages[1]
    model = headless_model(stage)
    core = build_folded_stage(model, stage.input_format, tmp_path / "rtl", "fheadless", parallelism=4,
                              has_logits=False)
    assert core.steps == 3 and not core.has_logits and core.outputs == [core.forwarded]
    fmt = stage.input_format
    x_real = digits_stages[0].model.predict(digits_data.x_test[:40], verbose=0)[-1]  # real data entering stage 2
    x_codes = np.concatenate([fmt.to_codes(x_real), random_codes(fmt, core.input.shape, 30, seed=5)])
    expected = [core.forwarded.fmt.to_codes(model.predict(fmt.to_real(x_codes).astype(np.float32), verbose=0))]
    assert len(np.unique(expected[0])) > 3
    res = simulate_folded_stage(core, x_codes, expected, tmp_path / "sim", in_pause=0.2, out_pause=0.2)
    assert res.vectors == len(x_codes) and res.mismatches == 0 and max(res.max_abs_diff) == 0
