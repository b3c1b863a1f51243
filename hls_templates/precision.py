"""Per-layer hls4ml precisions derived from a stage's QKeras quantisers.

hls4ml's own mapping is not trusted: its default ``fixed<16,6>`` truncates
unquantised tensors, it types ``quantized_bits(8, 0, keep_negative=False)`` as
``fixed<8,1>`` (one fraction bit lost) and it drops an exit ``QActivation``
that follows a Dense whose output type is 'auto'. Instead every tensor of the
stage gets an exact FixedFormat here:

* a quantiser's output is ``qkeras_format(q)`` with AP_RND_CONV/AP_SAT
  (QKeras rounds half to even and saturates);
* a QConv2D/QDense accumulator is wide enough for every partial sum of its
  quantised weights, so nothing is rounded or wrapped before the next quantiser;
* pooling and Flatten keep (max) or exactly widen (average) their input format.

Every tensor is then exact in C simulation, so hls4ml and QKeras agree bit for
bit wherever QKeras' own float32 arithmetic is exact (at most 24 significant
bits per tensor, which ``derive_formats`` warns about otherwise).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from flows.errors import UserError
from frontend.fixedpoint import FixedFormat, qkeras_format

FLOAT32_MANTISSA_BITS = 24


class UnsupportedLayer(UserError):
    """A stage layer hls4ml cannot convert, or not bit-exactly; the message names it."""


@dataclass(frozen=True)
class LayerFormats:
    """Exact formats of one Keras layer (None where a layer has no such type)."""

    name: str
    keras_class: str
    result: FixedFormat
    accum: FixedFormat | None = None
    weight: FixedFormat | None = None
    bias: FixedFormat | None = None
    # hls4ml splits an activation given inside QConv2D/QDense into its own
    # layer '<name>_<activation>'; (that name, its result format).
    split_activation: tuple[str, FixedFormat] | None = None

    @property
    def output(self) -> FixedFormat:
        """Format of the tensor the Keras layer hands on (after its own activation)."""
        return self.split_activation[1] if self.split_activation else self.result


def _unsupported(layer, why: str) -> UnsupportedLayer:
    return UnsupportedLayer(f"layer '{layer.name}' ({type(layer).__name__}): {why}")


def _quantiser_format(layer, quantizer, role: str) -> FixedFormat:
    if quantizer is None:
        raise _unsupported(layer, f"no {role} quantiser; float values cannot be bit-exact in "
                                  f"fixed point, give it quantized_bits(..., alpha=1)")
    if isinstance(quantizer, str):
        from qkeras import get_quantizer
        quantizer = get_quantizer(quantizer)
    try:
        return qkeras_format(quantizer)
    except (ValueError, AttributeError, TypeError) as exc:
        raise _unsupported(layer, f"{role} quantiser {getattr(quantizer, '__name__', quantizer)!s}: "
                                  f"{exc}; use quantized_bits(alpha=1) or quantized_relu") from exc


def _signed_width(max_abs_code: int) -> int:
    """Bits of a two's complement code holding [-max_abs_code, max_abs_code]."""
    return max(int(max_abs_code).bit_length() + 1, 2)


def _accumulator(layer, x: FixedFormat, w: FixedFormat, b: FixedFormat | None) -> FixedFormat:
    """Exact accumulator of sum(x*w) + b for this layer's quantised weights.

    Bounds every partial sum in any order by |b| + sum |w| * max|x| per output.
    """
    kernel = layer.get_weights()[0]
    w_codes = np.abs(w.quantize(kernel)).reshape(-1, kernel.shape[-1])  # (fan_in, n_out)
    frac = x.frac + w.frac if b is None else max(x.frac + w.frac, b.frac)
    x_max = max(abs(x.min_code), abs(x.max_code))
    bound = w_codes.sum(axis=0).astype(object) * x_max * (1 << (frac - x.frac - w.frac))
    if b is not None and layer.use_bias:
        b_codes = np.abs(b.quantize(layer.get_weights()[1])).astype(object)
        bound = bound + b_codes * (1 << (frac - b.frac))
    return FixedFormat(width=_signed_width(int(max(bound))), frac=frac, signed=True)


def _activation_name(activation) -> str:
    return getattr(activation, "__name__", type(activation).__name__)


def split_activation_name(layer) -> str | None:
    """Name hls4ml gives the activation it splits off a QConv2D/QDense, if any."""
    act = getattr(layer, "activation", None)
    if type(layer).__name__ not in ("QConv2D", "QDense") or act is None:
        return None
    if type(act).__name__ in ("quantized_bits", "quantized_relu"):
        return f"{layer.name}_{type(act).__name__}"
    return f"{layer.name}_{_activation_name(act)}"


