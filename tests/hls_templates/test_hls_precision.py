"""Exact precisions from the quantisers, clear errors for what cannot be exact, safe writes."""
from __future__ import annotations

import itertools

import hls4ml
import numpy as np
import pytest
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from tensorflow import keras

from frontend.fixedpoint import FixedFormat
from hls_templates.convert import convert_stage, hls_config
from hls_templates.precision import (UnsupportedLayer, derive_formats, hls_layer_config,
                                     stage_input_format)


def _chain(shape, *layers, name="stage"):
    inp = keras.Input(shape, name="x")
    x = QActivation(quantized_relu(6, 1), name="in_q")(inp)
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x, name=name)


def _logits():
    return QActivation(quantized_bits(16, 6, alpha=1), name="logits")


def _q(bits=6, integer=0):
    return dict(kernel_quantizer=quantized_bits(bits, integer, alpha=1),
                bias_quantizer=quantized_bits(bits, integer, alpha=1))


@pytest.mark.parametrize("layer, expected", [
    (keras.layers.Conv2DTranspose(2, 3, name="up"), r"layer 'up' \(Conv2DTranspose\): not supported"),
    (keras.layers.Dense(4, name="plain"), r"layer 'plain' \(Dense\): float weights are not a fixed-point grid.*QDense"),
    (keras.layers.BatchNormalization(name="bn"), r"layer 'bn' \(BatchNormalization\).*QConv2DBatchnorm"),
    (keras.layers.AveragePooling2D(3, name="avg3"), r"layer 'avg3' \(AveragePooling2D\).*power of two"),
    (QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha="auto"), bias_quantizer=quantized_bits(6, 0),
            name="auto"), r"layer 'auto' \(QDense\): kernel quantiser.*alpha='auto_po2'"),
    (QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), name="nobias"),
     r"layer 'nobias' \(QDense\): bias has no quantiser"),
    (QDense(4, activation="softmax", **_q(), name="soft"), r"layer 'soft' \(QDense\): activation 'softmax'"),
])
def test_unsupported_layer_error_names_layer_and_fix(layer, expected):
    shape = (64,) if isinstance(layer, (keras.layers.Dense, QDense)) else (8, 8, 1)
    with pytest.raises(UnsupportedLayer, match=expected):
        hls_layer_config(_chain(shape, layer))


def test_a_dropout_stage_output_is_the_tensor_before_it():
    """hls4ml skips Dropout and would lose an output with it; the model hls4ml gets has no Dropout at all."""
    from hls_templates.precision import hls_view

    model = _chain((64,), QDense(4, **_q(), name="d"), keras.layers.Dropout(0.5, name="drop"))
    converted, config = hls_view(model)
    assert converted.outputs[0].name.startswith("d/") and "drop" not in config


def test_recurrent_layer_is_unsupported():
    inp = keras.Input((8, 8), name="seq")
    x = QActivation(quantized_relu(6, 1), name="in_q")(inp)
    model = keras.Model(inp, keras.layers.LSTM(4, name="lstm")(x))
    with pytest.raises(UnsupportedLayer, match=r"layer 'lstm' \(LSTM\): not supported"):
        hls_config(model)
    assert issubclass(UnsupportedLayer, ValueError)


def test_unquantised_exit_logits_are_typed_with_their_exact_accumulator():
    from frontend.ir import accumulator_format
    from hls_templates.precision import logit_format

    dense = QDense(4, **_q(), name="d")
    model = _chain((64,), dense)
    kernel, bias = (np.asarray(q(w), np.float64) for q, w in zip(
        (dense.kernel_quantizer_internal, dense.bias_quantizer_internal), dense.get_weights()))
    fmt = accumulator_format(FixedFormat(6, 5, False), kernel, bias)
    assert logit_format(model) == fmt
    assert hls_layer_config(model)["d"]["Precision"]["result"] == fmt.hls_type("AP_TRN", "AP_WRAP")


def test_stage_without_input_quantiser_needs_the_forwarded_format():
    inp = keras.Input((4, 4, 4), name="fwd")
    model = keras.Model(inp, QConv2D(2, 3, **_q(), name="c")(inp))
    with pytest.raises(ValueError, match="pass input_format="):
        stage_input_format(model)
    assert stage_input_format(model, FixedFormat(6, 4, False)) == FixedFormat(6, 4, False)


