"""Small QKeras stage models and inputs shared by the hls_templates tests.

Tests import nothing from here (pytest runs with --import-mode=importlib);
they take the fixtures at the bottom.
"""
from __future__ import annotations

import types

import numpy as np
import pytest
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from tensorflow import keras

from frontend.fixedpoint import FixedFormat, qkeras_format



def q6():
    return quantized_bits(6, 0, alpha=1)


def exit_head(x, name: str = "exit"):
    x = keras.layers.Flatten(name=f"{name}_flat")(x)
    x = QDense(10, kernel_quantizer=q6(), bias_quantizer=q6(), name=f"{name}_dense")(x)
    return QActivation(quantized_bits(16, 6, alpha=1), name=f"{name}_logits")(x)


def conv_stage() -> keras.Model:
    """Stage 1: input quantiser, conv, relu, max-pool; [exit logits, pooled tensor]."""
    image = keras.Input((8, 8, 1), name="image")
    x = QActivation(quantized_relu(6, 1), name="in_q")(image)
    x = QConv2D(4, (3, 3), padding="same", kernel_quantizer=q6(), bias_quantizer=q6(), name="conv")(x)
    x = QActivation(quantized_relu(6, 2), name="conv_act")(x)
    pooled = keras.layers.MaxPooling2D(2, name="pool")(x)
    return _with_weights(keras.Model(image, [exit_head(pooled), pooled], name="conv_stage"), seed=1)


def last_stage(input_shape=(4, 4, 4)) -> keras.Model:
    """Last stage: no input quantiser, conv with its activation inside, one output."""
    fwd = keras.Input(input_shape, name="forwarded")
    x = QConv2D(8, (3, 3), kernel_quantizer=q6(), bias_quantizer=q6(),
                activation=quantized_relu(6, 2), name="conv2")(fwd)
    return _with_weights(keras.Model(fwd, exit_head(x, "final"), name="last_stage"), seed=2)


def dense_stage() -> keras.Model:
    """(64,) input, unsigned quantized_bits input quantiser, off-grid float weights,
    activation inside QDense, a Dropout."""
    pixels = keras.Input((64,), name="pixels")
    x = QActivation(quantized_bits(8, 0, keep_negative=False, alpha=1), name="in_q")(pixels)
    x = QDense(16, kernel_quantizer=q6(), bias_quantizer=q6(), activation=quantized_relu(6, 2),
               name="hidden")(x)
    dropped = keras.layers.Dropout(0.5, name="drop")(x)  # identity at inference; hls4ml skips it
    return _with_weights(keras.Model(pixels, [exit_head(dropped), x], name="dense_stage"), seed=3, on_grid=False)


def avgpool_stage() -> keras.Model:
    """Signed input quantiser, conv, float relu + quantised relu, 2x2 average pooling
    forwarded unquantised."""
    image = keras.Input((8, 8, 1), name="image")
    x = QActivation(quantized_bits(6, 2, alpha=1), name="in_q")(image)
    x = QConv2D(3, (3, 3), kernel_quantizer=q6(), bias_quantizer=q6(), name="conv")(x)
    x = keras.layers.Activation("relu", name="plain_relu")(x)  # exact on the accumulator
    x = QActivation(quantized_relu(8, 3), name="conv_act")(x)
    pooled = keras.layers.AveragePooling2D(2, name="avg")(x)
    return _with_weights(keras.Model(image, [exit_head(pooled), pooled], name="avgpool_stage"), seed=4)


def lenet_stage(filters: int = 6) -> keras.Model:
    """A Branchy-LeNet stage 1 with the quantisers of examples/lenet.yaml (4-bit weights, 8-bit unsigned input):
    28x28 conv 5x5 valid, 2x2 max-pool; a light exit head (2x2 max-pool, dense; the example's adds a conv
    3x3, which the trained-stage test covers); forwards 12x12xfilters."""
    q4 = lambda: quantized_bits(4, 0, alpha=1)  # noqa: E731
    image = keras.Input((28, 28, 1), name="image")
    x = QActivation(quantized_relu(8, 0), name="in_q")(image)
    x = QConv2D(filters, (5, 5), kernel_quantizer=q4(), bias_quantizer=q4(), name="conv")(x)
    x = QActivation(quantized_relu(4, 2), name="conv_act")(x)
    pooled = keras.layers.MaxPooling2D(2, name="pool")(x)
    head = keras.layers.MaxPooling2D(2, name="exit_pool")(pooled)
    head = keras.layers.Flatten(name="exit_flat")(head)
    head = QDense(10, kernel_quantizer=q4(), bias_quantizer=q4(), name="exit_dense")(head)
    logits = QActivation(quantized_bits(16, 6, alpha=1), name="exit_logits")(head)
    return _with_weights(keras.Model(image, [logits, pooled], name="lenet_stage"), seed=5)


def _with_weights(model: keras.Model, seed: int, on_grid: bool = True) -> keras.Model:
    """Random non-trivial weights: codes on the quantiser grid, or floats QKeras must round."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        quantisers = [layer.kernel_quantizer_internal, layer.bias_quantizer_internal]
        new = []
        for w, q in zip(weights, quantisers):
            fmt = qkeras_format(q)
            if on_grid:
                new.append(fmt.to_real(rng.integers(fmt.min_code, fmt.max_code + 1, size=w.shape)))
            else:
                new.append(rng.normal(0.0, 0.35, size=w.shape))
        layer.set_weights([w.astype(np.float32) for w in new])
    return model


def digits_test(shape: tuple[int, ...]) -> np.ndarray:
    """All digits test samples (x/16, sklearn split test_size=0.2, random_state=0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x = load_digits().data / 16.0
    _, x_test = train_test_split(x, test_size=0.2, random_state=0)
    return x_test.reshape((-1, *shape)).astype(np.float32)


def mnist_test() -> np.ndarray:
    """The 1,000 mnist5k test images (28x28, pixels / 256) the LeNet example is checked on."""
    from frontend.data import load_dataset

    return load_dataset((28, 28, 1), 10, dataset="mnist5k").x_test


def tie_inputs(fmt: FixedFormat, shape: tuple[int, ...], n: int, seed: int = 0) -> np.ndarray:
    """Random values on a grid one bit finer than ``fmt`` (half are exact rounding
    ties), spanning a little beyond its range so saturation is exercised too."""
    rng = np.random.default_rng(seed)
    fine = FixedFormat(fmt.width + 3, fmt.frac + 1, True)
    lo = 2 * fmt.min_code - 8
    hi = 2 * fmt.max_code + 8
    return fine.to_real(rng.integers(lo, hi + 1, size=(n, *shape))).astype(np.float32)


def grid_inputs(fmt: FixedFormat, shape: tuple[int, ...], n: int, seed: int = 0) -> np.ndarray:
    """Random values exactly on ``fmt``'s grid (what a previous stage forwards)."""
    rng = np.random.default_rng(seed)
    return fmt.to_real(rng.integers(fmt.min_code, fmt.max_code + 1, size=(n, *shape))).astype(np.float32)


@pytest.fixture(scope="session")
def part() -> str:
    from boards.board import load_board

    return load_board("pynq-z2").part


@pytest.fixture(scope="session")
def stage_models():
    """Builders of fresh stage models (each call builds a new model)."""
    return types.SimpleNamespace(conv=conv_stage, last=last_stage, dense=dense_stage, avgpool=avgpool_stage,
                                 lenet=lenet_stage)


@pytest.fixture(scope="session")
def stage_inputs():
    return types.SimpleNamespace(digits=digits_test, mnist=mnist_test, ties=tie_inputs, grid=grid_inputs)
