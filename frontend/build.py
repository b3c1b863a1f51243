"""Build a QKeras functional multi-exit model from a ModelSpec.

Layer names are fixed by position (``b2_conv1``, ``exit2_dense``...) and the
outputs are named ``exit_1 ... exit_N`` in depth order; the last is the final
classifier. Every conv/dense is followed by its own QActivation so that each
quantised tensor has exactly one producer (what stage splitting and the
hardware generators key on).
"""
from __future__ import annotations

from .spec import LayerSpec, ModelSpec


def build_model(spec: ModelSpec):
    from tensorflow import keras
    from qkeras import QActivation, QDense

    keras.utils.set_random_seed(spec.training.seed)
    inputs = keras.Input(shape=spec.input_shape, name="input")
    x = QActivation(spec.input_quantizer.build(), name="input_quant")(inputs)
    outputs = []
    for b, block in enumerate(spec.blocks, start=1):
        for i, layer in enumerate(block.layers, start=1):
            x = _apply(layer, x, f"b{b}_{layer.type}{i}")
        if block.head is None:
            continue
        k = len(outputs) + 1
        h = x
        for i, layer in enumerate(block.head, start=1):
            h = _apply(layer, h, f"exit{k}_{layer.type}{i}")
        if len(h.shape) > 2:
            h = keras.layers.Flatten(name=f"exit{k}_flatten")(h)
        weights = _classifier_weights(spec, block)
        h = QDense(spec.classes, kernel_quantizer=weights.build(), bias_quantizer=weights.build(),
                   name=f"exit{k}_dense")(h)
        outputs.append(QActivation(spec.logits.build(), name=f"exit_{k}")(h))
    return keras.Model(inputs, outputs, name=spec.name)


def _classifier_weights(spec: ModelSpec, block):
    for layer in (*block.head, *block.layers, *(l for b in spec.blocks for l in b.layers)):
        if layer.weights is not None:
            return layer.weights
    from .spec import QuantizerSpec

    return QuantizerSpec.parse("quantized_bits(8, 0, alpha=1)", "default")


def _apply(layer: LayerSpec, x, name: str):
    from tensorflow import keras
    from qkeras import QActivation, QConv2D, QDense

    if layer.type == "conv2d":
        x = QConv2D(layer.filters, layer.kernel, padding=layer.padding, kernel_quantizer=layer.weights.build(),
                    bias_quantizer=layer.weights.build(), name=name)(x)
        return QActivation(layer.activation.build(), name=f"{name}_act")(x)
    if layer.type == "dense":
        x = QDense(layer.units, kernel_quantizer=layer.weights.build(), bias_quantizer=layer.weights.build(),
                   name=name)(x)
        return QActivation(layer.activation.build(), name=f"{name}_act")(x)
    if layer.type == "maxpool":
        return keras.layers.MaxPooling2D(layer.pool, name=name)(x)
    if layer.type == "avgpool":
        return keras.layers.AveragePooling2D(layer.pool, name=name)(x)
    if layer.type == "flatten":
        return keras.layers.Flatten(name=name)(x)
    raise AssertionError(layer.type)  # the spec parser admits only the types above
