"""The stage IR: one description of a stage that every later step reads.

``stage_ir(stage_model, input_format)`` walks a stage's Keras model once and
returns a :class:`StageIR`: its layers in topological order, each a
:class:`LayerIR` with the names of the layers it reads (skip connections),
shapes, strides and explicit padding, its exact quantised weights and the
exact fixed-point format of every tensor: input, weights, accumulator and
output. The RTL generators (fully parallel and streaming), the DSE cost model
and the report read it; ``LAYER_TABLE`` is the one table of supported layers.

Formats are exact, never rounded: an accumulator format holds every partial
sum of the layer's actual weight codes over its input range; a quantiser's
output format is that of the QKeras quantiser (``frontend.fixedpoint``).
QKeras computes in float32, which equals this exact arithmetic only while a
value needs at most 24 significant bits; that is checked per layer.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flows.errors import UserError

from .fixedpoint import FixedFormat
from .quantisers import activation_grid, weight_quantiser_problem

FLOAT32_EXACT_BITS = 24
MAX_WEIGHT_FRAC = 32          # weights on a coarser grid than 2**-32 are exact; finer ones are rejected
INPUT = "input"               # the name of a stage's input in LayerIR.inputs


class UnsupportedLayer(UserError):
    """A layer (or an option of it) with no bit-exact fixed-point implementation; names the fix."""

    def __init__(self, layer, reason: str):
        super().__init__(f"layer {layer.name!r} ({type(layer).__name__}): {reason}")


@dataclass(frozen=True)
class Requant:
    """An output quantiser: QKeras rounding (half to even) and saturation to ``fmt``; ``relu`` first
    clamps negatives to zero (quantized_relu); ``symmetric`` saturates to +-max_code (quantized_bits
    symmetric=1: the most negative code is never produced)."""

    fmt: FixedFormat
    relu: bool = False
    symmetric: bool = False

    def apply(self, values) -> np.ndarray:
        """Real values -> codes of ``fmt`` (the numpy reference of the hardware requantiser)."""
        x = np.asarray(values, dtype=np.float64)
        codes = self.fmt.quantize(np.maximum(x, 0.0) if self.relu else x)
        return np.maximum(codes, -self.fmt.max_code) if self.symmetric else codes


@dataclass(frozen=True, eq=False)
class LayerIR:
    """One layer. Shapes are channels_last without the batch axis."""

    name: str
    op: str                                  # a key of OPS
    keras_class: str
    inputs: tuple[str, ...]                  # producers' names (INPUT for the stage input)
    in_shapes: tuple[tuple[int, ...], ...]
    in_formats: tuple[FixedFormat, ...]
    out_shape: tuple[int, ...]
    out_format: FixedFormat
    kernel: np.ndarray | None = None         # conv (kh, kw, cin, cout) / dense (n_in, n_out): exact reals
    bias: np.ndarray | None = None           # (n_out,) exact reals
    weight_format: FixedFormat | None = None
    bias_format: FixedFormat | None = None
    acc_format: FixedFormat | None = None    # conv/dense/pool sums before the requantiser
    requant: Requant | None = None           # applied to the accumulator (conv/dense) or input (quant)
    window: tuple[int, int] = (1, 1)         # kernel or pool size
    strides: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right (zeros)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.in_shapes[0]

    @property
    def in_format(self) -> FixedFormat:
        return self.in_formats[0]

    @property
    def macs(self) -> int:
        if self.op == "conv2d":
            kh, kw, cin, cout = self.kernel.shape
            return int(np.prod(self.out_shape[:2])) * kh * kw * cin * cout
        if self.op == "dense":
            return int(self.kernel.size)
        return 0

    def to_dict(self) -> dict:
        """Shapes, formats and geometry for reports (no weights)."""
        d = {"name": self.name, "op": self.op, "keras_class": self.keras_class, "inputs": list(self.inputs),
             "in_shapes": [list(s) for s in self.in_shapes], "out_shape": list(self.out_shape),
             "in_formats": [str(f) for f in self.in_formats], "out_format": str(self.out_format),
             "macs": self.macs}
        for key in ("weight_format", "bias_format", "acc_format"):
            if getattr(self, key) is not None:
                d[key] = str(getattr(self, key))
        if self.requant is not None:
            d["requant"] = {"format": str(self.requant.fmt), "relu": self.requant.relu,
                            "symmetric": self.requant.symmetric}
        if self.op in ("conv2d", "maxpool", "avgpool", "global_avgpool"):
            d.update(window=list(self.window), strides=list(self.strides), padding=list(self.padding))
        if self.op == "zeropad":
            d["padding"] = list(self.padding)
        return d


@dataclass
class StageIR:
    """A stage: its input, its layers in topological order and the layers its ports carry.

    ``logits``: the layer whose output is the exit's logits (None for a headless stage);
    ``forwarded``: the layer whose output goes on to the next stage (None for the last stage).
    """

    name: str
    input_shape: tuple[int, ...]
    input_format: FixedFormat
    layers: list[LayerIR]
    logits: str | None
    forwarded: str | None
    _by_name: dict[str, LayerIR] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {layer.name: layer for layer in self.layers}

    def layer(self, name: str) -> LayerIR:
        if name == INPUT:  # a port carrying the stage input unchanged (e.g. the rest of a folded stage)
            return LayerIR(INPUT, "identity", "InputLayer", (), (), (), self.input_shape, self.input_format)
        return self._by_name[name]

    def consumers(self, name: str) -> list[LayerIR]:
        return [layer for layer in self.layers if name in layer.inputs]

    @property
    def outputs(self) -> list[LayerIR]:
        """The layers on the output port, in port order: exit logits first, then the forwarded tensor."""
        return [self.layer(n) for n in (self.logits, self.forwarded) if n is not None]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape), "input_format": str(self.input_format),
                "logits": self.logits, "forwarded": self.forwarded, "macs": self.macs,
                "layers": [layer.to_dict() for layer in self.layers]}


# ---------------------------------------------------------------- formats


def covering_format(lo: float, hi: float, frac: int) -> FixedFormat:
    """Smallest format with ``frac`` fraction bits holding every value in [lo, hi] (reals on that grid)."""
    lo_code, hi_code = math.floor(lo * 2.0**frac), math.ceil(hi * 2.0**frac)
    signed = lo_code < 0
    if signed:
        width = max(int(hi_code).bit_length(), int(-lo_code - 1).bit_length()) + 1
    else:
        width = max(1, int(hi_code).bit_length())
    return FixedFormat(width, frac, signed)


def grid_frac(values: np.ndarray) -> int:
    """Fewest fraction bits putting every value on the grid (values exactly k * 2**-frac)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    for frac in range(-MAX_WEIGHT_FRAC, MAX_WEIGHT_FRAC + 1):
        scaled = v * 2.0**frac
        if np.array_equal(scaled, np.round(scaled)):
            return frac
    raise ValueError(f"values are not on a fixed-point grid of at most {MAX_WEIGHT_FRAC} fraction bits")


