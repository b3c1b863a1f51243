"""The stage tracer against QKeras, layer by layer (da4ml program run in numpy, no simulator).

Every check is max |difference| == 0 in integer codes between QKeras' output
and StageRtl.reference (the exact program the Verilog is generated from).
"""
from __future__ import annotations

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")


def _qkeras_codes(model, x_real, rtl):
    ys = model.predict(x_real, verbose=0, batch_size=4096)
    ys = ys if isinstance(ys, list) else [ys]
    return [t.fmt.to_codes(y) for t, y in zip(rtl.outputs, ys)]


def assert_bit_exact(model, input_format, x_codes, tmp_path, name="dut"):
    """Build the stage, run QKeras and the traced program on the same codes, compare."""
    from hardware.stage import build_stage_rtl

    rtl = build_stage_rtl(model, input_format, tmp_path / name, name)
    x_real = rtl.input_format.to_real(x_codes).astype(np.float32)
    want = _qkeras_codes(model, x_real, rtl)
    got = rtl.reference(x_codes)
    for t, g, w in zip(rtl.outputs, got, want):
        assert g.shape == w.shape
        assert int(np.max(np.abs(g - w))) == 0, f"{t.name}: {int(np.sum(g != w))} codes differ"
    return rtl, got


def all_codes(fmt: FixedFormat, shape=()) -> np.ndarray:
    codes = np.arange(fmt.min_code, fmt.max_code + 1)
    return codes.reshape((-1,) + (1,) * len(shape)) * np.ones((1,) + shape, dtype=np.int64)


def random_codes(fmt: FixedFormat, n: int, shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(fmt.min_code, fmt.max_code + 1, size=(n,) + tuple(shape))


def single_layer(shape, *layers):
    inp = keras.Input(shape)
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


@pytest.mark.parametrize("quantizer, expect", [
    ("quantized_bits(4, 1, alpha=1)", FixedFormat(4, 2, True)),
    ("quantized_bits(5, 2, keep_negative=False, alpha=1)", FixedFormat(5, 3, False)),
    ("quantized_relu(4, 1)", FixedFormat(4, 3, False)),
    ("quantized_relu(6, 2)", FixedFormat(6, 4, False)),
])
def test_quantizer_rounds_ties_to_even_and_saturates_like_qkeras(quantizer, expect, tmp_path):
    # Input has 4 more fraction bits than the output and a wider range: every tie and both
    # saturation ends are among the 2**11 input codes.
    in_fmt = FixedFormat(11, expect.frac + 4, True)
    model = single_layer((1,), qk.QActivation(quantizer))
    x = all_codes(in_fmt, (1,))
    rtl, got = assert_bit_exact(model, in_fmt, x, tmp_path)
    assert rtl.outputs[0].fmt == expect
    lsb_out = 1 << 4
    ties = x[:, 0] % lsb_out == lsb_out // 2
    assert ties.sum() > 50  # ties really were exercised ...
    half_up = np.floor(x[:, 0] / lsb_out + 0.5)
    half_up = np.clip(half_up, expect.min_code, expect.max_code)
    assert np.any(half_up != got[0][:, 0])  # ... and round-half-up would have failed on them
    assert got[0].min() == expect.min_code and got[0].max() == expect.max_code  # both saturation ends hit


def test_qdense_with_quantised_activation_is_bit_exact(tmp_path):
    in_fmt = FixedFormat(6, 4, False)
    model = single_layer((12,), qk.QDense(7, kernel_quantizer="quantized_bits(5,0,alpha=1)",
                                          bias_quantizer="quantized_bits(5,0,alpha=1)",
                                          activation="quantized_bits(6,2,alpha=1)",
                                          kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=1),
                                          bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=2)))
    assert_bit_exact(model, in_fmt, random_codes(in_fmt, 5000, (12,)), tmp_path)


def test_qdense_without_activation_outputs_the_exact_accumulator(tmp_path):
    in_fmt = FixedFormat(5, 3, True)
    model = single_layer((9,), qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)",
                                         bias_quantizer="quantized_bits(4,0,alpha=1)",
                                         kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=3),
                                         bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=4)))
    rtl, _ = assert_bit_exact(model, in_fmt, random_codes(in_fmt, 3000, (9,)), tmp_path)
    assert rtl.outputs[0].fmt.frac == 3 + 3  # input frac + weight frac, nothing dropped


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_qconv2d_explicit_windowing_matches_qkeras(padding, tmp_path):
    in_fmt = FixedFormat(6, 5, False)
    model = single_layer((5, 6, 2),
                         qk.QConv2D(3, (3, 2), padding=padding, kernel_quantizer="quantized_bits(5,0,alpha=1)",
                                    bias_quantizer="quantized_bits(5,0,alpha=1)",
                                    kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=5),
                                    bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=6)),
                         qk.QActivation("quantized_relu(5,2)"))
    rtl, _ = assert_bit_exact(model, in_fmt, random_codes(in_fmt, 2000, (5, 6, 2)), tmp_path)
    assert rtl.outputs[0].shape == ((5, 6, 3) if padding == "same" else (3, 5, 3))


def test_max_pooling_keeps_the_format(tmp_path):
    in_fmt = FixedFormat(5, 2, True)
    model = single_layer((4, 6, 3), keras.layers.MaxPooling2D((2, 3)))
    rtl, _ = assert_bit_exact(model, in_fmt, random_codes(in_fmt, 2000, (4, 6, 3)), tmp_path)
    assert rtl.outputs[0].fmt == in_fmt and rtl.outputs[0].shape == (2, 2, 3)


