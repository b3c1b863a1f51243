"""Cut a multi-exit model into per-stage Keras models.

Stage k maps the tensor entering it to ``[exit_k_logits, forwarded]`` (the last
stage to ``[final_logits]``). Layers are cloned with their weights, so each
stage model stands alone for hls4ml and the RTL tracer.
"""
from __future__ import annotations

from dataclasses import dataclass

from .fixedpoint import FixedFormat, qkeras_format
from .graph import PASS_THROUGH, GraphError, StagePlan, plan_stages, read_graph


@dataclass
class Stage:
    plan: StagePlan
    model: object            # keras.Model
    input_format: FixedFormat | None  # None for stage 1: its first layer quantises the input
    logit_format: FixedFormat

    @property
    def index(self) -> int:
        return self.plan.index

    @property
    def is_last(self) -> bool:
        return self.plan.forward is None


def split_model(model) -> list[Stage]:
    plans = plan_stages(model)
    _check_input_quantised(model)
    classes = None
    stages = []
    for plan in plans:
        logits_layer = model.get_layer(plan.logits)
        width = logits_layer.output.shape[-1]
        if len(logits_layer.output.shape) != 2 or width is None or width < 2:
            raise GraphError(f"exit {plan.index} ({plan.logits!r}) outputs shape {tuple(logits_layer.output.shape)}, "
                             "not class logits (batch, classes)")
        if classes is not None and width != classes:
            raise GraphError(f"exit {plan.index} has {width} classes but exit 1 has {classes}; all exits classify the same classes")
        classes = width
        stages.append(Stage(plan, _stage_model(model, plan), _entry_format(model, plan), logit_format(model, plan)))
    return stages


def logit_format(model, plan: StagePlan) -> FixedFormat:
    layer = model.get_layer(plan.logits)
    quantizer = _output_quantizer(layer)
    if quantizer is None:
        raise GraphError(f"exit {plan.index} logits ({plan.logits!r}) are not quantised; end the exit with "
                         "QActivation(quantized_bits(16, 6, alpha=1)) so the exit unit has a fixed width")
    try:
        return qkeras_format(quantizer)
    except ValueError as exc:
        raise GraphError(f"exit {plan.index} logits ({plan.logits!r}): {exc}") from None


def _entry_format(model, plan: StagePlan) -> FixedFormat | None:
    """Fixed-point format of the tensor entering the stage, from the quantiser that produced it."""
    if plan.entry is None:
        return None
    graph = read_graph(model)
    name = plan.entry
    while True:  # pooling, flatten and dropout keep their input's grid (max) or are checked by the tracer (avg)
        layer = model.get_layer(name)
        quantizer = _output_quantizer(layer)
        if quantizer is not None:
            return qkeras_format(quantizer)
        if graph.classes[name] not in ("MaxPooling2D", "Flatten", "Dropout"):
            return None  # a grid the RTL tracer derives itself (e.g. after average pooling)
        name = graph.inbound[name][0]


def _output_quantizer(layer):
    kind = type(layer).__name__
    if kind == "QActivation":
        return layer.quantizer
    if kind in ("QDense", "QConv2D"):
        act = layer.activation
        return act if type(act).__name__ in ("quantized_bits", "quantized_relu") else None
    return None


def _check_input_quantised(model) -> None:
    graph = read_graph(model)
    consumers = [n for n in graph.order if graph.inputs[0] in graph.inbound[n]]
    ok = len(consumers) == 1 and graph.classes[consumers[0]] == "QActivation"
    if ok:
        try:
            qkeras_format(model.get_layer(consumers[0]).quantizer)
        except ValueError:
            ok = False
    if not ok:
        raise GraphError("the model input is not quantised: put QActivation(quantized_bits(...)) or "
                         "QActivation(quantized_relu(...)) right after the Input")


def _stage_model(model, plan: StagePlan):
    from tensorflow import keras
    from qkeras.utils import _add_supported_quantized_objects

    graph = read_graph(model)
    custom: dict = {}
    _add_supported_quantized_objects(custom)
    if plan.entry is None:
        source = graph.inputs[0]
        shape = model.get_layer(source).output.shape[1:]
    else:
        source = plan.entry
        shape = model.get_layer(source).output.shape[1:]
    name = f"stage_{plan.index}"
    inputs = keras.Input(shape=tuple(shape), name=f"{name}_input")
    tensors = {source: inputs}
    with keras.utils.custom_object_scope(custom):
        for layer_name in (*plan.backbone, *plan.head):
            if graph.classes[layer_name] == "InputLayer":
                continue
            parents = graph.inbound[layer_name]
            x = tensors[parents[0]] if len(parents) == 1 else [tensors[p] for p in parents]
            if graph.classes[layer_name] in PASS_THROUGH:
                tensors[layer_name] = x
                continue
            original = model.get_layer(layer_name)
            clone = type(original).from_config(original.get_config())
            tensors[layer_name] = clone(x)
            clone.set_weights(original.get_weights())
    outputs = [tensors[plan.logits]]
    if plan.forward is not None:
        outputs.append(tensors[plan.forward])
    return keras.Model(inputs, outputs, name=name)


def headless_model(stage: Stage):
    """Stage ``stage.index`` without its exit head: stage input -> forwarded tensor only.

    What the hardware runs when the design drops this exit. The layers are cloned
    with their weights, so the model stands alone like ``stage.model``.
    """
    from tensorflow import keras
    from qkeras.utils import _add_supported_quantized_objects

    if stage.is_last:
        raise ValueError(f"stage {stage.index} is the last stage: its exit is the final exit, which is always kept")
    backbone = keras.Model(stage.model.inputs, stage.model.outputs[-1], name=f"stage_{stage.index}_headless")
    custom: dict = {}
    _add_supported_quantized_objects(custom)
    with keras.utils.custom_object_scope(custom):
        model = keras.models.clone_model(backbone)
    model.set_weights(backbone.get_weights())
    return model
