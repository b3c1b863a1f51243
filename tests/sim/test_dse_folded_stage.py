"""A whole stage with its conv folded (conv core -> gather -> parallel rest) is bit-exact with the QKeras stage."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("qkeras")


def test_folded_stage_matches_qkeras_stage_on_digits_and_random_inputs(tmp_path):
    from sklearn.datasets import load_digits

    from flows.stage_rtl.folded import build_folded_stage
    from flows.stage_rtl.trace import input_format_of
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
