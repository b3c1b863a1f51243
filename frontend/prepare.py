"""A user's model as the flow builds it: the changes made to a QKeras model before and after training.

Models written like the hls4ml tutorials have no input quantiser, unquantised logits, softmax outputs,
float batch norms, and sometimes no early exit at all. Each change here is a new Keras model (layers
cloned with their weights), so every later step (training, calibration, HLS, RTL) checks bit-exactness
against exactly the model it builds:

* ``fold_batch_norms``: a float BatchNormalization right after a linear QConv2D/QDense is folded into that
  layer's float kernel and bias, which the layer's own quantisers then quantise (this changes the model);
* ``add_input_quantiser``: a QActivation after the input, of the data's own fixed-point grid when the data
  lie on one no wider than ``input_bits`` (nothing changes numerically), else ``input_bits`` wide with the
  integer bits of the data range (this changes the model);
* ``attach_exits``: exit heads (pool to at most 4x4, Flatten, QDense(classes)) after the given backbone
  layers of a one-output model; the backbone and the final exit are not touched;
* ``quantise_logits``: unquantised exit logits rounded to ``logit_bits`` (integer bits of their exact
  accumulator format, so nothing saturates).

Each returns the new model and a record for the report (``flows/synth.py`` step "prepare the model").
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flows.errors import UserError

from .fixedpoint import FixedFormat
from .graph import read_graph

DEFAULT_INPUT_BITS = 16     # as hls4ml's default ap_fixed<16,6>: 16 bits (integer bits from the data range)
HEAD_WEIGHTS = "quantized_bits(6, 0, alpha=1)"
HEAD_MAX_SIDE = 4           # an attached head max-pools its input to at most 4 x 4 positions


class PrepareError(UserError):
    """A model change the flow cannot make; the message names the layer and the fix."""


def _custom_objects() -> dict:
    from qkeras.utils import _add_supported_quantized_objects

    custom: dict = {}
    _add_supported_quantized_objects(custom)
    return custom


def _clone(layer, config_change: dict | None = None):
    config = layer.get_config()
    config.update(config_change or {})
    return type(layer).from_config(config)


def rebuild(model, replace: dict[str, Callable] | None = None, remove: set[str] | frozenset = frozenset(),
            after: dict[str, Callable] | None = None, outputs: list[str] | None = None,
            heads: dict[str, Callable] | None = None, name: str | None = None):
    """A copy of ``model`` (every layer cloned with its weights) with edits:

    replace[name]() builds a new layer called instead of ``name`` (weights set by the caller's builder);
    a layer in ``remove`` passes its input on (e.g. a folded batch norm); after[name](tensor) is applied to
    ``name``'s output before any reader sees it; heads[name](tensor) builds an extra output from ``name``'s
    output. Outputs: the heads in depth order, then the model's own outputs (or the layers in ``outputs``).
    """
    from tensorflow import keras

    replace, after, heads = replace or {}, after or {}, heads or {}
    graph = read_graph(model)
    tensors: dict[str, object] = {}
    inputs, new_heads = [], []
    with keras.utils.custom_object_scope(_custom_objects()):
        for lname in graph.order:
            original = model.get_layer(lname)
            parents = graph.inbound[lname]
            if graph.classes[lname] == "InputLayer":
                t = keras.Input(shape=tuple(original.output.shape[1:]), name=lname)
                inputs.append(t)
            elif lname in remove:
                t = tensors[parents[0]]
            else:
                x = tensors[parents[0]] if len(parents) == 1 else [tensors[p] for p in parents]
                if lname in replace:
                    t = replace[lname](x)
                else:
                    clone = _clone(original)
                    t = clone(x)
                    clone.set_weights(original.get_weights())
            if lname in after:
                t = after[lname](t)
            tensors[lname] = t
            if lname in heads:
                new_heads.append(heads[lname](t))
    outs = [tensors[n] for n in (outputs or graph.outputs)]
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, new_heads + outs, name=name or model.name)


def final_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of the model's last output (the final exit)."""
    out = model.predict(np.asarray(x, dtype=np.float32), verbose=0, batch_size=512)
    out = out[-1] if isinstance(out, list) else out
    return float(np.mean(np.argmax(out, axis=-1) == np.asarray(y)))


# ---------------------------------------------------------------- batch norm


def fold_batch_norms(model) -> tuple[object, list[dict]]:
    """Fold every float BatchNormalization that directly follows a linear QConv2D/QDense (its only reader)
    into it: kernel * g, (bias - mean) * g + beta with g = gamma / sqrt(var + eps), re-quantised by the
    layer's own quantisers. Batch norms elsewhere are left for frontend.graph to reject by name."""
    graph = read_graph(model)
    replace, remove, folded = {}, set(), []
    for name in graph.order:
        if graph.classes[name] != "BatchNormalization" or len(graph.inbound[name]) != 1:
            continue
        parent = graph.inbound[name][0]
        if graph.classes.get(parent) not in ("QConv2D", "QDense") or graph.consumers(parent) != [name]:
            continue
        layer, bn = model.get_layer(parent), model.get_layer(name)
        linear = layer.activation is None or getattr(layer.activation, "__name__", None) == "linear"
        if not linear or list(bn.axis) not in ([-1], [len(bn.input.shape) - 1]):
            continue
        if layer.use_bias and layer.bias_quantizer_internal is None or not layer.use_bias and \
                layer.get_config().get("bias_quantizer") is None:
            raise PrepareError(f"batch norm {name!r} folds into the bias of {parent!r} ({graph.classes[parent]}), "
                               f"which has no bias quantiser; give {parent!r} bias_quantizer=quantized_bits(..., "
                               "alpha=1) so the folded bias is quantised")
        replace[parent], kernel = _folded_layer(layer, bn)
        remove.add(name)
        folded.append({"batch_norm": name, "into": parent, "kernel_saturated": _saturated(layer, kernel)})
    if not folded:
        return model, []
    return rebuild(model, replace=replace, remove=remove), folded


def _folded_layer(layer, bn) -> Callable:
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta, np.float64) if bn.center else 0.0
    scale = gamma / np.sqrt(np.asarray(bn.moving_variance, np.float64) + bn.epsilon)
    kernel = np.asarray(layer.kernel, np.float64) * scale
    bias = np.asarray(layer.bias, np.float64) if layer.use_bias else 0.0
    bias = (bias - np.asarray(bn.moving_mean, np.float64)) * scale + beta

    def build(x):
        clone = _clone(layer, {"use_bias": True})
        t = clone(x)
        clone.set_weights([kernel.astype(np.float32), np.asarray(bias, np.float32)])
        return t

    return build, kernel


