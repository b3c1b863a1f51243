"""QKeras models written the way the hls4ml tutorials write them, as users bring them to `make synth`.

None has an input quantiser, the exits end in unquantised QDense logits and a softmax, and the flow
adds what is missing (frontend/prepare.py): the input format inferred from the data's grid (or
INPUT_BITS=), the logits' exact accumulator format (or LOGIT_BITS=), batch norms folded, exit heads
attached to a backbone (EXITS=auto).

    .venv/bin/python examples/tutorial_models.py cnn build/tutorial     # writes build/tutorial/cnn.h5 + cnn.npz
    make synth MODEL=build/tutorial/cnn.h5 DATA=build/tutorial/cnn.npz

Kinds: cnn (3 exits), mlp (4 exits, standardised inputs off any grid: INPUT_BITS applies), residual
(QConv2DBatchnorm, a stride-2 conv, an Add, GlobalAveragePooling2D), mix (auto_po2 conv weights,
ternary dense weights, symmetric quantisers), backbone (one output: pass EXITS=auto).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _q(bits: int = 6, integer: int = 0, **kw):
    from qkeras import quantized_bits

    return quantized_bits(bits, integer, alpha=kw.pop("alpha", 1), **kw)


def _weights(bits: int = 6, **kw) -> dict:
    return dict(kernel_quantizer=_q(bits, **kw), bias_quantizer=_q(bits))


def _conv(x, filters: int, name: str, bits: int = 6, **kw):
    from qkeras import QActivation, QConv2D, quantized_relu

    x = QConv2D(filters, 3, padding="same", name=name, **_weights(bits), **kw)(x)
    return QActivation(quantized_relu(bits, 2), name=f"{name}_relu")(x)


def _exit(x, classes: int, name: str, bits: int = 6, **weights):
    """Flatten + QDense(classes) + softmax: the logits are left unquantised, as in the tutorials."""
    from qkeras import QDense
    from tensorflow import keras

    if len(x.shape) > 2:
        x = keras.layers.Flatten(name=f"{name}_flat")(x)
    x = QDense(classes, name=f"{name}_dense", **(weights or _weights(bits)))(x)
    return keras.layers.Activation("softmax", name=name)(x)


def cnn(shape=(8, 8, 1), classes: int = 10, filters=(4, 6), units: int = 16, bits: int = 6):
    """Three exits: after each conv + pool block, and the final dense classifier."""
    from qkeras import QActivation, QDense, quantized_relu
    from tensorflow import keras

    inp = keras.Input(shape, name="image")
    x = keras.layers.MaxPooling2D(2, name="pool1")(_conv(inp, filters[0], "conv1", bits))
    e1 = _exit(x, classes, "exit_1", bits)
    x = keras.layers.MaxPooling2D(2, name="pool2")(_conv(x, filters[1], "conv2", bits))
    e2 = _exit(x, classes, "exit_2", bits)
    x = QDense(units, name="fc", **_weights(bits))(keras.layers.Flatten(name="flat")(x))
    x = QActivation(quantized_relu(bits, 2), name="fc_relu")(x)
    return keras.Model(inp, [e1, e2, _exit(x, classes, "final", bits)], name="tutorial_cnn")


def mlp(n_inputs: int = 64, classes: int = 10, units=(32, 24, 16), bits: int = 6):
    """Four exits on a dense backbone (the hls4ml jet-tagging tutorial's shape)."""
    from qkeras import QActivation, QDense, quantized_relu
    from tensorflow import keras

    inp = keras.Input((n_inputs,), name="features")
    x, exits = inp, []
    for k, width in enumerate(units, start=1):
        x = QDense(width, name=f"fc{k}", **_weights(bits))(x)
        x = QActivation(quantized_relu(bits, 2), name=f"relu{k}")(x)
        exits.append(_exit(x, classes, f"exit_{k}", bits))
    return keras.Model(inp, exits + [_exit(x, classes, "final", bits)], name="tutorial_mlp")


def residual(shape=(8, 8, 1), classes: int = 10, filters=(4, 8)):
    """QConv2DBatchnorm, a residual block (Add), a stride-2 conv and GlobalAveragePooling2D; two exits."""
    from qkeras import QActivation, QConv2D, QConv2DBatchnorm, quantized_relu
    from tensorflow import keras

    inp = keras.Input(shape, name="image")
    x = QConv2DBatchnorm(filters[0], 3, padding="same", kernel_quantizer=_q(6), bias_quantizer=_q(8, 3), name="stem")(inp)
    x = QActivation(quantized_relu(6, 2), name="stem_relu")(x)
    y = _conv(x, filters[0], "res_a")
    y = QConv2D(filters[0], 3, padding="same", name="res_b", **_weights())(y)
    x = keras.layers.Add(name="res_add")([x, y])
    x = QActivation(quantized_relu(6, 2), name="res_relu")(x)
    e1 = _exit(x, classes, "exit_1")
    x = QConv2D(filters[1], 3, strides=2, padding="same", name="down", **_weights())(x)
    x = QActivation(quantized_relu(6, 2), name="down_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)       # 4 x 4 positions: an exact mean
    return keras.Model(inp, [e1, _exit(x, classes, "final")], name="tutorial_residual")


def mix(shape=(8, 8, 1), classes: int = 10):
    """Quantisers beyond quantized_bits(alpha=1): auto_po2 conv weights, ternary dense weights, a
    symmetric activation quantiser and symmetric weights; two exits."""
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu, ternary
    from tensorflow import keras

    inp = keras.Input(shape, name="image")
    x = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(4, 0, alpha="auto_po2"),
                bias_quantizer=_q(6), name="conv_po2")(inp)
    x = QActivation(quantized_bits(6, 2, symmetric=1, alpha=1), name="sym_act")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    e1 = _exit(x, classes, "exit_1", kernel_quantizer=_q(6, symmetric=1), bias_quantizer=_q(6))
    x = QDense(16, kernel_quantizer=ternary(), bias_quantizer=_q(6), name="fc_ternary")(
        keras.layers.Flatten(name="flat")(x))
    x = QActivation(quantized_relu(6, 2), name="fc_relu")(x)
    return keras.Model(inp, [e1, _exit(x, classes, "final")], name="tutorial_mix")


def backbone(shape=(8, 8, 1), classes: int = 10, batch_norm: bool = True, filters=(4, 8, 8), bits: int = 6):
    """A plain one-output CNN (with a float batch norm after its first conv, which the flow folds):
    EXITS=auto adds the exits."""
    from qkeras import QActivation, QConv2D, quantized_relu
    from tensorflow import keras

    inp = keras.Input(shape, name="image")
    x = QConv2D(filters[0], 3, padding="same", name="conv1", **_weights(bits))(inp)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn1")(x)
    x = QActivation(quantized_relu(bits, 2), name="conv1_relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(_conv(x, filters[1], "conv2", bits))
    x = _conv(x, filters[2], "conv3", bits)
    return keras.Model(inp, _exit(x, classes, "final", bits), name="tutorial_backbone")


KINDS = {"cnn": cnn, "mlp": mlp, "residual": residual, "mix": mix, "backbone": backbone}
# the same shapes at a size whose fully parallel cores synthesise in seconds (what the default tests build)
TINY = {"cnn": dict(filters=(2, 2), units=8, bits=4), "mlp": dict(units=(8, 8, 8), bits=4),
        "residual": dict(filters=(2, 4)), "backbone": dict(batch_norm=False)}
# training epochs where the default 20 leave a poor classifier: the residual model's final exit (the global
# pool's 8 channel means) measured 0.70 at 20 epochs and 0.90 at 60 (full size; tiny (2, 4) filters: 0.55 and
# 0.62; filters (2, 8): 0.79 at 60), digits, seed 0
EPOCHS = {"residual": 60}


def digits_npz(path: Path, kind: str, test_samples: int | None = None, seed: int = 0) -> Path:
    """The digits as a user's .npz: pixels / 16 (on a grid) or, for the MLP, standardised (off any grid)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x, y = digits.images.astype(np.float64) / 16.0, digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    if kind == "mlp":
        mean, std = x_train.reshape(len(x_train), -1).mean(0), x_train.reshape(len(x_train), -1).std(0) + 0.1
        x_train, x_test = ((a.reshape(len(a), -1) - mean) / std for a in (x_train, x_test))
    else:
        x_train, x_test = x_train[..., None], x_test[..., None]
    if test_samples is not None:
        x_test, y_test = x_test[:test_samples], y_test[:test_samples]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x_train.astype(np.float32), y_train=y_train, x_test=x_test.astype(np.float32),
             y_test=y_test)
    return path


def train_and_save(kind: str, out_dir: Path, epochs: int | None = None, test_samples: int | None = None,
                   seed: int = 0, tiny: bool = False, **shape) -> tuple[Path, Path]:
    """Build ``kind`` (``shape``: its builder's arguments, over TINY's when ``tiny``), train it with plain Keras
    fit (every output on the labels) for ``epochs`` (default: EPOCHS, else 20) and save model.h5 + data.npz."""
    from tensorflow import keras

    keras.utils.set_random_seed(seed)
    data_path = digits_npz(Path(out_dir) / f"{kind}.npz", kind, test_samples, seed)
    data = np.load(data_path)
    model = KINDS[kind](**{**(TINY.get(kind, {}) if tiny else {}), **shape})
    outputs = len(model.outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=["sparse_categorical_crossentropy"] * outputs)
    model.fit(data["x_train"], [data["y_train"]] * outputs, epochs=epochs or EPOCHS.get(kind, 20), batch_size=32,
              verbose=0)
    path = Path(out_dir) / f"{kind}.h5"
    model.save(path)
    return path, data_path


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "cnn"
    print(*train_and_save(kind, Path(sys.argv[2] if len(sys.argv) > 2 else "build/tutorial")))
