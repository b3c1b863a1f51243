"""The MVAU is bit-exact with QKeras layers: a QDense on the digits (pixel stream, 8 beats of a row) and a
QConv2D on window vectors cut in numpy (one window per beat, frame tlast passed through)."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

from frontend.fixedpoint import qkeras_format  # noqa: E402

FLOAT32_EXACT_BITS = 24  # QKeras computes in float32: exact while every accumulator fits 24 bits


def quantised_weights(layer):
    kernel = layer.kernel_quantizer_internal(layer.kernel).numpy()
    bias = layer.bias_quantizer_internal(layer.bias).numpy()
    return kernel, bias


@pytest.fixture(scope="module")
def digits_dense():
    """64 -> 10 QDense on the digits, trained a few epochs (weights as a real run has them)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.reshape(-1, 8, 8, 1) / 16.0).astype(np.float32)
    inp = keras.Input((8, 8, 1))
    xq = qk.QActivation("quantized_relu(4,0)", name="in_q")(inp)
    flat = keras.layers.Flatten()(xq)
    y = qk.QDense(10, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(6,2,alpha=1)",
                  activation="quantized_relu(4,2)", name="dense")(flat)
    model = keras.Model(inp, [xq, y])
    train = keras.Model(inp, y)
    train.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    keras.utils.set_random_seed(0)
    train.fit(x, keras.utils.to_categorical(digits.target, 10), epochs=4, batch_size=64, verbose=0)
    return model, x


def test_mvau_matches_qkeras_qdense_on_the_digits(digits_dense, tmp_path):
    from hardware.mvau import build_mvau
    from sim.hardware.mvau import simulate_mvau

    model, x = digits_dense
    layer = model.get_layer("dense")
    kernel, bias = quantised_weights(layer)
    in_fmt = qkeras_format(model.get_layer("in_q").quantizer)
    out_fmt = qkeras_format(layer.activation)
    mvau = build_mvau("digits_dense", tmp_path / "rtl", kernel, bias, in_fmt, 8, (out_fmt, True), simd=4, pe=5)
    assert mvau.beats == 8 and mvau.cycles_per_vector == 8 * 2 * 2
    assert mvau.acc_fmt.width <= FLOAT32_EXACT_BITS
    samples = x[:400]
    xq, y = model.predict(samples, verbose=0)
    want = out_fmt.to_codes(y)
    assert len(np.unique(want)) > 4, "the layer's outputs should exercise the quantiser, not sit at one code"
    res = simulate_mvau(mvau, in_fmt.to_codes(xq).reshape(len(samples), -1), tmp_path / "sim",
                        in_pause=0.2, out_pause=0.2, seed=3)
    assert int(np.max(np.abs(res.outputs - want))) == 0


def windows(x: np.ndarray, k: int) -> np.ndarray:
    """(n, h, w, c) -> (n * out_h * out_w, k*k*c) valid windows in raster order; element (dh, dw, c) of a
    window at index (dh*k + dw)*c_in + c (the sliding-window generator's beat)."""
    n, h, w, c = x.shape
    out = [x[:, i:i + k, j:j + k, :].reshape(n, -1) for i in range(h - k + 1) for j in range(w - k + 1)]
    return np.stack(out, axis=1).reshape(-1, k * k * c)


def test_mvau_matches_qkeras_qconv2d_on_window_vectors(tmp_path):
    from hardware.mvau import build_mvau
    from sim.hardware.mvau import simulate_mvau

    init = keras.initializers.RandomUniform(-1.0, 1.0, seed=21)
    inp = keras.Input((6, 6, 3))
    xq = qk.QActivation("quantized_bits(6,2,alpha=1)", name="in_q")(inp)
    conv = qk.QConv2D(4, 3, padding="valid", kernel_quantizer="quantized_bits(4,0,alpha=1)",
                      bias_quantizer="quantized_bits(6,1,alpha=1)", kernel_initializer=init,
                      bias_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=22), name="conv")(xq)
    y = qk.QActivation("quantized_bits(6,2,alpha=1)", name="out_q")(conv)
    model = keras.Model(inp, [xq, y])
    x = np.random.default_rng(23).uniform(-3.0, 3.0, (12, 6, 6, 3)).astype(np.float32)
    xq_val, y_val = model.predict(x, verbose=0)

    layer = model.get_layer("conv")
    kernel, bias = quantised_weights(layer)
    in_fmt = qkeras_format(model.get_layer("in_q").quantizer)
    out_fmt = qkeras_format(model.get_layer("out_q").quantizer)
    mvau = build_mvau("conv_win", tmp_path / "rtl", kernel.reshape(-1, 4), bias, in_fmt, 27, (out_fmt, False),
                      simd=9, pe=2, multiplier="dsp")
    assert mvau.acc_fmt.width <= FLOAT32_EXACT_BITS
    vectors = in_fmt.to_codes(windows(xq_val, 3))
    pixels = 4 * 4
    tlast = np.arange(len(vectors)) % pixels == pixels - 1   # the window stream's frame ends
    res = simulate_mvau(mvau, vectors, tmp_path / "sim", tlast=tlast, in_pause=0.3, out_pause=0.3, seed=4)
    want = out_fmt.to_codes(y_val).reshape(-1, 4)
    assert int(np.max(np.abs(res.outputs - want))) == 0
    np.testing.assert_array_equal(res.tlast, tlast)