def _saturated(layer, kernel: np.ndarray) -> float | None:
    """The fraction of the folded kernel beyond the range of the layer's quantized_bits(alpha=1) kernel
    quantiser (the batch norm's scale can push weights past it: they saturate and the accuracy drops); None
    for quantisers that rescale (auto_po2) or have no fixed range."""
    q = layer.kernel_quantizer_internal
    if type(q).__name__ != "quantized_bits" or str(q.alpha) not in ("1", "1.0"):
        return None
    return float(np.mean(np.abs(kernel) > float(q.max())))


# ---------------------------------------------------------------- input quantiser


def has_input_quantiser(model) -> bool:
    graph = read_graph(model)
    readers = graph.consumers(graph.inputs[0])
    return len(readers) == 1 and graph.classes[readers[0]] == "QActivation"


def data_grid(x: np.ndarray, max_bits: int) -> FixedFormat | None:
    """The fixed-point format the values lie on exactly (fewest fraction bits, tightest range), or None when
    they are on no grid of at most ``max_bits`` bits."""
    from .ir import grid_frac, values_format

    v = np.asarray(x, dtype=np.float64)
    try:
        grid_frac(v)
    except ValueError:
        return None
    fmt = values_format(v)
    return fmt if fmt.width <= max_bits else None


def input_bits_format(x: np.ndarray, bits: int) -> FixedFormat:
    """``bits`` wide, signed when the data have negatives, with the fewest integer bits that saturate no value
    (so the most fraction bits)."""
    v = np.asarray(x, dtype=np.float64)
    lo, hi, signed = float(v.min(initial=0.0)), float(v.max(initial=0.0)), bool(v.min(initial=0.0) < 0)
    for integer in range(int(signed), bits + 1):
        fmt = FixedFormat(bits, bits - integer, signed)
        if fmt.min_value <= lo and hi <= fmt.max_value:
            return fmt
    raise PrepareError(f"the data range [{lo:g}, {hi:g}] does not fit {bits} bits without saturating; raise "
                       f"INPUT_BITS or scale the data")


def quantiser_for(fmt: FixedFormat):
    """The QKeras quantized_bits whose output format is ``fmt``."""
    from qkeras import quantized_bits

    return quantized_bits(fmt.width, fmt.integer - int(fmt.signed), keep_negative=fmt.signed, alpha=1)