def _split_activation(layer, acc: FixedFormat) -> tuple[str, FixedFormat]:
    """Format after the activation given inside a QConv2D/QDense."""
    act = layer.activation
    name = _activation_name(act)
    if name in ("linear", "relu"):  # exact on the accumulator format
        return split_activation_name(layer), acc
    if type(act).__name__ in ("quantized_bits", "quantized_relu"):
        return split_activation_name(layer), _quantiser_format(layer, act, "activation")
    raise _unsupported(layer, f"activation '{name}' is not exact in fixed point; "
                              f"use a quantized_relu/quantized_bits activation")


def _conv_or_dense(layer, x: FixedFormat) -> LayerFormats:
    cls = type(layer).__name__
    if cls == "QConv2D" and (tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1):
        raise _unsupported(layer, "dilated or grouped convolutions are not converted; use dilation 1, groups 1")
    w = _quantiser_format(layer, layer.kernel_quantizer_internal, "kernel")
    b = _quantiser_format(layer, layer.bias_quantizer_internal, "bias") if layer.use_bias else None
    acc = _accumulator(layer, x, w, b)
    split = _split_activation(layer, acc)
    return LayerFormats(layer.name, cls, result=acc, accum=acc, weight=w, bias=b, split_activation=split)


def _pool_padding(layer, in_shape) -> int:
    if layer.padding == "valid":
        return 0
    total = 0
    for size, pool, stride in zip(in_shape[1:3], layer.pool_size, layer.strides):
        out = math.ceil(size / stride)
        total += max((out - 1) * stride + pool - size, 0)
    return total


def _pooling(layer, x: FixedFormat) -> LayerFormats:
    cls = type(layer).__name__
    if cls == "MaxPooling2D":
        return LayerFormats(layer.name, cls, result=x, accum=x)
    n = int(np.prod(layer.pool_size))
    shift = n.bit_length() - 1
    if n != 1 << shift:
        raise _unsupported(layer, f"average over {n} values is not exact in fixed point; "
                                  f"use a pool size whose area is a power of two")
    if _pool_padding(layer, layer.input_shape):
        raise _unsupported(layer, "padded average pooling divides edge windows by fewer values; "
                                  "use padding='valid' or an input divisible by the pool size")
    # the sum needs `shift` more integer bits; the division `shift` more fraction bits
    accum = FixedFormat(x.width + 2 * shift, x.frac + shift, x.signed)
    result = FixedFormat(x.width + shift, x.frac + shift, x.signed)
    return LayerFormats(layer.name, cls, result=result, accum=accum)


def _layer_formats(layer, x: FixedFormat) -> LayerFormats:
    cls = type(layer).__name__
    if cls == "QActivation":
        return LayerFormats(layer.name, cls, result=_quantiser_format(layer, layer.quantizer, "activation"))
    if cls in ("QConv2D", "QDense"):
        return _conv_or_dense(layer, x)
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        return _pooling(layer, x)
    if cls in ("Flatten", "Dropout"):
        return LayerFormats(layer.name, cls, result=x)
    if cls == "Activation" and _activation_name(layer.activation) in ("relu", "linear"):
        return LayerFormats(layer.name, cls, result=x)
    if cls in ("BatchNormalization", "QBatchNormalization"):
        raise _unsupported(layer, "a float batch normalisation is not exact in fixed point; "
                                  "fold it into the preceding QConv2D/QDense before quantisation")
    if cls in ("Dense", "Conv2D"):
        raise _unsupported(layer, f"float {cls} has no quantisers and cannot be bit-exact; "
                                  f"use Q{cls} with quantized_bits(..., alpha=1) kernel and bias")
    raise _unsupported(layer, "not supported by the per-stage HLS flow; supported: QActivation, "
                              "QConv2D, QDense, MaxPooling2D, AveragePooling2D, Flatten, Dropout, "
                              "Activation(relu/linear)")


def _inbound(layer) -> list:
    nodes = layer._inbound_nodes
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _consumers(model, layer) -> list:
    return [other for other in model.layers if layer in _inbound(other)]


def stage_input_format(stage_model, input_format: FixedFormat | None = None) -> FixedFormat:
    """Format of the stage input: given, or the input quantiser that alone consumes it.

    Stage 1 starts with an input quantiser QActivation: typing the input as that
    quantiser's format (AP_RND_CONV/AP_SAT) makes the float->ap_fixed conversion
    itself the QKeras quantisation, and the hardware port is as narrow as it can be.
    """
    if input_format is not None:
        return input_format
    inputs = [l for l in stage_model.layers if type(l).__name__ == "InputLayer"]
    if len(inputs) != 1:
        raise ValueError(f"stage model '{stage_model.name}' has {len(inputs)} inputs; a stage has exactly one")
    consumers = _consumers(stage_model, inputs[0])
    if len(consumers) == 1 and type(consumers[0]).__name__ == "QActivation":
        return _quantiser_format(consumers[0], consumers[0].quantizer, "activation")
    raise ValueError(f"stage model '{stage_model.name}' does not start with an input quantiser "
                     f"QActivation; pass input_format= (the previous stage's forwarded_format)")


