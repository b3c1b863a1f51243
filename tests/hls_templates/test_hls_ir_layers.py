"""The layers and quantisers beyond the example's, through hls4ml C simulation, bit for bit with QKeras.

One stage holds them all (one compile): QConv2DBatchnorm with non-trivial statistics, a residual Add, a float
relu, ZeroPadding2D, a stride-2 conv, Concatenate, Reshape, GlobalAveragePooling2D, auto_po2 and symmetric
weights, a symmetric activation, ternary and po2 dense weights, and unquantised logits.
"""
from __future__ import annotations

import numpy as np
import pytest
from qkeras import (QActivation, QConv2D, QConv2DBatchnorm, QDense, quantized_bits, quantized_po2, quantized_relu,
                    ternary)
from tensorflow import keras

from hls_templates.convert import check_bit_exact, convert_stage, read_stage_record
from hls_templates.precision import stage_input_format


def _q(bits=6, integer=0, **kw):
    return quantized_bits(bits, integer, alpha=kw.pop("alpha", 1), **kw)


def zoo_stage() -> keras.Model:
    init = keras.initializers.RandomUniform(-1, 1, seed=1)
    inp = keras.Input((8, 8, 1), name="image")
    x = QActivation(quantized_relu(5, 1), name="in_q")(inp)
    stem = QConv2DBatchnorm(4, 3, padding="same", kernel_quantizer=_q(), bias_quantizer=_q(8, 3),
                            kernel_initializer=init, name="stem")
    x = QActivation(quantized_relu(5, 2), name="stem_q")(stem(x))
    y = QConv2D(4, 3, padding="same", kernel_quantizer=_q(4, alpha="auto_po2"), bias_quantizer=_q(),
                kernel_initializer=init, bias_initializer=init, name="res_po2")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.Activation("relu", name="relu")(x)
    x = QActivation(quantized_relu(6, 3), name="add_q")(x)
    x = keras.layers.ZeroPadding2D(((1, 0), (0, 1)), name="pad")(x)
    x = QConv2D(6, 3, strides=2, kernel_quantizer=_q(5, 1, symmetric=1), bias_quantizer=_q(),
                kernel_initializer=init, bias_initializer=init, name="down")(x)
    x = QActivation(_q(6, 2, symmetric=1), name="sym_q")(x)
    x = keras.layers.Concatenate(name="cat")([x, keras.layers.MaxPooling2D(2, name="skip_pool")(
        QActivation(quantized_relu(5, 2), name="skip_q")(stem.output))])
    x = keras.layers.Reshape((4, 4, 10), name="reshape")(x)
    forwarded = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    h = QDense(8, kernel_quantizer=ternary(), bias_quantizer=_q(), kernel_initializer=init, name="fc_ternary")(
        forwarded)
    h = QActivation(quantized_relu(6, 2), name="fc_q")(h)
    logits = QDense(10, kernel_quantizer=quantized_po2(4, max_value=1), bias_quantizer=_q(), kernel_initializer=init,
                    name="logits_po2")(h)
    model = keras.Model(inp, [logits, forwarded], name="zoo_stage")
    rng = np.random.default_rng(2)
    stem.batchnorm.set_weights([rng.uniform(0.5, 1.5, 4), rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.3, 0.3, 4),
                                rng.uniform(0.2, 2.0, 4)])
    return model


@pytest.fixture(scope="module")
def zoo(part, tmp_path_factory):
    stage = zoo_stage()
    out = tmp_path_factory.mktemp("zoo") / "stage_1"
    return stage, out, convert_stage(stage, out, part)


def test_every_new_layer_and_quantiser_is_bit_exact_in_c_simulation(zoo, stage_inputs):
    stage, _, hls_model = zoo
    fmt = stage_input_format(stage)
    for x in (stage_inputs.digits((8, 8, 1)), stage_inputs.ties(fmt, (8, 8, 1), 300),
              stage_inputs.grid(fmt, (8, 8, 1), 300, seed=3)):
        result = check_bit_exact(hls_model, stage, x)
        assert result.max_abs_diff == 0.0, result.first_mismatch
    logits, forwarded = stage.predict(stage_inputs.digits((8, 8, 1)), verbose=0)
    assert np.unique(logits).size > 50 and np.unique(forwarded).size > 20     # nothing trivially constant


def test_the_converted_stage_records_the_exact_unquantised_logit_format(zoo):
    from frontend.ir import stage_ir

    stage, out, _ = zoo
    record = read_stage_record(out)
    ir = stage_ir(stage)
    assert record.logit_format == ir.layer("logits_po2").acc_format == record.output_formats[0]
    assert record.output_formats[1] == ir.layer("gap").out_format
