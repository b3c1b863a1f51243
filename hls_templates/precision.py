"""The model hls4ml converts and its per-layer precisions, both from the stage IR.

hls4ml's own reading of QKeras is not trusted: its default ``fixed<16,6>`` truncates unquantised tensors,
it types ``quantized_bits(8, 0, keep_negative=False)`` as ``fixed<8,1>`` (one fraction bit lost), it folds
QConv2DBatchnorm in float after quantising (QKeras folds, then quantises), and per-channel ``auto_po2``
scales and ternary thresholds are its own re-implementations. Instead the stage IR (frontend/ir.py, the
one table of supported layers) is written back as a plain Keras model that hls4ml parses with no quantiser
of its own:

* Dense/Conv2D carrying the IR's exact quantised weights (``weight``/``bias`` types hold them exactly),
  followed by a QActivation for a requantiser given inside the layer (named as hls4ml names its split
  activation, ``<layer>_<quantiser class>``);
* a QActivation for each quantiser, typed ``AP_RND_CONV`` with ``AP_SAT`` (``AP_SAT_SYM`` when symmetric):
  QKeras rounds half to even and saturates;
* pooling, zero padding, flatten, reshape, add and concatenate as they are, each typed with its IR format
  (accumulators wide enough for every partial sum), so nothing is rounded or wrapped between quantisers.

Every tensor is then exact in C simulation, so hls4ml and QKeras agree bit for bit wherever QKeras' own
float32 arithmetic is exact (at most 24 significant bits, which the IR checks per layer). Layer names are the
QKeras stage's, so a mismatch is located layer by layer (diagnose.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flows.errors import UserError
from frontend import ir as stage_ir_module
from frontend.fixedpoint import FixedFormat
from frontend.ir import OPS, LayerIR, Requant, StageIR, tf_padding


class UnsupportedLayer(UserError):
    """A stage layer hls4ml cannot convert, or not bit-exactly; the message names it."""


@dataclass(frozen=True)
class LayerFormats:
    """Exact formats of one Keras layer of the stage (None where a layer has no such type)."""

    name: str
    keras_class: str
    result: FixedFormat
    accum: FixedFormat | None = None
    weight: FixedFormat | None = None
    bias: FixedFormat | None = None
    # a requantiser given inside QConv2D/QDense becomes its own layer '<name>_<quantiser>'; (name, format)
    split_activation: tuple[str, FixedFormat] | None = None

    @property
    def output(self) -> FixedFormat:
        """Format of the tensor the Keras layer hands on (after its own activation)."""
        return self.split_activation[1] if self.split_activation else self.result


def split_activation_name(layer) -> str | None:
    """Name hls4ml gives the activation it splits off a QConv2D/QDense (QConv2DBatchnorm), if any."""
    act = getattr(layer, "activation", None)
    if not type(layer).__name__.startswith(("QConv2D", "QDense")) or act is None:
        return None
    name = getattr(act, "__name__", None) or type(act).__name__
    return f"{layer.name}_{name}"


def stage_ir_of(stage_model, input_format: FixedFormat | None = None) -> StageIR:
    """The stage IR of a stage model (outputs [logits, forwarded] or [logits]); IR errors as UnsupportedLayer."""
    if input_format is None:
        inputs = [layer for layer in stage_model.layers if type(layer).__name__ == "InputLayer"]
        if len(inputs) != 1:
            raise ValueError(f"stage model '{stage_model.name}' has {len(inputs)} inputs; a stage has exactly one")
        try:
            input_format = stage_ir_module.input_quantiser_format(stage_model)
        except ValueError:
            raise ValueError(f"stage model '{stage_model.name}' does not start with an input quantiser "
                             "QActivation; pass input_format= (the previous stage's forwarded_format)") from None
    try:
        return stage_ir_module.stage_ir(stage_model, input_format)
    except stage_ir_module.UnsupportedLayer as exc:
        raise UnsupportedLayer(str(exc)) from None


def stage_input_format(stage_model, input_format: FixedFormat | None = None) -> FixedFormat:
    """Format of the stage input: given, or the input quantiser that consumes it (stage 1).

    Typing stage 1's input as its quantiser's format (AP_RND_CONV/AP_SAT) makes the float->ap_fixed
    conversion itself the QKeras quantisation, and the hardware port is as narrow as it can be.
    """
    return input_format if input_format is not None else stage_ir_of(stage_model).input_format


def _precision(fmt: FixedFormat, symmetric: bool = False) -> str:
    return fmt.hls_type("AP_RND_CONV", "AP_SAT_SYM" if symmetric else "AP_SAT")


def _exact(fmt: FixedFormat) -> str:
    # exact intermediate types: nothing is ever rounded or wrapped, so keep the cheap modes
    return fmt.hls_type("AP_TRN", "AP_WRAP")


def _requant_name(stage_model, layer: LayerIR) -> str:
    original = stage_model.get_layer(layer.name)
    return split_activation_name(original) or f"{layer.name}_act"


def derive_formats(stage_model, input_format: FixedFormat | None = None) -> dict[str, LayerFormats]:
    """Exact formats of every layer of the stage, keyed by Keras layer name, in order (from the IR)."""
    ir = stage_ir_of(stage_model, input_format)
    inp = next(layer.name for layer in stage_model.layers if type(layer).__name__ == "InputLayer")
    formats = {inp: LayerFormats(inp, "InputLayer", ir.input_format)}
    for layer in ir.layers:
        split = None
        result = layer.out_format
        if layer.op in ("conv2d", "dense") and layer.requant is not None:
            split, result = (_requant_name(stage_model, layer), layer.out_format), layer.acc_format
        formats[layer.name] = LayerFormats(layer.name, layer.keras_class, result, layer.acc_format,
                                           layer.weight_format, layer.bias_format, split)
    return formats


def output_formats(stage_model, input_format: FixedFormat | None = None) -> list[FixedFormat]:
    """Formats of the stage outputs, in the model's output order."""
    return [layer.out_format for layer in stage_ir_of(stage_model, input_format).outputs]


