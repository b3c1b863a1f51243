"""Keras/QKeras stage model -> da4ml traced computation, layer by layer.

Each supported layer class has one ``_trace_<kind>`` function taking the layer
and its traced input and returning the traced output; anything else raises
:class:`UnsupportedLayer` naming the layer. Every traced tensor carries the
FixedFormat that QKeras gives it, so outputs can be packed and compared as
integer codes and stage k+1 can take stage k's forwarded format as input.

QKeras evaluates layers in float32. Its result equals exact fixed-point
arithmetic only while every accumulator fits a float32 significand (24 bits);
the tracer checks that per layer instead of assuming it.

Batch-norm: QConv2DBatchnorm folds the moving statistics into the kernel and
bias and quantises BOTH with the layer's own quantisers before the convolution
(``get_folded_weights`` then ``kernel_quantizer_internal``/
``bias_quantizer_internal``); the tracer uses exactly those quantised folded
weights. A float BatchNormalization/QBatchNormalization layer is evaluated by
QKeras in float32 with an irrational scale (rsqrt) and no quantisation, which
no fixed-point core reproduces bit-exactly, so it is rejected with a pointer
to QConv2DBatchnorm.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray, HWConfig

from flows.errors import UserError
from frontend.fixedpoint import FixedFormat, qkeras_format

from .quantize import kif, quantize_array

# One adder = one unit of da4ml latency; carries are not modelled (Xilinx CARRY4 chains).
HWCONF = HWConfig(adder_size=1, carry_size=-1, latency_cutoff=-1)
# Allow the CMVM solver 2 adder levels above the minimal adder-tree depth (da4ml's convert default).
SOLVER_OPTIONS = {"hard_dc": 2}
FLOAT32_EXACT_BITS = 24


class UnsupportedLayer(UserError):
    """A layer the stage tracer cannot turn into bit-exact fixed-point logic."""

    def __init__(self, layer, reason: str):
        super().__init__(f"layer {layer.name!r} ({type(layer).__name__}): {reason}")


@dataclass
class Traced:
    """A traced tensor (batch axis dropped) and its QKeras fixed-point format."""

    vars: FixedVariableArray
    fmt: FixedFormat


@dataclass
class TracedOutput:
    name: str
    shape: tuple[int, ...]
    fmt: FixedFormat
    vars: FixedVariableArray


@dataclass
class StageTrace:
    input_shape: tuple[int, ...]
    input_format: FixedFormat
    inputs: FixedVariableArray
    outputs: list[TracedOutput]


# ---------------------------------------------------------------- helpers


def _array(objs: np.ndarray) -> FixedVariableArray:
    return FixedVariableArray(objs, dict(SOLVER_OPTIONS))


def covering_format(x: FixedVariableArray) -> FixedFormat:
    """Smallest FixedFormat holding every element of a traced array."""
    ks, is_, fs = x.kif
    signed = bool(np.any(ks))
    frac = int(np.max(fs))
    integer = int(np.max(is_))
    return FixedFormat(width=max(1, int(signed) + integer + frac), frac=frac, signed=signed)


def _check_float32_exact(layer, x: FixedVariableArray) -> None:
    fmt = covering_format(x)
    if fmt.width - int(fmt.signed) > FLOAT32_EXACT_BITS:
        raise UnsupportedLayer(
            layer,
            f"its result needs {fmt.width} bits ({fmt}); QKeras computes it in float32, which is exact "
            f"only up to {FLOAT32_EXACT_BITS} bits, so no core can match it bit for bit; "
            "narrow the weight/activation quantisers")


def _quantizer_weights(layer, weight, quantizer, what: str) -> np.ndarray:
    if quantizer is None:
        raise UnsupportedLayer(layer, f"{what} has no quantiser; give it quantized_bits(..., alpha=1)")
    try:
        qkeras_format(quantizer)
    except ValueError as exc:
        raise UnsupportedLayer(layer, f"{what} quantiser: {exc}") from exc
    return np.asarray(quantizer(weight)).astype(np.float64)


def _apply_activation(layer, act, x: Traced) -> Traced:
    """Layer-internal activation or a QActivation's quantiser."""
    if act is None:
        return x
    name = getattr(act, "__name__", None)
    if name == "linear":
        return x
    if name == "relu":  # exact, no rounding; a signed format loses its sign bit
        fmt = FixedFormat(max(1, x.fmt.width - 1), x.fmt.frac, signed=False) if x.fmt.signed else x.fmt
        return Traced(x.vars.relu(), fmt)
    kind = type(act).__name__
    if kind not in ("quantized_bits", "quantized_relu"):
        raise UnsupportedLayer(layer, f"activation {act!r} is not supported; use quantized_bits/quantized_relu, "
                               "relu or linear")
    if kind == "quantized_relu" and getattr(act, "relu_upper_bound", None) is not None:
        raise UnsupportedLayer(layer, "quantized_relu with relu_upper_bound is not supported")
    if float(getattr(act, "qnoise_factor", 1.0)) != 1.0:
        raise UnsupportedLayer(layer, "quantiser with qnoise_factor != 1 is not a fixed-point quantiser")
    if getattr(act, "use_stochastic_rounding", False):
        raise UnsupportedLayer(layer, "stochastic rounding cannot be reproduced in hardware")
    try:
        fmt = qkeras_format(act)
    except ValueError as exc:
        raise UnsupportedLayer(layer, str(exc)) from exc
    return Traced(quantize_array(x.vars, fmt, relu=kind == "quantized_relu"), fmt)


