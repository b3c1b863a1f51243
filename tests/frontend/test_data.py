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