def values_format(values: np.ndarray) -> FixedFormat:
    v = np.asarray(values, dtype=np.float64)
    frac = grid_frac(v)
    return covering_format(float(v.min(initial=0.0)), float(v.max(initial=0.0)), frac)


def accumulator_format(x: FixedFormat, kernel2d: np.ndarray, bias: np.ndarray | None) -> FixedFormat:
    """Exact format of x @ kernel2d + bias for every x in range: per-output interval bounds."""
    w_frac = grid_frac(kernel2d)
    frac = x.frac + w_frac if bias is None else max(x.frac + w_frac, grid_frac(bias))
    pos, neg = np.maximum(kernel2d, 0.0), np.minimum(kernel2d, 0.0)
    hi = pos.sum(axis=0) * x.max_value + neg.sum(axis=0) * x.min_value
    lo = pos.sum(axis=0) * x.min_value + neg.sum(axis=0) * x.max_value
    if bias is not None:
        hi, lo = hi + bias, lo + bias
    return covering_format(float(lo.min()), float(hi.max()), frac)


def _check_float32_exact(layer, fmt: FixedFormat) -> None:
    if fmt.width - int(fmt.signed) > FLOAT32_EXACT_BITS:
        raise UnsupportedLayer(layer, f"its result needs {fmt.width} bits ({fmt}); QKeras computes it in float32, "
                                      f"exact only up to {FLOAT32_EXACT_BITS} bits, so no core can match it bit "
                                      "for bit; narrow the weight/activation quantisers")


