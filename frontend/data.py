"""Data sets: scikit-learn's bundled digits (offline) by default, or a user's .npz.

Splits are seeded: train / calibration (held out, for exit thresholds) / test.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows.errors import UserError


class DataError(UserError):
    """The data file does not fit the model; the message names the fix."""


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_cal: np.ndarray
    y_cal: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_dataset(input_shape: tuple[int, ...], classes: int, path: str | Path | None = None,
                 seed: int = 0, calibration_fraction: float = 0.25) -> Dataset:
    """Digits (pixels / 16, shaped to the model's input) or arrays from ``path``."""
    from sklearn.model_selection import train_test_split

    if path is None:
        x, y, name = _digits(input_shape)
        x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    else:
        x_rest, y_rest, x_test, y_test, name = _npz(Path(path), input_shape)
    found = int(max(y_rest.max(), y_test.max())) + 1
    if found > classes or min(y_rest.min(), y_test.min()) < 0:
        raise DataError(f"{name}: labels span 0..{found - 1} but the model has {classes} classes; "
                        "relabel to 0..classes-1 or change the model's classes")
    stratify = y_rest if np.bincount(y_rest).min(initial=0) >= 2 else None
    x_train, x_cal, y_train, y_cal = train_test_split(
        x_rest, y_rest, test_size=calibration_fraction, random_state=seed, stratify=stratify)
    return Dataset(name, x_train, y_train, x_cal, y_cal, x_test, y_test)


def _digits(input_shape: tuple[int, ...]):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    if int(np.prod(input_shape)) != 64:
        raise DataError(f"digits are 8x8 images but the model input is {input_shape}; "
                        "use input shape [8, 8, 1] or [64], or pass DATA=path.npz")
    return x.reshape((-1, *input_shape)), digits.target.astype(np.int64), "digits"


def _npz(path: Path, input_shape: tuple[int, ...]):
    if not path.is_file():
        raise DataError(f"data file {path} does not exist; pass DATA=<path.npz> of an existing file")
    try:
        arrays = np.load(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({type(exc).__name__}); "
                        "write it with numpy.savez(x_train=..., y_train=..., x_test=..., y_test=...)") from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays.files]
    if missing:
        raise DataError(f"{path} lacks array(s) {', '.join(missing)}; write it with numpy.savez(path, x_train=..., "
                        "y_train=..., x_test=..., y_test=...)")
    x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    for split, x in (("x_train", x_train), ("x_test", x_test)):
        if tuple(x.shape[1:]) != tuple(input_shape):
            raise DataError(f"{path}: {split} samples have shape {tuple(x.shape[1:])} "
                            f"but the model input is {tuple(input_shape)}; reshape the arrays to "
                            f"(samples, {', '.join(map(str, input_shape))}) or change the model's input shape")
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise DataError(f"{path}: x_{split} has {len(x)} samples but y_{split} has {len(y)}; give one label "
                            "per sample")
    y_train, y_test = (np.asarray(y).reshape(-1).astype(np.int64) for y in (y_train, y_test))
    return x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test, path.stem
