"""The valid/ready stream shell around a stage core, in cocotb (Verilator and Icarus).

A small two-output stage keeps the build short; the shell is the same for every stage.
"""
from __future__ import annotations

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")


def tiny_stage():
    inp = keras.Input((6,))
    x = qk.QActivation("quantized_relu(6,1)")(inp)
    fwd = qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                    activation="quantized_relu(5,2)", name="fwd",
                    kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=11))(x)
    h = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=12))(fwd)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(h)
    return keras.Model(inp, [logits, fwd])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from hardware.stage import build_stage_rtl

    model = tiny_stage()
    rtl = build_stage_rtl(model, None, tmp_path_factory.mktemp("tiny") / "rtl", "tiny")
    fmt = rtl.input_format
    x = np.random.default_rng(3).integers(fmt.min_code, fmt.max_code + 1, size=(3000, 6))
    ys = model.predict(fmt.to_real(x), verbose=0)
    want = [t.fmt.to_codes(y) for t, y in zip(rtl.outputs, ys)]
    return rtl, x, want


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_shell_loses_nothing_under_random_back_pressure(tiny, simulator, tmp_path):
    from sim.stage.run import simulate_stage

    rtl, x, want = tiny
    assert rtl.latency_cycles >= 2 and rtl.forwarded.fmt == FixedFormat(5, 3, False)
    result = simulate_stage(rtl, x, want, tmp_path, simulator=simulator, in_pause=0.3, out_pause=0.5, seed=5)
    assert result.vectors == len(x)
    assert result.max_abs_diff == [0, 0] and result.mismatches == 0