def test_quantiser_result_types_round_half_even_and_saturate():
    model = _chain((64,), QDense(4, **_q(), name="d"), QActivation(quantized_bits(8, 0, keep_negative=False), name="u"),
                   QActivation(quantized_bits(6, 2, symmetric=1, alpha=1), name="s"))
    config = hls_layer_config(model)
    assert config["x"]["Precision"]["result"] == "ufixed<6,1,AP_RND_CONV,AP_SAT>"
    assert config["u"]["Precision"]["result"] == "ufixed<8,0,AP_RND_CONV,AP_SAT>"
    assert config["s"]["Precision"]["result"] == "fixed<6,3,AP_RND_CONV,AP_SAT_SYM>"


def test_weight_types_hold_the_quantised_values_exactly_and_no_wider():
    from hls_templates.precision import derive_formats

    dense = QDense(4, **_q(), name="d")
    model = _chain((64,), dense)
    fmt = derive_formats(model)["d"].weight
    assert hls_layer_config(model)["d"]["Precision"]["weight"] == fmt.hls_type("AP_TRN", "AP_WRAP")
    kernel = np.asarray(dense.kernel_quantizer_internal(dense.kernel))
    fmt.to_codes(kernel)
    for narrower in (FixedFormat(fmt.width - 1, fmt.frac, fmt.signed), FixedFormat(fmt.width - 1, fmt.frac - 1,
                                                                                   fmt.signed)):
        with pytest.raises(ValueError):
            narrower.to_codes(kernel)


def test_accumulator_holds_every_partial_sum_exactly():
    """Brute force: with worst-case inputs every partial sum fits the derived format."""
    rng = np.random.default_rng(0)
    dense = QDense(3, **_q(), name="d")
    model = _chain((5,), dense)
    w_fmt = FixedFormat(6, 5, True)
    dense.set_weights([w_fmt.to_real(rng.integers(-32, 32, (5, 3))), w_fmt.to_real(rng.integers(-32, 32, 3))])
    acc = derive_formats(model)["d"].accum
    x_fmt = FixedFormat(6, 5, False)
    kernel, bias = (w_fmt.to_codes(w) for w in dense.get_weights())
    assert acc.frac == x_fmt.frac + w_fmt.frac
    for corner in itertools.product([x_fmt.min_code, x_fmt.max_code], repeat=5):
        for j in range(3):
            partial = np.cumsum(np.asarray(corner) * kernel[:, j]) + (bias[j] << x_fmt.frac)
            assert acc.min_code <= partial.min() and partial.max() <= acc.max_code


@pytest.mark.parametrize("choice, match", [
    (dict(backend="Quartus"), "unknown HLS backend 'Quartus'; use one of Vitis, Vivado"),
    (dict(io_type="io_serial"), "unknown io_type 'io_serial'"),
    (dict(reuse_factor=0), "reuse_factor must be >= 1"),
    (dict(strategy="Fast"), "unknown strategy 'Fast'; use one of Latency, Resource"),
])
def test_bad_choices_are_rejected_before_writing(tmp_path, choice, match):
    with pytest.raises(ValueError, match=match):
        convert_stage(_chain((64,), QDense(4, **_q(), name="d")), tmp_path / "p", "xc7z020clg400-1", **choice)
    assert list(tmp_path.iterdir()) == []


def test_failed_compile_keeps_the_previous_project_and_no_temporaries(tmp_path, monkeypatch):
    out = tmp_path / "stage_1"
    out.mkdir()
    (out / "previous.txt").write_text("old project")

    def broken_compile(self):
        raise RuntimeError("g++ failed")

    monkeypatch.setattr(hls4ml.model.graph.ModelGraph, "_compile", broken_compile)
    with pytest.raises(RuntimeError, match="g\\+\\+ failed"):
        convert_stage(_chain((64,), QDense(4, **_q(), name="d"), _logits()), out, "xc7z020clg400-1")
    assert [p.name for p in tmp_path.iterdir()] == ["stage_1"]
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