def requant_of(layer, quantizer) -> Requant:
    """The Requant of a QKeras activation quantiser, or UnsupportedLayer naming the reason and the fix
    (frontend/quantisers.py decides which are exact)."""
    try:
        grid = activation_grid(quantizer)
    except ValueError as exc:
        raise UnsupportedLayer(layer, str(exc)) from None
    return Requant(grid.fmt, relu=grid.relu, symmetric=grid.symmetric)


def _activation(layer, act, acc: FixedFormat) -> tuple[Requant | None, FixedFormat]:
    """(requant, output format) of an activation given inside a layer or by an Activation layer."""
    name = getattr(act, "__name__", None)
    if act is None or name == "linear":
        return None, acc
    if name == "relu":  # exact: the sign bit goes, nothing is rounded
        fmt = FixedFormat(max(1, acc.width - 1), acc.frac, signed=False) if acc.signed else acc
        return Requant(fmt, relu=True), fmt
    requant = requant_of(layer, act)
    return requant, requant.fmt


def _quantised_weights(layer, weight, quantizer, what: str) -> np.ndarray:
    """The values QKeras multiplies by: the quantiser applied to the float weights, which must lie on a
    dyadic grid (any quantiser frontend/quantisers.py accepts puts them there)."""
    if quantizer is None:
        raise UnsupportedLayer(layer, f"{what} has no quantiser, so its float32 values are not a fixed-point "
                                      "grid; give it quantized_bits(..., alpha=1)")
    problem = weight_quantiser_problem(quantizer)
    if problem:
        raise UnsupportedLayer(layer, f"{what} quantiser: {problem}")
    values = np.asarray(quantizer(weight)).astype(np.float64)
    try:
        grid_frac(values)
    except ValueError as exc:
        raise UnsupportedLayer(layer, f"{what}: {exc}") from None
    return values


# ---------------------------------------------------------------- layers


def tf_padding(padding: str, size: tuple[int, int], window: tuple[int, int], strides: tuple[int, int],
               layer) -> tuple[int, int, int, int]:
    """TensorFlow's explicit zero padding (top, bottom, left, right): 'same' puts the odd row/column last."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding != "same":
        raise UnsupportedLayer(layer, f"padding={padding!r} is not supported; use 'same' or 'valid'")
    pads = []
    for n, k, s in zip(size, window, strides):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads[0], pads[1], pads[2], pads[3]


def _conv_out(in_shape, window, strides, padding, channels) -> tuple[int, int, int]:
    t, b, l, r = padding
    return ((in_shape[0] + t + b - window[0]) // strides[0] + 1,
            (in_shape[1] + l + r - window[1]) // strides[1] + 1, channels)


def _require_channels_last(layer) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedLayer(layer, "only data_format='channels_last' is supported")


@dataclass
class _In:
    """What a layer builder gets: the Keras layer and its producers' (names, shapes, formats)."""

    layer: object
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    formats: tuple[FixedFormat, ...]

    def ir(self, op: str, out_shape, out_format: FixedFormat, **kw) -> LayerIR:
        return LayerIR(self.layer.name, op, type(self.layer).__name__, self.names, self.shapes, self.formats,
                       tuple(int(d) for d in out_shape), out_format, **kw)


