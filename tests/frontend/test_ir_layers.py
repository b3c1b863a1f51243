"""Layers and quantisers beyond the example's, through the stage IR and the fully parallel tracer.

Each model is compared with QKeras itself on random input codes: every IR format holds what QKeras computes
at that layer, and the da4ml program equals the model's outputs bit for bit.
"""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")


def _q(bits=6, integer=0, **kw):
    return qk.quantized_bits(bits, integer, alpha=kw.pop("alpha", 1), **kw)


def _init(seed):
    return keras.initializers.RandomUniform(-1.0, 1.0, seed=seed)


def _conv(filters, kernel, name, seed, **kw):
    return qk.QConv2D(filters, kernel, kernel_quantizer=kw.pop("kq", _q()), bias_quantizer=kw.pop("bq", _q()),
                      kernel_initializer=_init(seed), bias_initializer=_init(seed + 100), name=name, **kw)


def _dense(units, name, seed, **kw):
    return qk.QDense(units, kernel_quantizer=kw.pop("kq", _q()), bias_quantizer=kw.pop("bq", _q()),
                     kernel_initializer=_init(seed), bias_initializer=_init(seed + 100), name=name, **kw)


def _bit_exact(model, n=400, seed=0):
    """IR formats hold every layer's QKeras output; the traced program equals the model's outputs."""
    from da4ml.trace import comb_trace

    from frontend.ir import stage_ir
    from hardware.stage.trace import trace_ir

    ir = stage_ir(model)
    f = ir.input_format
    codes = np.random.default_rng(seed).integers(f.min_code, f.max_code + 1, size=(n,) + ir.input_shape)
    x = f.to_real(codes).astype(np.float32)
    probe = keras.Model(model.inputs, [model.get_layer(layer.name).output for layer in ir.layers])
    for layer, y in zip(ir.layers, probe.predict(x, verbose=0)):
        layer.out_format.to_codes(y)                       # raises when off the format's grid or range
    traced = trace_ir(ir)
    comb = comb_trace(traced.inputs._vars.ravel(), np.concatenate([o.vars._vars.ravel() for o in traced.outputs]))
    got = np.asarray(comb.predict(f.to_real(codes.reshape(n, -1))), dtype=np.float64)
    want = model.predict(x, verbose=0)
    want = np.concatenate([np.asarray(w, np.float64).reshape(n, -1) for w in (want if isinstance(want, list)
                                                                             else [want])], axis=1)
    assert np.array_equal(got, want), f"max |difference| {np.abs(got - want).max()}"
    return ir


def _randomise_batchnorm(layer, seed):
    rng = np.random.default_rng(seed)
    c = layer.batchnorm.gamma.shape[0]
    layer.batchnorm.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c), rng.uniform(-0.3, 0.3, c),
                                 rng.uniform(0.2, 2.0, c)])


def test_residual_block_with_conv_batchnorm_stride_two_and_global_average_is_bit_exact():
    inp = keras.Input((8, 8, 2))
    x = qk.QActivation(qk.quantized_relu(5, 1), name="in_q")(inp)
    stem = qk.QConv2DBatchnorm(4, 3, padding="same", kernel_quantizer=_q(), bias_quantizer=_q(8, 3),
                               kernel_initializer=_init(1), name="stem")
    x = qk.QActivation(qk.quantized_relu(5, 2), name="stem_q")(stem(x))
    y = qk.QActivation(qk.quantized_relu(5, 2), name="a_q")(_conv(4, 3, "a", 2, padding="same")(x))
    x = keras.layers.Add(name="add")([x, _conv(4, 3, "b", 3, padding="same")(y)])
    x = keras.layers.Activation("relu", name="relu")(x)                   # stays on the sum's grid
    x = qk.QActivation(qk.quantized_relu(6, 3), name="add_q")(x)
    x = _conv(6, 3, "down", 4, strides=2, padding="same")(x)
    x = qk.QActivation(qk.quantized_bits(6, 2, alpha=1), name="down_q")(x)
    out = _dense(10, "logits", 5)(keras.layers.GlobalAveragePooling2D(name="gap")(x))
    model = keras.Model(inp, out)
    _randomise_batchnorm(stem, 6)
    ir = _bit_exact(model)
    assert [layer.op for layer in ir.layers][-3:] == ["quant", "global_avgpool", "dense"]
    assert ir.layer("add").inputs == ("stem_q", "b") and ir.layer("down").out_shape == (4, 4, 6)
    assert ir.layer("gap").out_format.frac == ir.layer("down_q").out_format.frac + 4     # mean of 16: 4 more bits


