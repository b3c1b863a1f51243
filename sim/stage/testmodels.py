"""Small multi-exit stage models the tests build themselves (random, untrained weights).

``two_exit_stages`` is deliberately unlike the digits example: signed
activations, other bit widths, valid padding, average pooling (which changes
the forwarded format) and 4-bit logits fraction, so the tracer is not tuned to
one model.
"""
from __future__ import annotations


def two_exit_stages(seed: int = 0) -> list:
    """[stage 1, stage 2] for 8x8x1 inputs: conv + avg-pool exit, then dense exit."""
    from qkeras import QActivation, QConv2D, QDense
    from tensorflow import keras

    init = keras.initializers.RandomUniform(-1.0, 1.0, seed=seed)
    bias_init = keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + 1)

    inp = keras.Input((8, 8, 1), name="image")
    x = QActivation("quantized_bits(7,1,alpha=1)", name="in_q")(inp)
    x = QConv2D(3, 3, padding="valid", kernel_quantizer="quantized_bits(4,1,alpha=1)",
                bias_quantizer="quantized_bits(5,2,alpha=1)", kernel_initializer=init,
                bias_initializer=bias_init, name="conv")(x)
    x = QActivation("quantized_bits(5,1,alpha=1)", name="conv_q")(x)
    fwd = keras.layers.AveragePooling2D(2, name="avg")(x)
    h = keras.layers.Flatten(name="flat1")(fwd)
    h = QDense(10, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
               kernel_initializer=init, bias_initializer=bias_init, name="exit1")(h)
    logits1 = QActivation("quantized_bits(12,4,alpha=1)", name="exit1_logits")(h)
    stage1 = keras.Model(inp, [logits1, fwd], name="two_exit_stage_1")

    inp2 = keras.Input(tuple(fwd.shape[1:]), name="stage_2_input")
    y = keras.layers.Flatten(name="flat2")(inp2)
    y = QDense(8, kernel_quantizer="quantized_bits(5,1,alpha=1)", bias_quantizer="quantized_bits(5,1,alpha=1)",
               activation="quantized_relu(4,2)", kernel_initializer=init, bias_initializer=bias_init,
               name="hidden")(y)
    y = QDense(10, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
               kernel_initializer=init, bias_initializer=bias_init, name="exit2")(y)
    logits2 = QActivation("quantized_bits(12,4,alpha=1)", name="exit2_logits")(y)
    stage2 = keras.Model(inp2, [logits2], name="two_exit_stage_2")
    return [stage1, stage2]


def tiny_two_exit_stages(seed: int = 0) -> list:
    """[stage 1, stage 2] for 8x8x1 inputs with cores of a few dozen adders: 4x4 average pooling then a dense
    exit, then two dense layers. For tests of the pipeline's control (ids, routing, FIFOs, reorder) whose
    simulation time should go to many samples, not to the stage arithmetic."""
    from qkeras import QActivation, QDense
    from tensorflow import keras

    init = keras.initializers.RandomUniform(-1.0, 1.0, seed=seed)
    bias_init = keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + 1)

    inp = keras.Input((8, 8, 1), name="image")
    x = QActivation("quantized_bits(6,0,alpha=1)", name="in_q")(inp)
    fwd = keras.layers.AveragePooling2D(4, name="avg")(x)
    h = keras.layers.Flatten(name="flat1")(fwd)
    h = QDense(10, kernel_quantizer="quantized_bits(4,1,alpha=1)", bias_quantizer="quantized_bits(4,1,alpha=1)",
               kernel_initializer=init, bias_initializer=bias_init, name="exit1")(h)
    logits1 = QActivation("quantized_bits(10,4,alpha=1)", name="exit1_logits")(h)
    stage1 = keras.Model(inp, [logits1, fwd], name="tiny_stage_1")

    inp2 = keras.Input(tuple(fwd.shape[1:]), name="stage_2_input")
    y = keras.layers.Flatten(name="flat2")(inp2)
    y = QDense(6, kernel_quantizer="quantized_bits(4,1,alpha=1)", bias_quantizer="quantized_bits(4,1,alpha=1)",
               activation="quantized_relu(4,2)", kernel_initializer=init, bias_initializer=bias_init,
               name="hidden")(y)
    y = QDense(10, kernel_quantizer="quantized_bits(4,1,alpha=1)", bias_quantizer="quantized_bits(4,1,alpha=1)",
               kernel_initializer=init, bias_initializer=bias_init, name="exit2")(y)
    logits2 = QActivation("quantized_bits(10,4,alpha=1)", name="exit2_logits")(y)
    stage2 = keras.Model(inp2, [logits2], name="tiny_stage_2")
    return [stage1, stage2]