def _affine(x: _In, op: str, kernel: np.ndarray, bias: np.ndarray | None, act, out_shape, **geometry) -> LayerIR:
    acc = accumulator_format(x.formats[0], kernel.reshape(-1, kernel.shape[-1]), bias)
    _check_float32_exact(x.layer, acc)
    requant, out = _activation(x.layer, act, acc)
    return x.ir(op, out_shape, out, kernel=kernel, bias=bias, weight_format=values_format(kernel),
                bias_format=None if bias is None else values_format(bias), acc_format=acc, requant=requant,
                **geometry)


def _dense(x: _In) -> LayerIR:
    layer = x.layer
    if len(x.shapes[0]) != 1:
        raise UnsupportedLayer(layer, f"a dense layer on a {len(x.shapes[0])}-d tensor is not supported; "
                                      "Flatten first")
    kernel = _quantised_weights(layer, layer.kernel, layer.kernel_quantizer_internal, "kernel")
    bias = _quantised_weights(layer, layer.bias, layer.bias_quantizer_internal, "bias") if layer.use_bias else None
    return _affine(x, "dense", kernel, bias, layer.activation, (kernel.shape[1],))


def _conv_geometry(layer, in_shape, window) -> dict:
    _require_channels_last(layer)
    if tuple(layer.dilation_rate) != (1, 1):
        raise UnsupportedLayer(layer, "dilated convolution is not supported; use dilation_rate=1")
    if getattr(layer, "groups", 1) != 1:
        raise UnsupportedLayer(layer, "grouped convolution is not supported; use groups=1")
    strides = tuple(int(s) for s in layer.strides)
    return {"window": window, "strides": strides,
            "padding": tf_padding(layer.padding, in_shape[:2], window, strides, layer)}


def _conv(x: _In, kernel: np.ndarray, bias: np.ndarray | None) -> LayerIR:
    layer = x.layer
    geometry = _conv_geometry(layer, x.shapes[0], tuple(kernel.shape[:2]))
    out_shape = _conv_out(x.shapes[0], geometry["window"], geometry["strides"], geometry["padding"], kernel.shape[3])
    return _affine(x, "conv2d", kernel, bias, layer.activation, out_shape, **geometry)


def _qconv(x: _In) -> LayerIR:
    layer = x.layer
    kernel = _quantised_weights(layer, layer.kernel, layer.kernel_quantizer_internal, "kernel")
    bias = _quantised_weights(layer, layer.bias, layer.bias_quantizer_internal, "bias") if layer.use_bias else None
    return _conv(x, kernel, bias)


def _qconv_batchnorm(x: _In) -> LayerIR:
    """QConv2DBatchnorm: the moving statistics folded into kernel and bias, BOTH quantised by the layer's
    own quantisers before the convolution (QKeras' get_folded_weights, then the quantisers)."""
    layer = x.layer
    if layer.bias_quantizer_internal is None:
        raise UnsupportedLayer(layer, "the folded bias is left in float32 without bias_quantizer; "
                                      "set bias_quantizer=quantized_bits(..., alpha=1)")
    folded_kernel, folded_bias = layer.get_folded_weights()
    kernel = _quantised_weights(layer, folded_kernel, layer.kernel_quantizer_internal, "folded kernel")
    bias = _quantised_weights(layer, folded_bias, layer.bias_quantizer_internal, "folded bias")
    return _conv(x, kernel, bias)


def _pool_geometry(x: _In) -> dict:
    layer = x.layer
    _require_channels_last(layer)
    if layer.padding != "valid":
        raise UnsupportedLayer(layer, "only padding='valid' pooling is supported (padded windows would count "
                                      "zeros or -inf); use padding='valid'")
    return {"window": tuple(int(p) for p in layer.pool_size), "strides": tuple(int(s) for s in layer.strides)}


def _maxpool(x: _In) -> LayerIR:
    g = _pool_geometry(x)
    return x.ir("maxpool", _conv_out(x.shapes[0], g["window"], g["strides"], (0, 0, 0, 0), x.shapes[0][2]),
                x.formats[0], **g)


