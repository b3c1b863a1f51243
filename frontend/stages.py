"""Cut a multi-exit model into per-stage Keras models.

Stage k maps the tensor entering it to ``[exit_k_logits, forwarded]`` (the last
stage to ``[final_logits]``). Layers are cloned with their weights, so each
stage model stands alone for hls4ml and the RTL tracer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .fixedpoint import FixedFormat
from .graph import PASS_THROUGH, GraphError, StagePlan, plan_stages, read_graph
from .ir import StageIR, stage_ir


@dataclass
class Stage:
    plan: StagePlan
    model: object            # keras.Model
    input_format: FixedFormat | None  # None for stage 1: its first layer quantises the input
    logit_format: FixedFormat         # the exit's logits: their quantiser's format, or the exact accumulator's
    ir: StageIR | None = field(default=None, repr=False)   # the stage IR (frontend/ir.py), unfused

    @property
    def index(self) -> int:
        return self.plan.index

    @property
    def is_last(self) -> bool:
        return self.plan.forward is None


def split_model(model) -> list[Stage]:
    """The stages of ``model``, each with its IR: every layer option is checked here (one line naming the
    layer, the option and the fix), and stage k's input format is stage k-1's exact forwarded format."""
    plans = plan_stages(model)
    _check_input_quantised(model)
    classes = None
    stages = []
    entry_format = None
    for plan in plans:
        logits_layer = model.get_layer(plan.logits)
        width = logits_layer.output.shape[-1]
        if len(logits_layer.output.shape) != 2 or width is None or width < 2:
            raise GraphError(f"exit {plan.index} ({plan.logits!r}) outputs shape {tuple(logits_layer.output.shape)}, "
                             "not class logits (batch, classes)")
        if classes is not None and width != classes:
            raise GraphError(f"exit {plan.index} has {width} classes but exit 1 has {classes}; all exits classify the same classes")
        classes = width
        stage_model = _stage_model(model, plan)
        ir = stage_ir(stage_model, entry_format, name=f"stage_{plan.index}")
        stages.append(Stage(plan, stage_model, entry_format, logit_format(ir, plan), ir))
        if ir.forwarded is not None:
            entry_format = ir.layer(ir.forwarded).out_format
    return stages


def logit_format(ir: StageIR, plan: StagePlan) -> FixedFormat:
    """The format of exit ``plan.index``'s logits, from the stage IR: a quantiser's format, or, for
    unquantised logits (a QDense with quantised inputs and weights), its exact accumulator format."""
    from exit_unit.reference import MAX_LOGIT_WIDTH

    fmt = ir.layer(ir.logits).out_format
    if not 2 <= fmt.width <= MAX_LOGIT_WIDTH:
        raise GraphError(f"exit {plan.index} logits ({plan.logits!r}) need {fmt.width} bits ({fmt}), outside the "
                         f"2..{MAX_LOGIT_WIDTH} bits an exit unit takes; pass LOGIT_BITS=16 to round them")
    return fmt


def logits_quantised(stage: Stage) -> bool:
    """Whether the model itself quantises the exit's logits (else the flow takes the exact accumulator)."""
    layer = stage.ir.layer(stage.ir.logits)
    return layer.op == "quant" or layer.requant is not None


def _check_input_quantised(model) -> None:
    graph = read_graph(model)
    consumers = [n for n in graph.order if graph.inputs[0] in graph.inbound[n]]
    if not (len(consumers) == 1 and graph.classes[consumers[0]] == "QActivation"):
        raise GraphError("the model input is not quantised: make synth adds an input quantiser (the data's own "
                         "grid, or INPUT_BITS=); in Python, frontend.prepare.add_input_quantiser does it")


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
