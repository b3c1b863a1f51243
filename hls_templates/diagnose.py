"""Name the first layer where an hls4ml stage departs from its QKeras stage.

Used only after ``check_bit_exact`` found a difference: the model hls4ml converted
(the stage IR written back as Keras, layers named as in the QKeras stage) is
converted again, with the same hls4ml configuration plus tracing, into a throwaway
folder (the real project is left untouched), one sample is traced, and each traced
layer is compared with the matching QKeras layer output in graph order.
"""
from __future__ import annotations

import copy
import tempfile

import numpy as np

from hls_templates.precision import split_activation_name


def _keras_name(hls_name: str, keras_names: set[str], split: dict[str, str]) -> str | None:
    """Keras layer whose output an hls4ml layer's output should equal."""
    if hls_name in split:  # '<layer>_<activation>' split off a QConv2D/QDense
        return split[hls_name]
    if hls_name in keras_names and hls_name not in split.values():
        return hls_name
    return None  # pre-activation of a split layer, or a layer hls4ml inserted


def first_differing_layer(hls_model, stage_model, sample: np.ndarray) -> str | None:
    """'layer <name> (element i: hls4ml a vs QKeras b)' for the first differing layer, or None."""
    import hls4ml
    from tensorflow import keras

    config = copy.deepcopy(hls_model.config.config["HLSConfig"])
    for entry in config.get("LayerName", {}).values():
        entry["Trace"] = True
    keras_names = {layer.name for layer in stage_model.layers}
    split = {split_activation_name(layer): layer.name for layer in stage_model.layers
             if split_activation_name(layer) is not None}
    value = hls_model.config.get_config_value
    x = np.ascontiguousarray(np.asarray(sample, dtype=np.float32)[None])
    with tempfile.TemporaryDirectory(prefix="exitflow_trace_") as tmp:
        converted = hls_model.config.config.get("KerasModel", stage_model)
        traced = hls4ml.converters.convert_from_keras_model(
            converted, hls_config=config, output_dir=tmp, project_name=value("ProjectName"),
            backend=value("Backend"), io_type=value("IOType"), part=value("Part"),
            clock_period=value("ClockPeriod"))
        _, trace = traced.trace(x.astype(np.float64))
    pairs = [(h, _keras_name(h, keras_names, split)) for h in traced.graph if h in trace]
    pairs = [(h, k) for h, k in pairs if k is not None]
    if not pairs:
        return None
    probe = keras.Model(stage_model.inputs, [stage_model.get_layer(k).output for _, k in pairs])
    expected = probe.predict(x, verbose=0)
    expected = expected if len(pairs) > 1 else [expected]
    for (hls_name, keras_name), want in zip(pairs, expected):
        got = np.asarray(trace[hls_name], dtype=np.float64).reshape(-1)
        want = np.asarray(want, dtype=np.float64).reshape(-1)
        if got.shape == want.shape and np.any(got != want):
            i = int(np.argmax(np.abs(got - want)))
            return (f"layer '{keras_name}' (hls4ml '{hls_name}', element {i}: "
                    f"hls4ml {got[i]!r} vs QKeras {want[i]!r})")
    return None