def test_zero_padding_concatenate_and_reshape_are_bit_exact():
    inp = keras.Input((6, 5, 2))
    x = qk.QActivation(_q(6, 2), name="in_q")(inp)
    p = keras.layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)
    a = qk.QActivation(qk.quantized_relu(4, 1), name="a_q")(_conv(3, 3, "a", 1, strides=2)(p))
    b = qk.QActivation(_q(5, 1), name="b_q")(_conv(2, 3, "b", 2, strides=2)(p))
    cat = keras.layers.Concatenate(name="cat")([a, b])                        # unsigned and signed inputs
    r = keras.layers.Reshape((8, 5), name="reshape")(cat)
    out = _dense(4, "logits", 3)(keras.layers.Flatten(name="flat")(r))
    ir = _bit_exact(keras.Model(inp, out))
    assert ir.layer("pad").padding == (1, 2, 0, 1) and ir.layer("pad").out_shape == (9, 6, 2)
    assert ir.layer("cat").out_shape == (4, 2, 5) and ir.layer("cat").out_format.signed
    assert ir.layer("reshape").out_shape == (8, 5)


@pytest.mark.parametrize("make", [
    lambda: qk.quantized_bits(4, 0, alpha="auto_po2"), lambda: qk.quantized_bits(5, 1, symmetric=1, alpha=1),
    lambda: qk.binary(alpha=1), lambda: qk.binary(), lambda: qk.ternary(alpha=1), lambda: qk.ternary(),
    lambda: qk.quantized_po2(4, max_value=1), lambda: qk.quantized_bits(4, 2, keep_negative=False, alpha=1),
], ids=["auto_po2", "symmetric", "binary", "binary_auto_po2", "ternary", "ternary_auto_po2", "po2", "unsigned"])
def test_weight_quantisers_on_a_dyadic_grid_are_bit_exact(make):
    """auto_po2 scales each output channel by its own power of two (QKeras layers turn a binary/ternary
    kernel quantiser with alpha=None into alpha='auto_po2'); binary/ternary/po2 give signed levels."""
    quantiser = make()
    inp = keras.Input((4, 4, 3))
    x = qk.QActivation(_q(6, 2), name="in_q")(inp)
    x = _conv(4, 3, "conv", 1, kq=quantiser)(x)
    x = qk.QActivation(qk.quantized_relu(6, 2), name="act")(x)
    out = _dense(5, "dense", 2, kq=quantiser)(keras.layers.Flatten(name="flat")(x))
    model = keras.Model(inp, out)
    ir = _bit_exact(model)
    kernel = ir.layer("conv").kernel
    if getattr(quantiser, "alpha", None) == "auto_po2":
        quantiser(model.get_layer("dense").kernel)                     # eagerly: its scale becomes a value
        scale = np.asarray(quantiser.scale, dtype=np.float64)
        assert scale.size == 5 and np.all(np.log2(scale) % 1 == 0)     # one power of two per output channel
    elif type(quantiser).__name__ in ("binary", "ternary"):
        assert set(np.abs(kernel).ravel()) <= {0.0, 1.0}


