"""A multi-exit QKeras model written by hand (not from a spec), saved as .h5.

    .venv/bin/python examples/user_model.py build/two_exit.h5
    make synth BOARD=pynq-z2 MODEL=build/two_exit.h5

The flow infers the stages from the graph: the outputs are the exits in depth
order, each early exit branches off the backbone, and a trailing softmax is
dropped (the exit unit decides on the quantised logits).
"""
from __future__ import annotations

import sys
from pathlib import Path


def build_user_model():
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    def weights():
        return dict(kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(5, 0, alpha=1))

    inp = keras.Input((8, 8, 1))
    x = QActivation(quantized_relu(5, 1), name="q_in")(inp)
    x = QConv2D(3, 3, name="conv", **weights())(x)
    x = QActivation(quantized_relu(5, 2), name="relu")(x)
    early = keras.layers.MaxPooling2D(3, name="early_pool")(x)
    early = QDense(10, name="early", **weights())(keras.layers.Flatten(name="early_flat")(early))
    early = QActivation(quantized_bits(12, 5, alpha=1), name="early_logits")(early)
    y = QDense(24, name="hidden", **weights())(keras.layers.Flatten(name="flat")(x))
    y = QActivation(quantized_relu(5, 2), name="hidden_relu")(y)
    y = QActivation(quantized_bits(12, 5, alpha=1), name="final_logits")(QDense(10, name="final", **weights())(y))
    outputs = [keras.layers.Activation("softmax", name=n)(t) for n, t in (("p_early", early), ("p_final", y))]
    return keras.Model(inp, outputs, name="two_exit")


def train_and_save(path: Path, epochs: int = 15) -> Path:
    from tensorflow import keras

    from frontend.data import load_dataset

    keras.utils.set_random_seed(0)
    data = load_dataset((8, 8, 1), 10)
    model = build_user_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(data.x_train, [data.y_train, data.y_train], epochs=epochs, batch_size=32, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


if __name__ == "__main__":
    print(train_and_save(Path(sys.argv[1] if len(sys.argv) > 1 else "build/two_exit.h5")))