def mean_formats(layer, f: FixedFormat, area: int) -> tuple[FixedFormat, FixedFormat]:
    """(sum format, mean format) of ``area`` values of ``f``: exact only for a power-of-two area."""
    shift = area.bit_length() - 1
    if area < 1 or 1 << shift != area:
        raise UnsupportedLayer(layer, f"pool area {area} is not a power of two: TensorFlow rounds sum/{area} to "
                                      f"float32 and hls4ml truncates it to its accumulator type, so no core matches "
                                      "QKeras bit for bit; use a power-of-two area (2x2, 4x4 pools, or global "
                                      "pooling over 2^k positions)")
    out = FixedFormat(f.width + shift, f.frac + shift, f.signed)
    _check_float32_exact(layer, out)
    return FixedFormat(f.width + shift, f.frac, f.signed), out


def _avgpool(x: _In) -> LayerIR:
    g = _pool_geometry(x)
    acc, out = mean_formats(x.layer, x.formats[0], g["window"][0] * g["window"][1])
    return x.ir("avgpool", _conv_out(x.shapes[0], g["window"], g["strides"], (0, 0, 0, 0), x.shapes[0][2]), out,
                acc_format=acc, **g)


def _global_avgpool(x: _In) -> LayerIR:
    """GlobalAveragePooling2D: the exact mean over all H x W positions per channel; out (C,) or, with
    keepdims, (1, 1, C)."""
    _require_channels_last(x.layer)
    h, w, c = x.shapes[0]
    acc, out = mean_formats(x.layer, x.formats[0], h * w)
    shape = (1, 1, c) if getattr(x.layer, "keepdims", False) else (c,)
    return x.ir("global_avgpool", shape, out, acc_format=acc, window=(h, w), strides=(h, w))


def _zeropad(x: _In) -> LayerIR:
    """ZeroPadding2D: zero rows above/below and columns left/right; the format is the input's (zero is code 0)."""
    _require_channels_last(x.layer)
    (top, bottom), (left, right) = (tuple(int(v) for v in side) for side in x.layer.padding)
    h, w, c = x.shapes[0]
    return x.ir("zeropad", (h + top + bottom, w + left + right, c), x.formats[0], padding=(top, bottom, left, right))


def _reshape(x: _In) -> LayerIR:
    """Reshape: the C-order flatten of the input read back in the target shape (values and format unchanged)."""
    shape = np.empty(x.shapes[0], dtype=np.int8).reshape(tuple(x.layer.target_shape)).shape
    return x.ir("reshape", shape, x.formats[0])


def _check_same_shapes(x: _In, what: str) -> None:
    if len(x.shapes) < 2:
        raise UnsupportedLayer(x.layer, f"{what} needs at least two inputs")
    if len(set(x.shapes)) != 1:
        raise UnsupportedLayer(x.layer, f"inputs of shapes {list(x.shapes)} differ; {what} needs equal shapes "
                                        "(no broadcasting)")


def _add(x: _In) -> LayerIR:
    """Add: the exact sum. Each input's codes are aligned to the finest fraction (shifted left by
    out.frac - in.frac); the output format covers the sum of the input ranges."""
    _check_same_shapes(x, "Add")
    frac = max(f.frac for f in x.formats)
    out = covering_format(sum(f.min_value for f in x.formats), sum(f.max_value for f in x.formats), frac)
    _check_float32_exact(x.layer, out)
    return x.ir("add", x.shapes[0], out)


