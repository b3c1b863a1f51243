"""Training of multi-exit models: joint, exits-only (frozen backbone) or self-distillation.

One seeded custom loop serves the three modes; they differ only in which
variables train and which loss each exit gets:
- joint: sum_k w_k CE(y, z_k) over all variables;
- exits_only: the backbone and the final exit are trained first (or taken as
  given), then frozen, and only the early heads train on sum_{k<N} w_k CE_k;
- distill: the final exit teaches the earlier ones,
  w_N CE_N + sum_{k<N} w_k [alpha CE_k + (1 - alpha) T^2 KL(softmax(z_N/T) || softmax(z_k/T))].
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .graph import plan_stages
from .spec import TRAINING_MODES, TrainingSpec


@dataclass(frozen=True)
class TrainingResult:
    mode: str
    epochs: int
    final_loss: float
    seconds: float


def train(model, x: np.ndarray, y: np.ndarray, spec: TrainingSpec, progress=None,
          backbone_trained: bool = False) -> TrainingResult:
    """Train ``model`` in place. ``progress(epoch, total)`` is called after each epoch."""
    import time

    if spec.mode not in TRAINING_MODES:
        raise ValueError(f"unknown training mode {spec.mode!r}; use one of {', '.join(TRAINING_MODES)}")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # same spec, same weights, in any process
    start = time.perf_counter()
    exits = len(model.outputs)
    weights = np.asarray(spec.loss_weights or [1.0] * exits, dtype=np.float32)
    if spec.mode == "exits_only":
        phases = [] if backbone_trained else [("final", _final_path_variables(model))]
        phases.append(("heads", _head_variables(model)))
    else:
        phases = [(spec.mode, model.trainable_variables)]
    total = spec.epochs * len(phases)
    epochs_done = [0]

    def on_epoch() -> None:
        epochs_done[0] += 1
        if progress is not None:
            progress(epochs_done[0], total)

    loss = float("nan")
    for phase, variables in phases:
        steps = spec.epochs * -(-len(x) // spec.batch_size)
        with _frozen(model, _non_head_layers(model) if phase == "heads" else []):
            loss = _fit(_train_step(model, variables, phase, weights, spec, steps), x, y, spec, on_epoch)
    return TrainingResult(spec.mode, spec.epochs, loss, time.perf_counter() - start)


@contextmanager
def _frozen(model, layers: list):
    """Layers set non-trainable for a phase: a frozen batch norm (QConv2DBatchnorm too) then runs on its
    moving statistics and updates none, so training the heads leaves the backbone exactly as it was."""
    saved = [(layer, layer.trainable) for layer in layers]
    for layer, _ in saved:
        layer.trainable = False
    try:
        yield
    finally:
        for layer, trainable in saved:
            layer.trainable = trainable


def _fit(step, x, y, spec: TrainingSpec, on_epoch) -> float:
    import tensorflow as tf

    rng = np.random.default_rng(spec.seed)
    loss = float("nan")
    for _ in range(spec.epochs):
        order = rng.permutation(len(x))
        epoch_x = shifted(x, spec.shift, rng) if spec.shift else x
        losses = []
        for start in range(0, len(x), spec.batch_size):
            idx = order[start:start + spec.batch_size]
            losses.append(float(step(tf.constant(epoch_x[idx]), tf.constant(y[idx]))))
        loss = float(np.mean(losses))
        on_epoch()
    return loss


def shifted(x: np.ndarray, shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image (N, H, W, C) moved by its own random offset in [-shift, shift] per axis, zero-filled.

    Zero fill keeps every pixel on the input grid, so the input quantiser still sees exact values.
    """
    if x.ndim != 4:
        raise ValueError(f"training.shift moves images (N, H, W, C); this model's input has shape {x.shape[1:]}")
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    dy, dx = rng.integers(-shift, shift + 1, size=(2, n))
    rows = (np.arange(h)[None, :] + shift - dy[:, None])[:, :, None]      # (n, h, 1)
    cols = (np.arange(w)[None, :] + shift - dx[:, None])[:, None, :]      # (n, 1, w)
    return padded[np.arange(n)[:, None, None], rows, cols]


def _train_step(model, variables, phase: str, weights: np.ndarray, spec: TrainingSpec, steps: int):
    import tensorflow as tf

    rate = spec.learning_rate
    if spec.schedule == "cosine":
        rate = tf.keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=steps)
    optimizer = tf.keras.optimizers.Adam(rate)
    ce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kl = tf.keras.losses.KLDivergence()
    t = float(spec.temperature)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            if phase == "final":
                loss = ce(yb, logits[-1])
            elif phase == "heads":
                loss = tf.add_n([weights[k] * ce(yb, z) for k, z in enumerate(logits[:-1])])
            elif phase == "distill":
                teacher = tf.stop_gradient(tf.nn.softmax(logits[-1] / t))
                loss = weights[-1] * ce(yb, logits[-1])
                for k, z in enumerate(logits[:-1]):
                    soft = kl(teacher, tf.nn.softmax(z / t)) * t * t
                    loss += weights[k] * (spec.alpha * ce(yb, z) + (1.0 - spec.alpha) * soft)
            else:  # joint
                loss = tf.add_n([weights[k] * ce(yb, z) for k, z in enumerate(logits)])
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    return step


def _head_variables(model) -> list:
    plans = plan_stages(model)
    heads = {name for plan in plans[:-1] for name in plan.head}
    return [v for name in heads for v in model.get_layer(name).trainable_variables]


def _non_head_layers(model) -> list:
    plans = plan_stages(model)
    heads = {name for plan in plans[:-1] for name in plan.head}
    return [layer for layer in model.layers if layer.name not in heads]


def _final_path_variables(model) -> list:
    plans = plan_stages(model)
    heads = {name for plan in plans[:-1] for name in plan.head}
    return [v for layer in model.layers if layer.name not in heads for v in layer.trainable_variables]