def logit_format(stage_model, input_format: FixedFormat | None = None) -> FixedFormat:
    """Format of the stage's exit logits (its first output): their quantiser's, or, unquantised, the exact
    accumulator's (which depends on the stage's input format: give it for a stage k > 1)."""
    if input_format is None:
        try:
            input_format = stage_ir_module.input_quantiser_format(stage_model)
        except ValueError:
            return _quantiser_logit_format(stage_model)
    ir = stage_ir_of(stage_model, input_format)
    return ir.layer(ir.logits).out_format


def _quantiser_logit_format(stage_model) -> FixedFormat:
    """Logits out of a quantiser: its format, whatever the stage input."""
    layer = stage_model.outputs[0]._keras_history.layer
    quantizer = layer.quantizer if type(layer).__name__ == "QActivation" else getattr(layer, "activation", None)
    if quantizer is None or getattr(quantizer, "__name__", None) in ("linear", "relu"):
        raise ValueError(f"stage model '{stage_model.name}': unquantised logits take the exact accumulator format, "
                         "which depends on the stage input; pass input_format= (the previous stage's "
                         "forwarded_format)")
    try:
        return stage_ir_module.requant_of(layer, quantizer).fmt
    except stage_ir_module.UnsupportedLayer as exc:
        raise UnsupportedLayer(str(exc)) from None


def forwarded_format(stage_model, input_format: FixedFormat | None = None) -> FixedFormat:
    """Format of the tensor a (non-last) stage forwards to the next stage."""
    formats = output_formats(stage_model, input_format)
    if len(formats) < 2:
        raise ValueError(f"stage model '{stage_model.name}' has one output: the last stage forwards nothing")
    return formats[1]


# ---------------------------------------------------------------- the model hls4ml converts


def _quantiser(requant: Requant):
    """A QKeras quantiser with ``requant``'s output format (hls4ml reads only its kind; the type is ours)."""
    from qkeras import quantized_bits, quantized_relu

    fmt = requant.fmt
    if requant.relu:
        return quantized_relu(fmt.width, fmt.integer)
    return quantized_bits(fmt.width, fmt.integer - int(fmt.signed), keep_negative=fmt.signed, alpha=1,
                          symmetric=int(requant.symmetric))


@dataclass
class _Emit:
    """What one IR layer becomes: Keras layers (their output tensor) and hls4ml precisions by layer name."""

    stage_model: object
    reuse: int
    tensors: dict
    config: dict

    def typed(self, name: str, precision: dict) -> None:
        self.config[name] = {"Precision": precision, "ReuseFactor": self.reuse}

    def requant(self, x, layer: LayerIR, name: str):
        from qkeras import QActivation

        self.typed(name, {"result": _precision(layer.requant.fmt, layer.requant.symmetric)})
        return QActivation(_quantiser(layer.requant), name=name)(x)