def _concat(x: _In) -> LayerIR:
    """Concatenate on the last axis (channels; the only axis of a vector): input 0's channels first, then
    input 1's...; one format covering every input at the finest fraction."""
    axis = int(x.layer.axis)
    rank = len(x.shapes[0])
    if axis not in (-1, rank):
        raise UnsupportedLayer(x.layer, f"concatenation on axis {axis} is not supported; concatenate channels "
                                        "(axis=-1)")
    if len({s[:-1] for s in x.shapes}) != 1 or len(x.shapes) < 2:
        raise UnsupportedLayer(x.layer, f"inputs of shapes {list(x.shapes)} cannot be joined on their last axis")
    frac = max(f.frac for f in x.formats)
    out = covering_format(min(f.min_value for f in x.formats), max(f.max_value for f in x.formats), frac)
    return x.ir("concat", (*x.shapes[0][:-1], sum(s[-1] for s in x.shapes)), out)


def _flatten(x: _In) -> LayerIR:
    _require_channels_last(x.layer)
    return x.ir("flatten", (int(np.prod(x.shapes[0])),), x.formats[0])


def _qactivation(x: _In) -> LayerIR:
    requant, out = _activation(x.layer, x.layer.quantizer, x.formats[0])
    return x.ir("quant" if requant else "identity", x.shapes[0], out, requant=requant)


def _activation_layer(x: _In) -> LayerIR:
    requant, out = _activation(x.layer, x.layer.activation, x.formats[0])
    return x.ir("quant" if requant else "identity", x.shapes[0], out, requant=requant)


def _relu_layer(x: _In) -> LayerIR:
    layer = x.layer
    if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise UnsupportedLayer(layer, "only ReLU() without max_value, negative_slope or threshold is supported")
    requant, out = _activation(layer, _RELU, x.formats[0])
    return x.ir("quant", x.shapes[0], out, requant=requant)


def _relu(v):  # stands for keras' relu in _activation (matched by __name__)
    return v


_relu.__name__ = "relu"
_RELU = _relu


FLOAT_BATCH_NORM = ("QKeras evaluates this batch norm in float32 with an unquantised rsqrt scale, which a "
                    "fixed-point core cannot reproduce bit for bit; use QConv2DBatchnorm, or put it right after a "
                    "linear QConv2D/QDense (make synth folds it into that layer's weights)")


def _float_weights(quantised: str) -> str:
    return (f"float weights are not a fixed-point grid; use {quantised} with kernel_quantizer and "
            "bias_quantizer quantized_bits(..., alpha=1)")


@dataclass(frozen=True)
class LayerSupport:
    """One row of the supported-layer table: how a Keras class becomes an IR layer, or why it cannot."""

    keras_class: str
    op: str | None                       # None: passes its input through (e.g. Dropout at inference)
    build: Callable[[_In], LayerIR] | None
    note: str = ""
    rejection: str | None = None         # the reason and the fix, for a class the table names to refuse it


LAYER_TABLE: dict[str, LayerSupport] = {row.keras_class: row for row in (
    LayerSupport("InputLayer", None, None, "the stage input"),
    LayerSupport("Dropout", None, None, "identity at inference"),
    LayerSupport("QActivation", "quant", _qactivation,
                 "quantized_bits (alpha=1, symmetric or not) / quantized_relu; relu or linear"),
    LayerSupport("Activation", "quant", _activation_layer, "relu or linear (a trailing softmax is dropped)"),
    LayerSupport("ReLU", "quant", _relu_layer, "without max_value, negative_slope, threshold"),
    LayerSupport("QDense", "dense", _dense,
                 "weights: quantized_bits (alpha=1 or 'auto_po2', symmetric), binary, ternary, quantized_po2"),
    LayerSupport("QConv2D", "conv2d", _qconv, "quantised weights (as QDense), any stride, same/valid padding"),
    LayerSupport("QConv2DBatchnorm", "conv2d", _qconv_batchnorm, "batch norm folded into quantised weights"),
    LayerSupport("MaxPooling2D", "maxpool", _maxpool, "valid padding, any stride"),
    LayerSupport("AveragePooling2D", "avgpool", _avgpool, "valid padding, power-of-two area"),
    LayerSupport("GlobalAveragePooling2D", "global_avgpool", _global_avgpool, "power-of-two H x W"),
    LayerSupport("ZeroPadding2D", "zeropad", _zeropad, "any padding"),
    LayerSupport("Flatten", "flatten", _flatten, "channels_last (raster order)"),
    LayerSupport("Reshape", "reshape", _reshape, "C-order"),
    LayerSupport("Add", "add", _add, "two or more inputs of one shape (residual blocks)"),
    LayerSupport("Concatenate", "concat", _concat, "on the channel axis"),
    LayerSupport("BatchNormalization", None, None, "folded by make synth right after a linear QConv2D/QDense",
                 rejection=FLOAT_BATCH_NORM),
    LayerSupport("QBatchNormalization", None, None, "", rejection=FLOAT_BATCH_NORM),
    LayerSupport("Dense", None, None, "", rejection=_float_weights("QDense")),
    LayerSupport("Conv2D", None, None, "", rejection=_float_weights("QConv2D")),
)}

