"""Find the stages of a multi-exit functional model from its graph.

The model's outputs are its exits in depth order; the last is the final
classifier. The backbone is everything the final exit depends on. Each earlier
exit's head is what it depends on beyond the backbone, and the backbone tensor
its head reads is its branch point. Stage k runs the backbone from branch point
k-1 (exclusive) to branch point k (inclusive) plus head k, and forwards the
branch-point tensor to stage k+1. Supported layers all have one input, so the
backbone is a chain and each stage reads only the tensor forwarded to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flows.errors import UserError

SUPPORTED_LAYERS = {
    "InputLayer", "QActivation", "QConv2D", "QDense", "MaxPooling2D", "AveragePooling2D",
    "Flatten", "Dropout",
}
# BatchNormalization is evaluated by QKeras in float32 with an irrational scale that no
# fixed-point core reproduces bit for bit: fold it into the weights before quantising.
FOLD_FIRST = {"BatchNormalization", "QBatchNormalization", "QConv2DBatchnorm", "QDenseBatchnorm"}
PASS_THROUGH = {"Dropout"}  # identity at inference: dropped from the stages


class GraphError(UserError):
    """The model cannot be cut into stages; the message names the layer and the fix."""


class UnsupportedLayer(GraphError):
    pass


@dataclass(frozen=True)
class StagePlan:
    index: int                    # 1-based
    entry: str | None             # layer whose output enters the stage (None: the model input)
    backbone: tuple[str, ...]     # backbone layers of this stage, topological order
    head: tuple[str, ...]         # exit head layers, topological order, ending at the logits layer
    logits: str                   # layer producing this exit's logits
    forward: str | None           # layer whose output goes on to the next stage (None: last stage)


@dataclass(frozen=True)
class _Graph:
    order: tuple[str, ...]            # topological order (Keras config order)
    classes: dict[str, str]           # layer name -> class name
    inbound: dict[str, tuple[str, ...]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def ancestors(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            for parent in self.inbound[stack.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen


def read_graph(model) -> _Graph:
    config = model.get_config()
    if "layers" not in config or "output_layers" not in config:
        raise GraphError(f"model {model.name!r} is not a functional Keras model; save it with the functional API")
    inbound = {}
    classes = {}
    for layer in config["layers"]:
        name = layer["name"]
        classes[name] = layer["class_name"]
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise GraphError(f"layer {name!r} is called more than once (shared layer); unshare it")
        inbound[name] = tuple(entry[0] for entry in nodes[0]) if nodes else ()
    outputs = tuple(entry[0] for entry in config["output_layers"])
    inputs = tuple(entry[0] for entry in config["input_layers"])
    return _Graph(tuple(l["name"] for l in config["layers"]), classes, inbound, inputs, outputs)


def plan_stages(model) -> list[StagePlan]:
    graph = read_graph(model)
    for name in graph.order:
        kind = graph.classes[name]
        if kind in FOLD_FIRST:
            raise UnsupportedLayer(_batch_norm_problem(graph, name))
        if kind not in SUPPORTED_LAYERS and not _is_trailing_softmax(model, graph, name):
            raise UnsupportedLayer(
                f"layer {name!r} ({kind}) is not supported; build the model from QConv2D, QDense, "
                "QActivation, MaxPooling2D, AveragePooling2D, Flatten and Dropout layers")
    if len(graph.inputs) != 1:
        raise GraphError(f"model has {len(graph.inputs)} inputs; a multi-exit model has one")
    if len(graph.outputs) < 2:
        raise GraphError(f"model {model.name!r} has a single output, so no early exit; add early-exit heads "
                         "(e.g. Flatten + QDense(classes) + QActivation after a backbone block) as extra model "
                         "outputs before the final classifier, in depth order")
    logits = [_strip_softmax(model, graph, out) for out in graph.outputs]
    final = logits[-1]
    backbone = graph.ancestors(final) | {final}
    branches: list[str] = []
    heads: list[tuple[str, ...]] = []
    for k, exit_layer in enumerate(logits[:-1], start=1):
        head = (graph.ancestors(exit_layer) | {exit_layer}) - backbone
        if not head:
            raise GraphError(f"exit {k} ({graph.outputs[k - 1]!r}) lies on the backbone, not on a branch; "
                             "an early exit needs its own head layers")
        feeds = {p for h in head for p in graph.inbound[h] if p in backbone}
        if len(feeds) != 1:
            raise GraphError(f"exit {k} head reads {len(feeds)} backbone tensors {sorted(feeds)}; "
                             "a head must branch from exactly one backbone tensor")
        branch = feeds.pop()
        if branches and branches[-1] not in graph.ancestors(branch):
            raise GraphError(f"exit {k} branches at {branch!r}, not after exit {k - 1}'s branch "
                             f"{branches[-1]!r}; list the model outputs in depth order")
        branches.append(branch)
        heads.append(tuple(n for n in graph.order if n in head))
    plans = []
    entry = None
    done: set[str] = set(graph.inputs)
    for k in range(1, len(logits) + 1):
        if k < len(logits):
            segment = (graph.ancestors(branches[k - 1]) | {branches[k - 1]}) - done
            head, forward = heads[k - 1], branches[k - 1]
        else:
            segment = backbone - done
            head, forward = (), None
        segment_layers = tuple(n for n in graph.order if n in segment)
        plans.append(StagePlan(k, entry, segment_layers, head, logits[k - 1], forward))
        done |= segment
        entry = forward
    return plans


def _batch_norm_problem(graph: _Graph, name: str) -> str:
    """Why a batch norm cannot be built, and the fix, by what it follows."""
    kind = graph.classes[name]
    if kind != "BatchNormalization" and kind != "QBatchNormalization":
        return (f"layer {name!r} ({kind}) is not bit-exact in fixed point; fold the batch norm into the "
                "layer's weights and bias (QConv2D/QDense), then quantise")
    parent = graph.inbound[name][0] if graph.inbound[name] else None
    parent_kind = graph.classes.get(parent)
    if parent_kind in ("QConv2D", "QDense"):
        return (f"layer {name!r} ({kind}) is evaluated in float32 and is not bit-exact in fixed point; fold it "
                f"into the weights and bias of {parent!r} ({parent_kind}), then quantise")
    after = "the model input" if parent_kind in (None, "InputLayer") else f"{parent!r} ({parent_kind})"
    return (f"layer {name!r} ({kind}) follows {after}, which has no weights to fold it into, and a float "
            "batch norm is not bit-exact in fixed point; move it right after a QConv2D or QDense, or remove it")


def _is_trailing_softmax(model, graph: _Graph, name: str) -> bool:
    return name in graph.outputs and graph.classes[name] == "Activation" and \
        model.get_layer(name).get_config().get("activation") == "softmax"


def _strip_softmax(model, graph: _Graph, name: str) -> str:
    """Exits decide on logits: a trailing softmax is dropped (the exit unit needs no softmax)."""
    if _is_trailing_softmax(model, graph, name):
        return graph.inbound[name][0]
    return name
