"""Stages are inferred from the graph; chained stages reproduce the full model exactly."""
import numpy as np
import pytest
from tensorflow import keras
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from frontend.graph import GraphError, UnsupportedLayer, plan_stages
from frontend.stages import split_model


def _run_chain(stages, x):
    outputs, tensor = [], x
    for stage in stages:
        result = stage.model.predict(tensor, verbose=0)
        result = result if isinstance(result, list) else [result]
        outputs.append(result[0])
        if not stage.is_last:
            tensor = result[1]
    return outputs


def test_chained_stages_reproduce_the_full_model_exactly(trained_digits, digits_stages, digits_data):
    full = trained_digits.predict(digits_data.x_test, verbose=0)
    chained = _run_chain(digits_stages, digits_data.x_test)
    assert len(chained) == len(full) == 3
    for k, (a, b) in enumerate(zip(chained, full), start=1):
        assert np.array_equal(a, b), f"exit {k} differs"


def test_stage_outputs_are_logits_then_forwarded_tensor(digits_stages):
    first, last = digits_stages[0], digits_stages[-1]
    assert [tuple(o.shape) for o in first.model.outputs] == [(None, 10), (None, 3, 3, 4)]
    assert len(last.model.outputs) == 1
    assert first.input_format is None and str(digits_stages[1].input_format) == "ufixed<4,2>"


def _user_model(softmax=True, quantise_logits=True):
    """A hand-written two-exit QKeras model (not from a spec), dense branch on a conv backbone."""
    inp = keras.Input((8, 8, 1), name="pixels")
    x = QActivation(quantized_bits(8, 0, keep_negative=False, alpha=1), name="q_in")(inp)
    x = QConv2D(3, 3, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                bias_quantizer=quantized_bits(4, 0, alpha=1), name="conv")(x)
    x = QActivation(quantized_relu(4, 1), name="relu")(x)
    branch = keras.layers.Flatten(name="early_flat")(x)
    branch = QDense(10, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                    bias_quantizer=quantized_bits(4, 0, alpha=1), name="early_dense")(branch)
    if quantise_logits:
        branch = QActivation(quantized_bits(12, 4, alpha=1), name="early_logits")(branch)
    y = keras.layers.MaxPooling2D(2, name="pool")(x)
    y = keras.layers.Flatten(name="flat")(y)
    y = QDense(10, kernel_quantizer=quantized_bits(4, 0, alpha=1),
               bias_quantizer=quantized_bits(4, 0, alpha=1), name="final_dense")(y)
    y = QActivation(quantized_bits(12, 4, alpha=1), name="final_logits")(y)
    outputs = [branch, y]
    if softmax:
        outputs = [keras.layers.Activation("softmax", name=f"prob{k}")(o) for k, o in enumerate(outputs)]
    return keras.Model(inp, outputs)


def test_stages_of_a_user_model_are_inferred_from_its_branches():
    model = _user_model()
    plans = plan_stages(model)
    assert [p.forward for p in plans] == ["relu", None]
    assert plans[0].head == ("early_flat", "early_dense", "early_logits")
    assert plans[0].logits == "early_logits" and plans[1].logits == "final_logits"   # softmax dropped
    assert plans[1].backbone == ("pool", "flat", "final_dense", "final_logits")
    x = np.random.default_rng(1).random((64, 8, 8, 1)).astype(np.float32)
    stages = split_model(model)
    full = keras.Model(model.input, [model.get_layer("early_logits").output,
                                      model.get_layer("final_logits").output]).predict(x, verbose=0)
    for a, b in zip(_run_chain(stages, x), full):
        assert np.array_equal(a, b)


def test_model_without_early_exit_is_rejected():
    model = _user_model()
    single = keras.Model(model.input, model.outputs[-1])
    with pytest.raises(GraphError, match="has a single output, so no early exit; pass EXITS=auto"):
        plan_stages(single)