def _tree(op: Callable[[FixedVariable, FixedVariable], FixedVariable], items: list) -> FixedVariable:
    """Balanced reduction (log depth) rather than a chain."""
    while len(items) > 1:
        items = [op(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


def _require_channels_last(layer) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedLayer(layer, "only data_format='channels_last' is supported")


# ---------------------------------------------------------------- layers


def keras_relu(x):
    """Stands for keras' relu in _apply_activation (matched by __name__)."""
    return x


keras_relu.__name__ = "relu"


def _trace_qactivation(layer, x: Traced) -> Traced:
    return _apply_activation(layer, layer.quantizer, x)


def _trace_activation(layer, x: Traced) -> Traced:
    return _apply_activation(layer, layer.activation, x)


def _trace_identity(layer, x: Traced) -> Traced:  # Dropout at inference
    return x


def _trace_relu_layer(layer, x: Traced) -> Traced:
    if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise UnsupportedLayer(layer, "only ReLU() without max_value, negative_slope or threshold is supported")
    return _apply_activation(layer, keras_relu, x)


def _trace_flatten(layer, x: Traced) -> Traced:
    _require_channels_last(layer)
    return Traced(x.vars.reshape(-1), x.fmt)  # C-order, as Keras Flatten on channels_last


def _affine(layer, y: FixedVariableArray, bias: np.ndarray | None, act) -> Traced:
    if bias is not None:
        y = y + bias
    _check_float32_exact(layer, y)
    return _apply_activation(layer, act, Traced(y, covering_format(y)))


def _trace_qdense(layer, x: Traced) -> Traced:
    kernel = _quantizer_weights(layer, layer.kernel, layer.kernel_quantizer_internal, "kernel")
    bias = None
    if layer.use_bias:
        bias = _quantizer_weights(layer, layer.bias, layer.bias_quantizer_internal, "bias")
    y = x.vars @ kernel
    return _affine(layer, y, bias, layer.activation)


def _conv2d(layer, x: Traced, kernel: np.ndarray, bias: np.ndarray | None) -> Traced:
    _require_channels_last(layer)
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
        raise UnsupportedLayer(layer, "only strides=1 and dilation_rate=1 are supported")
    if getattr(layer, "groups", 1) != 1:
        raise UnsupportedLayer(layer, "grouped convolution is not supported")
    kh, kw, _, filters = kernel.shape
    height, width, _ = x.vars.shape
    if layer.padding == "same":  # TensorFlow puts the odd padding row/column at the bottom/right
        top, left, out_h, out_w = (kh - 1) // 2, (kw - 1) // 2, height, width
    elif layer.padding == "valid":
        top, left, out_h, out_w = 0, 0, height - kh + 1, width - kw + 1
    else:
        raise UnsupportedLayer(layer, f"padding={layer.padding!r} is not supported; use 'same' or 'valid'")
    out = np.empty((out_h, out_w, filters), dtype=object)
    for oh in range(out_h):
        for ow in range(out_w):
            # Explicit window: only taps inside the image (zero padding contributes nothing).
            taps, rows = [], []
            for dh in range(kh):
                for dw in range(kw):
                    ih, iw = oh - top + dh, ow - left + dw
                    if 0 <= ih < height and 0 <= iw < width:
                        taps.append(x.vars._vars[ih, iw, :])
                        rows.append(kernel[dh, dw])
            window = _array(np.concatenate(taps))
            out[oh, ow, :] = (window @ np.concatenate(rows, axis=0))._vars
    return _affine(layer, _array(out), bias, layer.activation)


def _trace_qconv2d(layer, x: Traced) -> Traced:
    kernel = _quantizer_weights(layer, layer.kernel, layer.kernel_quantizer_internal, "kernel")
    bias = None
    if layer.use_bias:
        bias = _quantizer_weights(layer, layer.bias, layer.bias_quantizer_internal, "bias")
    return _conv2d(layer, x, kernel, bias)


def _trace_qconv2d_batchnorm(layer, x: Traced) -> Traced:
    if layer.bias_quantizer_internal is None:
        raise UnsupportedLayer(layer, "the folded bias is left in float32 without bias_quantizer; "
                               "set bias_quantizer=quantized_bits(..., alpha=1)")
    folded_kernel, folded_bias = layer.get_folded_weights()
    kernel = _quantizer_weights(layer, folded_kernel, layer.kernel_quantizer_internal, "folded kernel")
    bias = _quantizer_weights(layer, folded_bias, layer.bias_quantizer_internal, "folded bias")
    return _conv2d(layer, x, kernel, bias)


def _reject_float_batchnorm(layer, x: Traced) -> Traced:
    raise UnsupportedLayer(
        layer, "QKeras evaluates this batch-norm in float32 with an unquantised rsqrt scale, which a "
        "fixed-point core cannot reproduce bit for bit; use QConv2DBatchnorm (folded kernel and bias "
        "quantised by the layer's quantisers)")


def _pool_windows(layer, x: Traced):
    _require_channels_last(layer)
    ph, pw = layer.pool_size
    sh, sw = layer.strides
    height, width, channels = x.vars.shape
    if layer.padding != "valid":
        raise UnsupportedLayer(layer, "only padding='valid' pooling is supported")
    out_h, out_w = (height - ph) // sh + 1, (width - pw) // sw + 1
    for oh in range(out_h):
        for ow in range(out_w):
            for c in range(channels):
                cells = x.vars._vars[oh * sh:oh * sh + ph, ow * sw:ow * sw + pw, c].ravel()
                yield (oh, ow, c), list(cells)


def _pooled_shape(layer, x: Traced) -> tuple[int, int, int]:
    ph, pw = layer.pool_size
    sh, sw = layer.strides
    height, width, channels = x.vars.shape
    return (height - ph) // sh + 1, (width - pw) // sw + 1, channels


def _trace_maxpool(layer, x: Traced) -> Traced:
    out = np.empty(_pooled_shape(layer, x), dtype=object)
    for idx, cells in _pool_windows(layer, x):
        out[idx] = _tree(lambda a, b: a.max_of(b), cells)
    return Traced(_array(out), x.fmt)


def _trace_avgpool(layer, x: Traced) -> Traced:
    n = int(np.prod(layer.pool_size))
    shift = n.bit_length() - 1
    if 1 << shift != n:
        raise UnsupportedLayer(layer, f"pool area {n} is not a power of two, so the mean is not exact in fixed "
                               "point; use a 2x2 or 4x4 pool")
    out = np.empty(_pooled_shape(layer, x), dtype=object)
    for idx, cells in _pool_windows(layer, x):
        out[idx] = _tree(lambda a, b: a + b, cells) * 2.0**-shift
    fmt = FixedFormat(x.fmt.width + shift, x.fmt.frac + shift, x.fmt.signed)
    result = _array(out)
    _check_float32_exact(layer, result)
    return Traced(result, fmt)


LAYER_TRACERS: dict[str, Callable[[object, Traced], Traced]] = {
    "QActivation": _trace_qactivation,
    "Activation": _trace_activation,
    "ReLU": _trace_relu_layer,
    "Dropout": _trace_identity,
    "Flatten": _trace_flatten,
    "QDense": _trace_qdense,
    "QConv2D": _trace_qconv2d,
    "QConv2DBatchnorm": _trace_qconv2d_batchnorm,
    "BatchNormalization": _reject_float_batchnorm,
    "QBatchNormalization": _reject_float_batchnorm,
    "MaxPooling2D": _trace_maxpool,
    "AveragePooling2D": _trace_avgpool,
}


# ---------------------------------------------------------------- model walk


def _nodes_in_order(model):
    """The model's own nodes, inputs first (works for layers shared with a parent model)."""
    for depth in sorted(model._nodes_by_depth.keys(), reverse=True):
        yield from model._nodes_by_depth[depth]


def input_format_of(model) -> FixedFormat:
    """Stage 1's input format: the quantiser of the QActivation fed by the model input."""
    inp = model.inputs[0]
    for node in _nodes_in_order(model):
        if any(t is inp for t in node.keras_inputs) and type(node.layer).__name__ == "QActivation":
            return qkeras_format(node.layer.quantizer)
    raise ValueError(f"model {model.name!r} does not start with a QActivation input quantiser; "
                     "pass input_format explicitly")


def trace_stage(model, input_format: FixedFormat | None = None) -> StageTrace:
    """Trace a one-input stage model; outputs keep the order of ``model.outputs``."""
    if len(model.inputs) != 1:
        raise ValueError(f"stage model {model.name!r} has {len(model.inputs)} inputs; a stage has exactly one")
    if input_format is None:
        input_format = input_format_of(model)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    k, i, f = kif(input_format)
    inputs = FixedVariableArray.from_kif(np.full(shape, k), np.full(shape, i), np.full(shape, f),
                                         hwconf=HWCONF, solver_options=dict(SOLVER_OPTIONS))
    tensors: dict[int, Traced] = {id(model.inputs[0]): Traced(inputs, input_format)}
    for node in _nodes_in_order(model):
        layer = node.layer
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        tracer = LAYER_TRACERS.get(kind)
        if tracer is None:
            raise UnsupportedLayer(layer, f"not supported by the stage tracer; supported: {sorted(LAYER_TRACERS)}")
        ins = node.keras_inputs
        if len(ins) != 1:
            raise UnsupportedLayer(layer, f"has {len(ins)} inputs; only single-input layers are supported")
        result = tracer(layer, tensors[id(ins[0])])
        outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        tensors[id(outs[0])] = result
    outputs = []
    for tensor in model.outputs:
        traced = tensors[id(tensor)]
        name = tensor._keras_history.layer.name
        outputs.append(TracedOutput(name, tuple(traced.vars.shape), traced.fmt, traced.vars))
    return StageTrace(shape, input_format, inputs, outputs)
