"""A stage IR (frontend/ir.py) -> da4ml traced computation, layer by layer.

Each IR op has one tracer taking the traced input tensor and the LayerIR and
returning the traced output; the IR carries the exact quantised weights,
geometry and QKeras formats, so outputs can be packed and compared as integer
codes and stage k+1 takes stage k's forwarded format as input. Which Keras
layers are supported, and why the others are not bit-exact, is decided once,
in frontend/ir.py (LAYER_TABLE); QKeras' float32 limit is checked there too.

Rounding: QKeras rounds half to even and saturates (quantize.py builds that
from da4ml's truncation).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray, HWConfig

from frontend.fixedpoint import FixedFormat
from frontend.ir import INPUT, LayerIR, StageIR, UnsupportedLayer, input_quantiser_format, stage_ir

from .quantize import kif, quantize_array

# One adder = one unit of da4ml latency; carries are not modelled (Xilinx CARRY4 chains).
HWCONF = HWConfig(adder_size=1, carry_size=-1, latency_cutoff=-1)
# Allow the CMVM solver 2 adder levels above the minimal adder-tree depth (da4ml's convert default).
SOLVER_OPTIONS = {"hard_dc": 2}


@dataclass
class Traced:
    """A traced tensor (batch axis dropped) and the format its port carries."""

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


def traced_input(shape: tuple[int, ...], fmt: FixedFormat) -> FixedVariableArray:
    """Free da4ml input variables of one format (a stage's input, a window kernel's window)."""
    k, i, f = kif(fmt)
    return FixedVariableArray.from_kif(np.full(shape, k), np.full(shape, i), np.full(shape, f),
                                       hwconf=HWCONF, solver_options=dict(SOLVER_OPTIONS))


def covering_format(x: FixedVariableArray) -> FixedFormat:
    """Smallest FixedFormat holding every element of a traced array."""
    ks, is_, fs = x.kif
    signed = bool(np.any(ks))
    frac = int(np.max(fs))
    integer = int(np.max(is_))
    return FixedFormat(width=max(1, int(signed) + integer + frac), frac=frac, signed=signed)


def _tree(op: Callable[[FixedVariable, FixedVariable], FixedVariable], items: list) -> FixedVariable:
    """Balanced reduction (log depth) rather than a chain."""
    while len(items) > 1:
        items = [op(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


# ---------------------------------------------------------------- IR walk


def _windows(x: FixedVariableArray, layer: LayerIR):
    """(oh, ow) -> the window's taps inside the image and their kernel rows (zero padding adds nothing)."""
    height, width, _ = x.shape
    kh, kw = layer.window
    sh, sw = layer.strides
    top, left = layer.padding[0], layer.padding[2]
    out_h, out_w = layer.out_shape[:2]
    for oh in range(out_h):
        for ow in range(out_w):
            taps, rows = [], []
            for dh in range(kh):
                for dw in range(kw):
                    ih, iw = oh * sh - top + dh, ow * sw - left + dw
                    if 0 <= ih < height and 0 <= iw < width:
                        taps.append(x._vars[ih, iw, :])
                        rows.append((dh, dw))
            yield (oh, ow), taps, rows


