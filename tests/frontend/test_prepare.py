"""The model changes the flow makes to a user's model (frontend/prepare.py), each against an independent
reference: the original Keras model on numpy-quantised data, numpy batch-norm arithmetic, QKeras outputs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

from frontend.fixedpoint import FixedFormat  # noqa: E402


def _examples():
    path = Path(__file__).resolve().parents[2] / "examples" / "tutorial_models.py"
    spec = importlib.util.spec_from_file_location("tutorial_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mlp(n=16):
    inp = keras.Input((n,), name="features")
    h = qk.QActivation(qk.quantized_relu(4, 1), name="h_q")(
        qk.QDense(8, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  name="h")(inp))
    a = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  name="a")(h)
    b = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  name="b")(qk.QActivation(qk.quantized_relu(4, 1), name="g_q")(
        qk.QDense(8, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  name="g")(h)))
    return keras.Model(inp, [keras.layers.Activation("softmax", name="pa")(a),
                             keras.layers.Activation("softmax", name="pb")(b)])


def test_data_on_a_grid_give_that_exact_input_format_and_change_nothing():
    from frontend.prepare import add_input_quantiser

    x = (np.random.default_rng(0).integers(0, 256, (300, 16)) / 256.0).astype(np.float32)   # 0..255/256
    model = _mlp()
    prepared, record = add_input_quantiser(model, x)
    assert record["format"] == "ufixed<8,0>" and record["how"].startswith("inferred") and not record["changes_model"]
    for a, b in zip(model.predict(x, verbose=0), prepared.predict(x, verbose=0)):
        assert np.array_equal(a, b)
    sixteenths = (np.arange(-32, 32) / 16.0).astype(np.float32)[:, None].repeat(16, 1)
    assert add_input_quantiser(model, sixteenths)[1]["format"] == "sfixed<6,2>"     # -2 .. 31/16


def test_data_off_every_grid_are_quantised_to_input_bits_with_the_range_s_integer_bits():
    """The model with its new quantiser equals the original model on numpy-quantised data (QKeras semantics:
    round half to even, saturate)."""
    from frontend.prepare import add_input_quantiser

    x = np.random.default_rng(1).normal(0.0, 1.7, (300, 16)).astype(np.float32)
    model = _mlp()
    prepared, record = add_input_quantiser(model, x, input_bits=10)
    fmt = prepared.get_layer(record["layer"]).quantizer
    from frontend.fixedpoint import qkeras_format

    fmt = qkeras_format(fmt)
    assert record["format"] == str(fmt) and record["changes_model"] and "INPUT_BITS=10" in record["how"]
    assert fmt.width == 10 and fmt.signed
    assert np.abs(fmt.to_real(fmt.quantize(x)) - x).max() <= fmt.lsb / 2          # no value saturates...
    fewer = FixedFormat(10, fmt.frac + 1, True)
    assert np.abs(fewer.to_real(fewer.quantize(x)) - x).max() > fewer.lsb / 2      # ...one integer bit less would
    reference = model.predict(fmt.to_real(fmt.quantize(x)).astype(np.float32), verbose=0)
    for a, b in zip(reference, prepared.predict(x, verbose=0)):
        assert np.array_equal(a, b)


def test_a_float_batch_norm_after_a_linear_conv_is_folded_and_requantised_by_its_quantisers():
    from frontend.prepare import fold_batch_norms

    inp = keras.Input((6, 6, 1), name="image")
    x = qk.QActivation(qk.quantized_relu(5, 1), name="in_q")(inp)
    conv = qk.QConv2D(3, 3, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1),
                      bias_quantizer=qk.quantized_bits(8, 3, alpha=1), name="conv")
    bn = keras.layers.BatchNormalization(name="bn")
    x = qk.QActivation(qk.quantized_relu(6, 2), name="act")(bn(conv(x)))
    model = keras.Model(inp, keras.layers.Flatten(name="flat")(x))
    rng = np.random.default_rng(2)
    conv.set_weights([rng.uniform(-0.5, 0.5, (3, 3, 1, 3)), rng.uniform(-0.5, 0.5, 3)])
    gamma, beta, mean, var = rng.uniform(0.5, 1.5, 3), rng.uniform(-0.3, 0.3, 3), rng.uniform(-0.2, 0.2, 3), \
        rng.uniform(0.3, 2.0, 3)
    bn.set_weights([gamma, beta, mean, var])
    folded, record = fold_batch_norms(model)
    scale = gamma / np.sqrt(var + bn.epsilon)
    assert record == [{"batch_norm": "bn", "into": "conv", "kernel_saturated": 0.0}]
    assert "bn" not in [layer.name for layer in folded.layers]
    kernel, bias = folded.get_layer("conv").get_weights()
    assert np.allclose(kernel, conv.get_weights()[0] * scale, atol=1e-6)
    assert np.allclose(bias, (conv.get_weights()[1] - mean) * scale + beta, atol=1e-6)
    x = (rng.integers(0, 32, (200, 6, 6, 1)) / 16).astype(np.float32)
    before, after = model.predict(x, verbose=0), folded.predict(x, verbose=0)
    assert not np.array_equal(before, after)                       # re-quantised weights: a new model...
    assert np.mean(before == after) > 0.5                           # ...close to the float one
    from frontend.ir import stage_ir

    stage_ir(folded)   # the folded model is what the IR (and so every core) implements
    bn.set_weights([4 * gamma, beta, mean, var])                    # a scale that pushes weights past [-1, 1)
    beyond = float(np.mean(np.abs(conv.get_weights()[0] * 4 * scale) > 1.0))
    assert 0 < beyond < 1
    assert fold_batch_norms(model)[1][0]["kernel_saturated"] == pytest.approx(beyond)


def test_a_batch_norm_after_an_activation_is_left_for_the_table_to_reject():
    from frontend.graph import UnsupportedLayer, check_layers
    from frontend.prepare import fold_batch_norms

    inp = keras.Input((8,))
    x = qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  activation=qk.quantized_relu(4, 1), name="d")(qk.QActivation("quantized_bits(6,2,alpha=1)")(inp))
    model = keras.Model(inp, keras.layers.BatchNormalization(name="bn")(x))
    same, record = fold_batch_norms(model)
    assert same is model and record == []
    with pytest.raises(UnsupportedLayer, match=r"'bn' \(BatchNormalization\) after 'd' \(QDense\) can only be "
                                               r"folded when 'd' has a linear activation"):
        check_layers(model)


def test_exit_points_follow_pooling_layers_and_blocks_where_a_stage_boundary_can_go():
    from frontend.graph import exit_candidates

    tm = _examples()
    assert exit_candidates(tm.backbone()) == ["pool1", "pool2"]
    # a residual block: after its Add's activation, never inside it
    inp = keras.Input((8, 8, 1))
    x = qk.QActivation("quantized_relu(4,1)", name="q")(inp)
    c = qk.QActivation("quantized_relu(4,1)", name="c_q")(qk.QConv2D(2, 3, padding="same", name="c",
                                                                      kernel_quantizer="quantized_bits(4,0,alpha=1)",
                                                                      bias_quantizer="quantized_bits(4,0,alpha=1)")(x))
    d = qk.QConv2D(2, 3, padding="same", name="d", kernel_quantizer="quantized_bits(4,0,alpha=1)",
                   bias_quantizer="quantized_bits(4,0,alpha=1)")(c)
    y = qk.QActivation("quantized_relu(4,1)", name="add_q")(keras.layers.Add(name="add")([c, d]))
    y = keras.layers.MaxPooling2D(2, name="pool")(y)
    y = qk.QDense(10, name="out", kernel_quantizer="quantized_bits(4,0,alpha=1)",
                  bias_quantizer="quantized_bits(4,0,alpha=1)")(keras.layers.Flatten(name="f")(
        qk.QActivation("quantized_relu(4,1)", name="e_q")(qk.QConv2D(2, 3, name="e",
                                                                     kernel_quantizer="quantized_bits(4,0,alpha=1)",
                                                                     bias_quantizer="quantized_bits(4,0,alpha=1)")(y))))
    assert exit_candidates(keras.Model(inp, y)) == ["add_q", "pool"]


def test_attached_exits_leave_the_backbone_and_its_final_exit_untouched():
    from frontend.graph import plan_stages
    from frontend.prepare import attach_exits

    model = _examples().backbone(batch_norm=False)
    with_exits, record = attach_exits(model, ["pool1", "pool2"], 10)
    assert [r["after"] for r in record] == ["pool1", "pool2"] and len(with_exits.outputs) == 3
    plans = plan_stages(with_exits)
    assert [p.forward for p in plans] == ["pool1", "pool2", None]
    assert plans[0].head == ("auto_exit1_flat", "auto_exit1_logits")     # 4 x 4 already: no pool
    for layer in model.layers:
        got = with_exits.get_layer(layer.name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), got))
    x = np.random.default_rng(3).random((64, 8, 8, 1)).astype(np.float32)
    assert np.array_equal(model.predict(x, verbose=0), with_exits.predict(x, verbose=0)[-1])


def test_logit_bits_round_the_exact_accumulator_keeping_its_integer_bits():
    from frontend.prepare import add_input_quantiser, quantise_logits
    from frontend.stages import split_model

    x = (np.random.default_rng(4).integers(0, 16, (200, 16)) / 16.0).astype(np.float32)
    model, _ = add_input_quantiser(_mlp(), x)
    acc = {s.plan.logits: s.logit_format for s in split_model(model)}
    rounded, records = quantise_logits(model, acc, 8)
    assert all(r["rounded"] for r in records)
    for (name, fmt), stage in zip(acc.items(), split_model(rounded)):
        want = FixedFormat(8, 8 - fmt.integer, fmt.signed)
        assert stage.logit_format == want
        exact = keras.Model(model.input, model.get_layer(name).output).predict(x, verbose=0)
        got = keras.Model(rounded.input, rounded.get_layer(stage.plan.logits).output).predict(x, verbose=0)
        assert np.array_equal(want.to_codes(got), want.quantize(exact))