def test_average_pooling_adds_fraction_bits_and_is_exact(tmp_path):
    in_fmt = FixedFormat(6, 4, False)
    model = single_layer((4, 4, 2), keras.layers.AveragePooling2D(2), keras.layers.Flatten())
    rtl, _ = assert_bit_exact(model, in_fmt, random_codes(in_fmt, 2000, (4, 4, 2)), tmp_path)
    assert rtl.outputs[0].fmt == FixedFormat(8, 6, False)
    assert rtl.outputs[0].shape == (8,)


def test_average_pooling_with_non_power_of_two_area_is_rejected(tmp_path):
    from hardware.stage import UnsupportedLayer, build_stage_rtl

    model = single_layer((6, 6, 1), keras.layers.AveragePooling2D(3, name="avg3"))
    with pytest.raises(UnsupportedLayer, match="'avg3'.*AveragePooling2D.*power of two"):
        build_stage_rtl(model, FixedFormat(6, 4, False), tmp_path, "dut")


def test_flatten_is_c_order_of_channels_last(tmp_path):
    in_fmt = FixedFormat(4, 0, True)
    model = single_layer((2, 3, 2), keras.layers.Flatten())
    x = random_codes(in_fmt, 10, (2, 3, 2))
    rtl, got = assert_bit_exact(model, in_fmt, x, tmp_path)
    assert np.array_equal(got[0], x.reshape(10, -1))


def test_qconv2d_batchnorm_uses_the_quantised_folded_weights(tmp_path):
    in_fmt = FixedFormat(6, 5, False)
    layer = qk.QConv2DBatchnorm(4, 3, padding="same", kernel_quantizer="quantized_bits(6,1,alpha=1)",
                                bias_quantizer="quantized_bits(8,3,alpha=1)",
                                kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=7))
    model = single_layer((5, 5, 2), layer, qk.QActivation("quantized_relu(6,2)"))
    bn = layer.batchnorm
    rng = np.random.default_rng(8)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4), rng.uniform(0.2, 3, 4)])
    assert_bit_exact(model, in_fmt, random_codes(in_fmt, 2000, (5, 5, 2)), tmp_path)


def test_float_batchnorm_is_rejected_with_the_layer_name(tmp_path):
    from hardware.stage import UnsupportedLayer, build_stage_rtl

    model = single_layer((6,), qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)",
                                         bias_quantizer="quantized_bits(4,0,alpha=1)"),
                         keras.layers.BatchNormalization(name="bn_x"))
    with pytest.raises(UnsupportedLayer, match="'bn_x'.*BatchNormalization.*QConv2DBatchnorm"):
        build_stage_rtl(model, FixedFormat(4, 2, True), tmp_path, "dut")
    assert not (tmp_path / "stage.json").exists()


def test_unknown_layer_is_rejected_with_name_and_class(tmp_path):
    from hardware.stage import UnsupportedLayer, build_stage_rtl

    model = single_layer((4, 4, 1), keras.layers.UpSampling2D(name="up"))
    with pytest.raises(UnsupportedLayer, match="'up' \\(UpSampling2D\\)"):
        build_stage_rtl(model, FixedFormat(4, 2, True), tmp_path, "dut")


def test_unquantised_weights_are_rejected(tmp_path):
    from hardware.stage import UnsupportedLayer, build_stage_rtl

    model = single_layer((4,), qk.QDense(2, name="plain"))
    with pytest.raises(UnsupportedLayer, match="'plain'.*no quantiser"):
        build_stage_rtl(model, FixedFormat(4, 2, True), tmp_path, "dut")


def test_stage_one_input_format_comes_from_its_input_quantiser(tmp_path):
    from hardware.stage import build_stage_rtl

    inp = keras.Input((4,))
    x = qk.QActivation("quantized_relu(6,1)")(inp)
    fwd = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                    activation="quantized_relu(5,1)")(x)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(
        qk.QDense(2, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)")(fwd))
    rtl = build_stage_rtl(keras.Model(inp, [logits, fwd]), None, tmp_path, "s1")
    assert rtl.input_format == FixedFormat(6, 5, False)
    assert [t.name for t in rtl.outputs][0] == "logits"
    assert rtl.outputs[0].fmt == FixedFormat(16, 9, True)
    assert rtl.forwarded.fmt == FixedFormat(5, 4, False)
    assert (tmp_path / "stage.json").is_file() and (tmp_path / "s1.v").is_file()


@pytest.mark.parametrize("relu", ["activation", "layer"])
def test_float_relu_after_qdense_is_exact(relu, tmp_path):
    in_fmt = FixedFormat(5, 3, True)
    act = keras.layers.Activation("relu") if relu == "activation" else keras.layers.ReLU()
    model = single_layer((5,), qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)",
                                         bias_quantizer="quantized_bits(4,0,alpha=1)",
                                         kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=9)), act)
    rtl, got = assert_bit_exact(model, in_fmt, random_codes(in_fmt, 2000, (5,)), tmp_path)
    assert not rtl.outputs[0].fmt.signed and got[0].min() == 0


def test_core_over_its_lut_budget_is_flagged_not_silent(tmp_path):
    import json

    from hardware.stage import StageTooLarge, build_stage_rtl

    model = single_layer((6,), qk.QDense(4, kernel_quantizer="quantized_bits(6,0,alpha=1)",
                                         bias_quantizer="quantized_bits(6,0,alpha=1)"))
    with pytest.warns(StageTooLarge, match="over the budget of 5"):
        rtl = build_stage_rtl(model, FixedFormat(6, 4, False), tmp_path, "dut", lut_budget=5)
    assert rtl.fits is False and json.loads((tmp_path / "stage.json").read_text())["fits"] is False