def derive_formats(stage_model, input_format: FixedFormat | None = None) -> dict[str, LayerFormats]:
    """Exact formats of every layer of a stage, keyed by Keras layer name (in order)."""
    formats: dict[str, LayerFormats] = {}
    for layer in stage_model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            formats[layer.name] = LayerFormats(layer.name, cls, stage_input_format(stage_model, input_format))
            continue
        inbound = _inbound(layer)
        if len(inbound) != 1:
            raise _unsupported(layer, "layers with several inputs are not supported in a stage; "
                                      "keep each stage a chain with one input")
        fmt = _layer_formats(layer, formats[inbound[0].name].output)
        widest = max(f.width for f in (fmt.result, fmt.accum) if f is not None)
        if widest > FLOAT32_MANTISSA_BITS:
            warnings.warn(f"layer '{layer.name}' needs {widest} bits; QKeras computes in float32 "
                          f"(24-bit mantissa), so the QKeras reference itself may round here", stacklevel=2)
        formats[layer.name] = fmt
    return formats


def _output_layers(stage_model) -> list:
    return [t._keras_history.layer for t in stage_model.outputs]


def output_formats(stage_model, input_format: FixedFormat | None = None) -> list[FixedFormat]:
    """Formats of the stage outputs, in the model's output order."""
    formats = derive_formats(stage_model, input_format)
    return [formats[layer.name].output for layer in _output_layers(stage_model)]


def logit_format(stage_model) -> FixedFormat:
    """Format of the stage's exit logits (its first output), read from its quantiser.

    Independent of the stage input: the logits are the output of a quantiser.
    """
    layer = _output_layers(stage_model)[0]
    if type(layer).__name__ == "QActivation":
        return _quantiser_format(layer, layer.quantizer, "activation")
    if type(layer).__name__ in ("QConv2D", "QDense") and type(layer.activation).__name__ in (
            "quantized_bits", "quantized_relu"):
        return _quantiser_format(layer, layer.activation, "activation")
    raise _unsupported(layer, "the exit logits must come out of a quantiser; end the exit with "
                              "QActivation(quantized_bits(..., alpha=1))")


def forwarded_format(stage_model, input_format: FixedFormat | None = None) -> FixedFormat:
    """Format of the tensor a (non-last) stage forwards to the next stage."""
    formats = output_formats(stage_model, input_format)
    if len(formats) < 2:
        raise ValueError(f"stage model '{stage_model.name}' has one output: the last stage forwards nothing")
    return formats[1]


def _precision(fmt: FixedFormat) -> str:
    return fmt.hls_type("AP_RND_CONV", "AP_SAT")


def _exact(fmt: FixedFormat) -> str:
    # exact intermediate types: nothing is ever rounded or wrapped, so keep the cheap modes
    return fmt.hls_type("AP_TRN", "AP_WRAP")


def hls_layer_config(stage_model, input_format: FixedFormat | None = None,
                     reuse_factor: int = 1) -> dict[str, dict]:
    """hls4ml ``LayerName`` entries with exact precisions for every layer of a stage."""
    for layer in _output_layers(stage_model):
        if type(layer).__name__ == "Dropout":  # hls4ml skips Dropout and loses the output with it
            raise _unsupported(layer, "a Dropout cannot be a stage output; output the tensor before it")
    config: dict[str, dict] = {}
    for name, f in derive_formats(stage_model, input_format).items():
        if f.keras_class in ("QActivation", "InputLayer"):
            precision = {"result": _precision(f.result)}
        else:
            precision = {"result": _exact(f.result)}
        if f.accum is not None:
            precision["accum"] = _exact(f.accum)
        if f.weight is not None:
            precision["weight"] = _exact(f.weight)
        if f.bias is not None:
            precision["bias"] = _exact(f.bias)
        config[name] = {"Precision": precision, "ReuseFactor": reuse_factor}
        if f.split_activation is not None:
            act_name, act_fmt = f.split_activation
            # an exact linear/relu keeps the accumulator type, so hls4ml drops the no-op cast
            typed = _exact(act_fmt) if act_fmt == f.result else _precision(act_fmt)
            config[act_name] = {"Precision": {"result": typed}, "ReuseFactor": reuse_factor}
    return config