def _requantize(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    if layer.requant is None:
        return x
    return quantize_array(x, layer.requant.fmt, relu=layer.requant.relu, symmetric=layer.requant.symmetric)


def _trace_conv(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    out = np.empty(layer.out_shape, dtype=object)
    for (oh, ow), taps, rows in _windows(x, layer):
        window = _array(np.concatenate(taps))
        out[oh, ow, :] = (window @ np.concatenate([layer.kernel[dh, dw] for dh, dw in rows], axis=0))._vars
    y = _array(out)
    if layer.bias is not None:
        y = y + layer.bias
    return _requantize(y, layer)


def trace_window_conv(layer: LayerIR) -> tuple[FixedVariableArray, FixedVariableArray]:
    """da4ml trace of ONE window of a conv LayerIR: (kh, kw, cin) inputs of its input format -> (cout,)
    outputs, bias and requantiser included (what a streaming or folded core applies per window)."""
    window = traced_input(layer.kernel.shape[:3], layer.in_format)
    y = _array(window._vars.ravel()) @ layer.kernel.reshape(-1, layer.kernel.shape[3])
    if layer.bias is not None:
        y = y + layer.bias
    return window, _requantize(y, layer)


def _trace_dense(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    y = x @ layer.kernel
    if layer.bias is not None:
        y = y + layer.bias
    return _requantize(y, layer)


def _trace_pool(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    out = np.empty(layer.out_shape, dtype=object)
    reduce = window_max if layer.op == "maxpool" else window_mean
    for (oh, ow), taps, _ in _windows(x, layer):
        cells = np.stack(taps)  # (taps, channels)
        for c in range(layer.out_shape[2]):
            out[oh, ow, c] = reduce(list(cells[:, c]))
    return _array(out)


def window_max(cells: list[FixedVariable]) -> FixedVariable:
    """Maximum of a pooling window's cells (MaxPooling2D), as a balanced tree of comparisons."""
    return _tree(lambda a, b: a.max_of(b), cells)


def mean_shift(area: int) -> int:
    """log2 of a pooling area; ValueError unless it is a power of two (only then the mean is exact)."""
    shift = area.bit_length() - 1
    if area < 1 or 1 << shift != area:
        raise ValueError(f"pool area {area} is not a power of two, so the mean is not exact in fixed point; "
                         "use a 2x2 or 4x4 pool")
    return shift


def window_mean(cells: list[FixedVariable]) -> FixedVariable:
    """Exact mean of a power-of-two number of cells (AveragePooling2D): the sum, shifted."""
    return _tree(lambda a, b: a + b, cells) * 2.0**-mean_shift(len(cells))


def mean_format(fmt: FixedFormat, area: int) -> FixedFormat:
    """Format that holds the exact mean of ``area`` cells of ``fmt``: log2(area) more fraction bits."""
    shift = mean_shift(area)
    return FixedFormat(fmt.width + shift, fmt.frac + shift, fmt.signed)


def _trace_global_avgpool(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    cells = x._vars.reshape(-1, x.shape[-1])   # (H*W, channels)
    out = np.empty(x.shape[-1], dtype=object)
    for c in range(x.shape[-1]):
        out[c] = window_mean(list(cells[:, c]))
    return _array(out.reshape(layer.out_shape))


def _trace_zeropad(x: FixedVariableArray, layer: LayerIR) -> FixedVariableArray:
    top, bottom, left, right = layer.padding
    h, w, _ = x.shape
    out = np.empty(layer.out_shape, dtype=object)
    out.ravel()[:] = [FixedVariable.from_const(0.0, hwconf=HWCONF) for _ in range(out.size)]
    out[top:top + h, left:left + w, :] = x._vars
    return _array(out)


def _trace_add(xs: list[FixedVariableArray], layer: LayerIR) -> FixedVariableArray:
    out = np.empty(layer.out_shape, dtype=object)
    flat = [x._vars.ravel() for x in xs]
    out.ravel()[:] = [_tree(lambda a, b: a + b, list(terms)) for terms in zip(*flat)]
    return _array(out)


def _trace_concat(xs: list[FixedVariableArray], layer: LayerIR) -> FixedVariableArray:
    return _array(np.concatenate([x._vars for x in xs], axis=-1))


IR_TRACERS: dict[str, Callable[[FixedVariableArray, LayerIR], FixedVariableArray]] = {
    "quant": lambda x, layer: _requantize(x, layer),
    "identity": lambda x, layer: x,
    "conv2d": _trace_conv,
    "dense": _trace_dense,
    "maxpool": _trace_pool,
    "avgpool": _trace_pool,
    "global_avgpool": _trace_global_avgpool,
    "zeropad": _trace_zeropad,
    "flatten": lambda x, layer: x.reshape(-1),   # C-order, as Keras Flatten on channels_last
    "reshape": lambda x, layer: x.reshape(layer.out_shape),
}
# ops joining several tensors (skip connections): the tracer takes the producers' arrays in input order
JOIN_TRACERS: dict[str, Callable[[list[FixedVariableArray], LayerIR], FixedVariableArray]] = {
    "add": _trace_add,
    "concat": _trace_concat,
}


def input_format_of(model) -> FixedFormat:
    """Stage 1's input format: the quantiser of the QActivation fed by the model input."""
    return input_quantiser_format(model)


def trace_ir(ir: StageIR) -> StageTrace:
    """da4ml trace of a stage IR; outputs in port order (exit logits, then the forwarded tensor)."""
    shape = ir.input_shape
    inputs = traced_input(shape, ir.input_format)
    tensors: dict[str, FixedVariableArray] = {INPUT: inputs}
    for layer in ir.layers:
        if layer.op in JOIN_TRACERS:
            tensors[layer.name] = JOIN_TRACERS[layer.op]([tensors[i] for i in layer.inputs], layer)
            continue
        tracer = IR_TRACERS.get(layer.op)
        if tracer is None:
            raise ValueError(f"layer {layer.name!r}: the fully parallel tracer has no '{layer.op}' op")
        tensors[layer.name] = tracer(tensors[layer.inputs[0]], layer)
    outputs = [TracedOutput(o.name, o.out_shape, o.out_format, tensors[o.name]) for o in ir.outputs]
    return StageTrace(shape, ir.input_format, inputs, outputs)


def trace_stage(model, input_format: FixedFormat | None = None, has_logits: bool = True) -> StageTrace:
    """Trace a one-input stage model through its IR (frontend.ir); outputs keep the model's order."""
    return trace_ir(stage_ir(model, input_format, has_logits=has_logits))