def test_symmetric_activation_saturates_to_minus_max_like_qkeras():
    """quantized_bits(symmetric=1) never produces the most negative code; ties round half to even."""
    from frontend.ir import stage_ir

    inp = keras.Input((64,))
    x = qk.QActivation(_q(10, 4), name="in_q")(inp)                     # finer than the quantiser below: ties
    model = keras.Model(inp, qk.QActivation(_q(5, 1, symmetric=1), name="sym")(x))
    ir = _bit_exact(model, n=300)
    requant = ir.layer("sym").requant
    assert requant.symmetric and requant.fmt.min_code == -16
    y = requant.fmt.to_codes(model.predict(np.linspace(-4, 4, 64, dtype=np.float32)[None], verbose=0))
    assert y.min() == -15 and y.max() == 15
    assert stage_ir(model).layer("sym").to_dict()["requant"]["symmetric"] is True


@pytest.mark.parametrize("make, fragment", [
    (lambda x: _dense(4, "auto", 1, kq=qk.quantized_bits(4, 0, alpha="auto"))(x),
     r"'auto' \(QDense\): kernel quantiser: quantized_bits with alpha='auto' scales by a float.*alpha='auto_po2'"),
    (lambda x: qk.QActivation(qk.quantized_bits(4, 0, alpha="auto_po2"), name="act_po2")(x),
     r"'act_po2' \(QActivation\): quantized_bits with alpha='auto_po2' on an activation scales by statistics of "
     r"each batch.*use alpha=1"),
    (lambda x: qk.QActivation(qk.binary(), name="act_bin")(x), r"a binary activation .*use quantized_bits"),
    (lambda x: qk.QActivation(qk.quantized_po2(4), name="act_po2q")(x), r"exponent-coded"),
    (lambda x: _dense(4, "stoch", 1, kq=qk.quantized_bits(4, 0, alpha=1, use_stochastic_rounding=True))(x),
     r"stochastic rounding cannot be reproduced"),
    (lambda x: keras.layers.Dense(4, name="plain")(x), r"'plain' \(Dense\): float weights .*use QDense"),
    (lambda x: keras.layers.Concatenate(axis=0, name="cat0")([x, x]), r"'cat0'.*axis 0"),
])
def test_inexact_layer_options_fail_in_one_line_naming_the_layer_and_the_fix(make, fragment):
    from frontend.ir import UnsupportedLayer, stage_ir

    inp = keras.Input((16,))
    model = keras.Model(inp, make(qk.QActivation(_q(6, 2), name="in_q")(inp)))
    with pytest.raises(UnsupportedLayer, match=fragment) as info:
        stage_ir(model)
    assert "\n" not in str(info.value) and "; " in str(info.value)


def test_a_non_power_of_two_pool_is_rejected_with_what_tensorflow_and_hls4ml_compute():
    """TensorFlow averages 3x3 windows as float32(sum) / 9, rounded to float32: a rounding that a
    fixed-point core (or hls4ml's truncating accumulator) does not make, hence the rejection."""
    from frontend.ir import UnsupportedLayer, stage_ir

    rng = np.random.default_rng(0)
    x = (rng.integers(-128, 128, size=(500, 3, 3, 1)) / 16.0).astype(np.float32)
    sums = x.reshape(500, -1).astype(np.float64).sum(axis=1)
    got = keras.layers.AveragePooling2D(3)(x).numpy().ravel()
    assert np.array_equal(got, (sums.astype(np.float32) / np.float32(9)).astype(np.float32))
    assert not np.array_equal(got.astype(np.float64), sums / 9)                  # not exact in any fixed point
    inp = keras.Input((6, 6, 1))
    model = keras.Model(inp, keras.layers.AveragePooling2D(3, name="avg3")(qk.QActivation(_q(8, 3))(inp)))
    with pytest.raises(UnsupportedLayer, match=r"'avg3'.*pool area 9 is not a power of two: TensorFlow rounds "
                                               r"sum/9 to float32 and hls4ml truncates"):
        stage_ir(model)
