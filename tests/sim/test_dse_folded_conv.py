"""Folded conv core (P window kernels, raster order) is bit-exact with the QKeras conv layer."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

from frontend.fixedpoint import qkeras_format  # noqa: E402


@pytest.fixture(scope="module")
def conv_model():
    """8x8x1 -> input quantiser -> 3x3 valid conv, 4 filters -> quantized_relu (36 output pixels)."""
    init = keras.initializers.RandomUniform(-1.0, 1.0, seed=3)
    inp = keras.Input((8, 8, 1))
    xq = qk.QActivation("quantized_bits(7,1,alpha=1)", name="in_q")(inp)
    y = qk.QConv2D(4, 3, padding="valid", kernel_quantizer="quantized_bits(4,1,alpha=1)",
                   bias_quantizer="quantized_bits(5,2,alpha=1)", kernel_initializer=init,
                   bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=4), name="conv")(xq)
    out = qk.QActivation("quantized_relu(6,3)", name="conv_q")(y)
    return keras.Model(inp, [xq, out])


def _data(model, n_random: int):
    from sklearn.datasets import load_digits

    digits = load_digits().images[:60].reshape(-1, 8, 8, 1) / 16.0
    rng = np.random.default_rng(5)
    x = np.concatenate([digits, rng.uniform(-2.0, 2.0, (n_random, 8, 8, 1))]).astype(np.float32)
    xq, y = model.predict(x, verbose=0)
    in_fmt = qkeras_format(model.get_layer("in_q").quantizer)
    out_fmt = qkeras_format(model.get_layer("conv_q").quantizer)
    return in_fmt, in_fmt.to_codes(xq), out_fmt.to_codes(y)


@pytest.mark.parametrize("parallelism, stalls", [(4, 0.0), (5, 0.3)])
def test_folded_conv_matches_qkeras_layer_at_two_parallelisms(conv_model, tmp_path, parallelism, stalls):
    from hardware.folded.folded import build_folded_conv
    from sim.dse.folded import simulate_folded_conv

    in_fmt, x_codes, want = _data(conv_model, 40)
    core = build_folded_conv(conv_model.get_layer("conv"), in_fmt, tmp_path / "rtl", f"fconv_p{parallelism}",
                             parallelism, activation_layer=conv_model.get_layer("conv_q"))
    assert core.steps == -(-36 // parallelism)
    assert core.pixel.fmt == qkeras_format(conv_model.get_layer("conv_q").quantizer)
    res = simulate_folded_conv(core, x_codes, tmp_path / "sim", simulator="icarus", in_pause=stalls,
                               out_pause=stalls)
    assert res.beats_per_frame == core.steps
    assert int(np.max(np.abs(res.outputs - want))) == 0
    if stalls == 0.0:  # back to back frames: one frame per `steps` cycles (II = ceil(36 / P))
        assert res.cycles <= len(x_codes) * core.steps + core.kernel_latency_cycles + 8


def test_folded_conv_rejects_parallelism_beyond_the_pixel_count(conv_model, tmp_path):
    from hardware.folded.folded import build_folded_conv

    with pytest.raises(ValueError, match=r"must be in 1..36"):
        build_folded_conv(conv_model.get_layer("conv"), _data(conv_model, 0)[0], tmp_path, "fconv_bad", 37)