OPS = ("quant", "identity", "dense", "conv2d", "maxpool", "avgpool", "global_avgpool", "zeropad", "flatten",
       "reshape", "add", "concat")
FLOAT_BATCH_NORMS = tuple(name for name, row in LAYER_TABLE.items() if row.rejection == FLOAT_BATCH_NORM)


def supported_layers() -> list[str]:
    """The Keras classes a stage may hold (the table without its rejections), sorted."""
    return sorted(name for name, row in LAYER_TABLE.items() if row.rejection is None)


# ---------------------------------------------------------------- model walk


def nodes_in_order(model):
    """The model's own nodes, inputs first (works for layers shared with a parent model)."""
    for depth in sorted(model._nodes_by_depth.keys(), reverse=True):
        yield from model._nodes_by_depth[depth]


def input_quantiser_format(model) -> FixedFormat:
    """Stage 1's input format: the quantiser of the QActivation fed by the model input."""
    inp = model.inputs[0]
    for node in nodes_in_order(model):
        if any(t is inp for t in node.keras_inputs) and type(node.layer).__name__ == "QActivation":
            return requant_of(node.layer, node.layer.quantizer).fmt
    raise ValueError(f"model {model.name!r} does not start with a QActivation input quantiser; "
                     "pass input_format explicitly")


def stage_ir(model, input_format: FixedFormat | None = None, has_logits: bool = True,
             name: str | None = None) -> StageIR:
    """The IR of a one-input stage model, as frontend.stages builds them: outputs [logits, forwarded],
    [logits] (the last stage) or, with ``has_logits`` False, [forwarded] (a headless stage).
    input_format None: the model's input quantiser (stage 1)."""
    if len(model.inputs) != 1:
        raise ValueError(f"stage model {model.name!r} has {len(model.inputs)} inputs; a stage has exactly one")
    if input_format is None:
        input_format = input_quantiser_format(model)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    names: dict[int, str] = {id(model.inputs[0]): INPUT}
    known: dict[str, tuple[tuple[int, ...], FixedFormat]] = {INPUT: (shape, input_format)}
    layers: list[LayerIR] = []
    for node in nodes_in_order(model):
        layer = node.layer
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        row = LAYER_TABLE.get(kind)
        if row is None:
            raise UnsupportedLayer(layer, f"not supported; supported layers: {', '.join(supported_layers())}")
        if row.rejection:
            raise UnsupportedLayer(layer, row.rejection)
        producers = tuple(names[id(t)] for t in node.keras_inputs)
        outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        if row.build is None:  # pass-through: the output is the input tensor
            names[id(outs[0])] = producers[0]
            continue
        x = _In(layer, producers, tuple(known[p][0] for p in producers), tuple(known[p][1] for p in producers))
        ir = row.build(x)
        layers.append(ir)
        names[id(outs[0])] = ir.name
        known[ir.name] = (ir.out_shape, ir.out_format)
    ports = [names[id(t)] for t in model.outputs]
    if len(ports) not in (1, 2) or (len(ports) == 2 and not has_logits):
        raise ValueError(f"stage model {model.name!r} has {len(ports)} outputs; a stage outputs [logits, forwarded], "
                         "[logits] or, headless, [forwarded]")
    logits = ports[0] if has_logits else None
    forwarded = ports[-1] if len(ports) == 2 or not has_logits else None
    return StageIR(name or model.name, shape, input_format, layers, logits, forwarded)