def _affine(e: _Emit, x, layer: LayerIR):
    from tensorflow import keras

    if layer.op == "dense":
        keras_layer = keras.layers.Dense(layer.kernel.shape[1], use_bias=layer.bias is not None, name=layer.name)
    else:
        pads = tf_padding("same", layer.in_shape[:2], layer.window, layer.strides, None)
        padding = "valid" if layer.padding == (0, 0, 0, 0) else "same"
        if padding == "same" and layer.padding != pads:
            raise AssertionError(f"layer {layer.name!r}: padding {layer.padding} is neither 'same' nor 'valid'")
        keras_layer = keras.layers.Conv2D(layer.kernel.shape[3], layer.window, strides=layer.strides,
                                          padding=padding, use_bias=layer.bias is not None, name=layer.name)
    y = keras_layer(x)
    keras_layer.set_weights([layer.kernel.astype("float32")] +
                            ([layer.bias.astype("float32")] if layer.bias is not None else []))
    precision = {"result": _exact(layer.acc_format), "accum": _exact(layer.acc_format),
                 "weight": _exact(layer.weight_format)}
    if layer.bias_format is not None:
        precision["bias"] = _exact(layer.bias_format)
    e.typed(layer.name, precision)
    e.typed(f"{layer.name}_linear", {"result": _exact(layer.acc_format)})   # hls4ml splits off 'linear'
    if layer.requant is None:
        return y
    return e.requant(y, layer, _requant_name(e.stage_model, layer))


def _pool(e: _Emit, x, layer: LayerIR):
    from tensorflow import keras

    if layer.op == "maxpool":
        y = keras.layers.MaxPooling2D(layer.window, layer.strides, padding="valid", name=layer.name)(x)
        e.typed(layer.name, {"result": _exact(layer.out_format)})
        return y
    if layer.op == "avgpool":
        y = keras.layers.AveragePooling2D(layer.window, layer.strides, padding="valid", name=layer.name)(x)
    else:
        y = keras.layers.GlobalAveragePooling2D(keepdims=len(layer.out_shape) == 3, name=layer.name)(x)
    f, out = layer.in_format, layer.out_format
    shift = out.frac - f.frac
    # hls4ml sums in accum_t, then divides in it: the sum needs shift more integer bits, the mean shift more
    # fraction bits, so accum_t holds both exactly
    e.typed(layer.name, {"result": _exact(out), "accum": _exact(FixedFormat(f.width + 2 * shift, out.frac, f.signed))})
    return y


def _plain(make: Callable) -> Callable:
    def emit(e: _Emit, x, layer: LayerIR):
        y = make(layer)(x)
        e.typed(layer.name, {"result": _exact(layer.out_format)})
        return y

    return emit


def _layers():
    from tensorflow import keras

    return {
        "conv2d": _affine,
        "dense": _affine,
        "maxpool": _pool,
        "avgpool": _pool,
        "global_avgpool": _pool,
        "zeropad": _plain(lambda l: keras.layers.ZeroPadding2D(((l.padding[0], l.padding[1]),
                                                                (l.padding[2], l.padding[3])), name=l.name)),
        "flatten": _plain(lambda l: keras.layers.Flatten(name=l.name)),
        "reshape": _plain(lambda l: keras.layers.Reshape(l.out_shape, name=l.name)),
        "add": _plain(lambda l: keras.layers.Add(name=l.name)),
        "concat": _plain(lambda l: keras.layers.Concatenate(axis=-1, name=l.name)),
        "quant": lambda e, x, l: e.requant(x, l, l.name),
        "identity": lambda e, x, l: x,
    }


HLS_OPS = ("conv2d", "dense", "maxpool", "avgpool", "global_avgpool", "zeropad", "flatten", "reshape", "add",
           "concat", "quant", "identity")   # every IR op (frontend/ir.py OPS) has an hls4ml layer
assert set(HLS_OPS) == set(OPS), "an IR op without an hls4ml layer (or the reverse)"


def hls_view(stage_model, input_format: FixedFormat | None = None, reuse_factor: int = 1) -> tuple[object, dict]:
    """(the Keras model hls4ml converts, its ``LayerName`` precisions), both from the stage IR."""
    from tensorflow import keras

    ir = stage_ir_of(stage_model, input_format)
    inp_name = next(layer.name for layer in stage_model.layers if type(layer).__name__ == "InputLayer")
    inputs = keras.Input(ir.input_shape, name=inp_name)
    e = _Emit(stage_model, reuse_factor, {stage_ir_module.INPUT: inputs}, {})
    e.typed(inp_name, {"result": _precision(ir.input_format)})
    layers = _layers()
    for layer in ir.layers:
        xs = [e.tensors[i] for i in layer.inputs]
        e.tensors[layer.name] = layers[layer.op](e, xs[0] if len(xs) == 1 else xs, layer)
    outputs = [e.tensors[o.name] for o in ir.outputs]
    model = keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=stage_model.name)
    return model, e.config


def hls_layer_config(stage_model, input_format: FixedFormat | None = None,
                     reuse_factor: int = 1) -> dict[str, dict]:
    """hls4ml ``LayerName`` entries with exact precisions for every layer of the model hls4ml converts."""
    return hls_view(stage_model, input_format, reuse_factor)[1]