def test_exit_on_the_backbone_is_rejected():
    model = _user_model(softmax=False)
    # the final logits listed twice: the first "exit" has no head of its own
    twice = keras.Model(model.input, [model.get_layer("relu").output, model.outputs[-1]])
    with pytest.raises(GraphError, match="lies on the backbone"):
        plan_stages(twice)


def test_exit_that_is_not_a_classifier_is_rejected():
    model = _user_model(softmax=False)
    odd = keras.Model(model.input, [model.get_layer("pool").output, model.outputs[-1]])
    with pytest.raises(GraphError):
        split_model(odd)


def test_unquantised_logits_take_the_exact_accumulator_format():
    """QDense logits without a quantiser: every value QKeras computes is a code of the stage's logit format,
    which is no wider than the interval bound of the actual weight codes (one bit less fails on the bound)."""
    from frontend.fixedpoint import FixedFormat
    from frontend.ir import accumulator_format

    model = _user_model(softmax=False, quantise_logits=False)
    model.get_layer("early_dense").set_weights([np.full((108, 10), 0.875, np.float32), np.full(10, -1.0, np.float32)])
    stages = split_model(model)
    fmt = stages[0].logit_format
    relu = FixedFormat(4, 3, signed=False)
    assert fmt == accumulator_format(relu, np.full((108, 10), 0.875), np.full(10, -1.0))
    x = np.random.default_rng(2).random((256, 8, 8, 1)).astype(np.float32)
    early = keras.Model(model.input, model.get_layer("early_dense").output).predict(x, verbose=0)
    fmt.to_codes(early)
    extreme = 108 * 0.875 * relu.max_value - 1.0        # every relu at its maximum
    with pytest.raises(ValueError):
        FixedFormat(fmt.width - 1, fmt.frac, fmt.signed).to_codes([extreme])


def test_unsupported_layer_is_named():
    inp = keras.Input((8, 8, 1))
    x = QActivation(quantized_bits(8, 0, alpha=1), name="q")(inp)
    x = keras.layers.Conv2DTranspose(2, 3, name="upsample")(x)
    a = QActivation(quantized_bits(8, 0, alpha=1), name="a")(keras.layers.Flatten()(x))
    b = QActivation(quantized_bits(8, 0, alpha=1), name="b")(keras.layers.Flatten()(x))
    with pytest.raises(UnsupportedLayer, match=r"layer 'upsample' \(Conv2DTranspose\) is not supported"):
        plan_stages(keras.Model(inp, [a, b]))


def test_unquantised_input_is_rejected():
    inp = keras.Input((16,))
    x = QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1))(inp)
    x = QActivation(quantized_relu(4, 1))(x)
    e = QActivation(quantized_bits(8, 3, alpha=1))(QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                                                             bias_quantizer=quantized_bits(4, 0, alpha=1))(x))
    f = QActivation(quantized_bits(8, 3, alpha=1))(QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                                                             bias_quantizer=quantized_bits(4, 0, alpha=1))(
        QActivation(quantized_relu(4, 1))(QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                                                 bias_quantizer=quantized_bits(4, 0, alpha=1))(x))))
    with pytest.raises(GraphError, match="input is not quantised"):
        split_model(keras.Model(inp, [e, f]))


def test_an_exit_inside_a_skip_connection_is_rejected():
    inp = keras.Input((16,))
    q = QActivation(quantized_bits(8, 0, alpha=1), name="q")(inp)
    h = QActivation(quantized_relu(4, 1), name="h")(QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1),
                                                           bias_quantizer=quantized_bits(4, 0, alpha=1), name="d1")(q))
    e = QActivation(quantized_bits(8, 3, alpha=1), name="e")(
        QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1), name="eh")(h))
    skip = keras.layers.Concatenate(name="cat")([h, q])
    f = QActivation(quantized_bits(8, 3, alpha=1), name="f")(
        QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1), name="fh")(skip))
    with pytest.raises(GraphError, match="exit 1 branches at 'h', inside a skip connection"):
        plan_stages(keras.Model(inp, [e, f]))