def add_input_quantiser(model, x: np.ndarray, input_bits: int = DEFAULT_INPUT_BITS) -> tuple[object, dict]:
    """The model with a QActivation after its input (unless it has one). Returns (model, record)."""
    from qkeras import QActivation

    from .ir import input_quantiser_format

    if has_input_quantiser(model):
        return model, {"format": str(input_quantiser_format(model)), "how": "the model's own input quantiser",
                       "changes_model": False}
    if input_bits < 2:
        raise PrepareError(f"INPUT_BITS={input_bits} is too narrow; give at least 2 (default {DEFAULT_INPUT_BITS})")
    fmt = data_grid(x, input_bits)
    changes = fmt is None
    if not changes:
        how = f"inferred: every data value lies on the {fmt} grid, so quantising changes nothing"
    else:
        fmt = input_bits_format(x, input_bits)
        how = (f"quantised: the data lie on no grid of at most {input_bits} bits, so INPUT_BITS={input_bits} "
               f"with the integer bits of the data range [{float(np.min(x)):g}, {float(np.max(x)):g}]")
    graph = read_graph(model)
    name = _free_name(graph, "input_quantiser")
    quantiser = quantiser_for(fmt)
    model = rebuild(model, after={graph.inputs[0]: lambda t: QActivation(quantiser, name=name)(t)})
    return model, {"format": str(fmt), "how": how, "layer": name, "changes_model": changes}


def _free_name(graph, base: str) -> str:
    name, k = base, 1
    while name in graph.classes:
        k += 1
        name = f"{base}_{k}"
    return name


# ---------------------------------------------------------------- exits


def attach_exits(model, branches: list[str], classes: int) -> tuple[object, list[dict]]:
    """Exit heads after each layer in ``branches`` (depth order) of a one-output model: a max pool down to
    at most 4 x 4 positions (exact for any window), Flatten, QDense(classes) with 6-bit weights; the logits
    are left unquantised (the flow takes their exact accumulator format, or rounds them to LOGIT_BITS)."""
    from qkeras import QDense
    from tensorflow import keras

    graph = read_graph(model)
    heads, records = {}, []
    for k, branch in enumerate(branches, start=1):
        prefix = _free_name(graph, f"auto_exit{k}")
        shape = tuple(int(d) for d in model.get_layer(branch).output.shape[1:])

        def head(t, prefix=prefix, shape=shape):
            if len(shape) == 3:
                pool = (max(1, shape[0] // HEAD_MAX_SIDE), max(1, shape[1] // HEAD_MAX_SIDE))
                if pool != (1, 1):
                    t = keras.layers.MaxPooling2D(pool, name=f"{prefix}_pool")(t)
            if len(shape) > 1:
                t = keras.layers.Flatten(name=f"{prefix}_flat")(t)
            return QDense(classes, kernel_quantizer=HEAD_WEIGHTS, bias_quantizer=HEAD_WEIGHTS,
                          name=f"{prefix}_logits")(t)

        heads[branch] = head
        records.append({"exit": k, "after": branch, "head": f"{prefix}_logits"})
    if len(set(branches)) != len(branches):
        raise PrepareError(f"EXITS lists a layer twice ({','.join(branches)}); name each once")
    return rebuild(model, heads=heads), records


# ---------------------------------------------------------------- logits


def quantise_logits(model, layers: dict[str, FixedFormat], logit_bits: int) -> tuple[object, list[dict]]:
    """Round the exits' unquantised logits (layer name -> exact accumulator format) to ``logit_bits`` bits with
    the accumulator's integer bits, so only fraction bits are dropped; narrower logits stay exact."""
    from qkeras import QActivation

    graph = read_graph(model)
    after, records = {}, []
    for name, acc in layers.items():
        if logit_bits >= acc.width:
            records.append({"layer": name, "format": str(acc), "rounded": False,
                            "how": f"exact accumulator (already within LOGIT_BITS={logit_bits})"})
            continue
        if logit_bits <= acc.integer:
            raise PrepareError(f"LOGIT_BITS={logit_bits} leaves no fraction bits for {name!r}, whose exact format "
                               f"{acc} has {acc.integer} integer bits; give LOGIT_BITS > {acc.integer}")
        fmt = FixedFormat(logit_bits, logit_bits - acc.integer, acc.signed)
        qname = _free_name(graph, f"{name}_logit_q")
        after[name] = lambda t, q=quantiser_for(fmt), n=qname: QActivation(q, name=n)(t)
        records.append({"layer": name, "quantiser": qname, "format": str(fmt), "rounded": True,
                        "how": f"LOGIT_BITS={logit_bits}: the exact {acc} rounded to {logit_bits} bits"})
    if not after:
        return model, records
    return rebuild(model, after=after), records
