"""The pinned stack: hls4ml must see Keras 2 (its Keras-3 parser fails on QKeras models)."""
import importlib.metadata
import importlib.util


def test_keras_3_is_not_importable():
    import keras

    assert keras.__version__.startswith("2."), f"Keras {keras.__version__} is importable; hls4ml would take its Keras-3 parser"
    assert importlib.util.find_spec("keras_core") is None


def test_pinned_versions_are_installed():
    expected = {"tensorflow": "2.14.1", "qkeras": "0.9.0", "hls4ml": "1.3.0"}
    for package, version in expected.items():
        assert importlib.metadata.version(package) == version
    assert importlib.metadata.version("numpy").startswith("1.")
    assert importlib.metadata.version("da4ml").startswith("0.5.")