# ---------------------------------------------------------------- passes


def fuse_requantisers(ir: StageIR) -> StageIR:
    """Hardware view of a stage: each quantiser that alone reads a conv/dense without a quantiser of its own
    becomes that layer's requantiser (one layer, the quantiser's name, so ports and consumers still match),
    and a quantiser that leaves its input unchanged (stage 1's input quantiser on input codes of its own
    format) is dropped. Numerically nothing changes: QKeras quantises the same exact accumulator."""
    layers = {layer.name: layer for layer in ir.layers}
    rename: dict[str, str] = {}
    order: list[str] = []
    for layer in ir.layers:
        src = rename.get(layer.inputs[0], layer.inputs[0]) if layer.inputs else None
        prev = layers.get(src)
        sole = src is not None and len(ir.consumers(layer.inputs[0])) == 1 and layer.inputs[0] not in (
            ir.logits, ir.forwarded)
        if layer.op == "quant" and len(layer.inputs) == 1 and layer.requant.fmt == layer.in_format and (
                not layer.requant.relu or not layer.in_format.signed) and not layer.requant.symmetric:
            rename[layer.name] = src or INPUT    # a no-op quantiser
            continue
        if layer.op == "quant" and sole and prev is not None and prev.op in ("conv2d", "dense") and \
                prev.requant is None:
            fused = LayerIR(layer.name, prev.op, f"{prev.keras_class}+{layer.keras_class}", prev.inputs,
                            prev.in_shapes, prev.in_formats, layer.out_shape, layer.out_format, kernel=prev.kernel,
                            bias=prev.bias, weight_format=prev.weight_format, bias_format=prev.bias_format,
                            acc_format=prev.acc_format, requant=layer.requant, window=prev.window,
                            strides=prev.strides, padding=prev.padding)
            del layers[prev.name]
            order.remove(prev.name)
            layers[layer.name] = fused
            order.append(layer.name)
            continue
        if any(rename.get(i, i) != i for i in layer.inputs):
            layers[layer.name] = _with_inputs(layer, tuple(rename.get(i, i) for i in layer.inputs))
        order.append(layer.name)
    logits = rename.get(ir.logits, ir.logits)
    forwarded = rename.get(ir.forwarded, ir.forwarded)
    return StageIR(ir.name, ir.input_shape, ir.input_format, [layers[n] for n in order], logits, forwarded)


def _with_inputs(layer: LayerIR, inputs: tuple[str, ...]) -> LayerIR:
    from dataclasses import replace

    return replace(layer, inputs=inputs)


def layer_ir(layer, in_shape: tuple[int, ...], in_format: FixedFormat, requantiser=None) -> LayerIR:
    """The IR of one Keras layer on an input of ``in_shape``/``in_format``; ``requantiser`` (a following
    QActivation) is fused into a conv/dense as fuse_requantisers would."""
    row = LAYER_TABLE.get(type(layer).__name__)
    if row is not None and row.rejection:
        raise UnsupportedLayer(layer, row.rejection)
    if row is None or row.build is None:
        raise UnsupportedLayer(layer, f"not supported; supported layers: {', '.join(supported_layers())}")
    ir = row.build(_In(layer, (INPUT,), (tuple(in_shape),), (in_format,)))
    if requantiser is None:
        return ir
    q = _qactivation(_In(requantiser, (ir.name,), (ir.out_shape,), (ir.out_format,)))
    stage = fuse_requantisers(StageIR("layer", tuple(in_shape), in_format, [ir, q], None, q.name))
    return stage.layer(q.name)
