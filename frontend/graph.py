"""Find the stages of a multi-exit functional model from its graph.

The model's outputs are its exits in depth order; the last is the final
classifier. The backbone is everything the final exit depends on. Each earlier
exit's head is what it depends on beyond the backbone, and the backbone tensor
its head reads is its branch point. Stage k runs the backbone from branch point
k-1 (exclusive) to branch point k (inclusive) plus head k, and forwards the
branch-point tensor to stage k+1. The backbone need not be a chain (residual
blocks: Add, Concatenate), but a stage boundary must cut it: no skip connection
may cross a branch point, so each stage reads only the tensor forwarded to it.

Which layers a model may hold is the stage IR's table (frontend/ir.py LAYER_TABLE),
checked here on the classes alone, before anything is trained.
"""
from __future__ import annotations

from dataclasses import dataclass

from flows.errors import UserError

from .ir import FLOAT_BATCH_NORMS, LAYER_TABLE, supported_layers

SUPPORTED_LAYERS = frozenset(supported_layers())
# A float batch norm is evaluated by QKeras in float32 with an irrational scale that no fixed-point
# core reproduces bit for bit: frontend/prepare.py folds it into a linear QConv2D/QDense before it;
# anywhere else it is an error naming what it follows.
FOLD_FIRST = frozenset(FLOAT_BATCH_NORMS)
PASS_THROUGH = frozenset(name for name, row in LAYER_TABLE.items() if row.op is None and row.rejection is None
                         and name != "InputLayer")   # identity at inference: dropped from the stages
POOLING = ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D")
MERGING = ("Add", "Concatenate")
WEIGHTED = tuple(name for name, row in LAYER_TABLE.items() if row.op in ("conv2d", "dense"))
ELEMENTWISE = ("QActivation", "Activation", "ReLU", "Dropout")   # keep a tensor's shape; an exit goes after them


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

    def consumers(self, name: str) -> list[str]:
        return [n for n in self.order if name in self.inbound[n]]

    def descendants(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            for child in self.consumers(stack.pop()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def is_cut(self, name: str) -> bool:
        """True when every path from the input to the layers after ``name`` passes through it: nothing
        after it reads a tensor from before it (no skip connection crosses it)."""
        before = self.ancestors(name)
        return all(p not in before for d in self.descendants(name) for p in self.inbound[d])

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


def check_layers(model) -> None:
    """Every layer class is in the one table (frontend/ir.py LAYER_TABLE), or is a trailing softmax; a float
    batch norm left in the model is named with what it follows. Options of a layer (strides, quantisers,
    pool areas...) are checked when the stage IR is built (frontend/stages.py split_model)."""
    graph = read_graph(model)
    for name in graph.order:
        kind = graph.classes[name]
        if kind in FOLD_FIRST:
            raise UnsupportedLayer(_batch_norm_problem(graph, name))
        if kind in LAYER_TABLE and LAYER_TABLE[kind].rejection:
            raise UnsupportedLayer(f"layer {name!r} ({kind}): {LAYER_TABLE[kind].rejection}")
        if kind not in SUPPORTED_LAYERS and not _is_trailing_softmax(model, graph, name):
            raise UnsupportedLayer(f"layer {name!r} ({kind}) is not supported; build the model from "
                                   f"{', '.join(sorted(SUPPORTED_LAYERS - {'InputLayer'}))} layers")
    if len(graph.inputs) != 1:
        raise GraphError(f"model has {len(graph.inputs)} inputs; a multi-exit model has one")


def plan_stages(model) -> list[StagePlan]:
    check_layers(model)
    graph = read_graph(model)
    if len(graph.outputs) < 2:
        raise GraphError(f"model {model.name!r} has a single output, so no early exit; pass EXITS=auto to attach "
                         "exit heads after its pooling layers and blocks (or EXITS=<layer>,<layer>), or add "
                         "early-exit heads as extra model outputs before the final classifier, in depth order")
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
        if not graph.is_cut(branch):
            raise GraphError(f"exit {k} branches at {branch!r}, inside a skip connection (a later layer reads a "
                             "tensor from before it), so no stage boundary can go there; branch the exit after "
                             "the block's Add/Concatenate")
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
    parent = graph.inbound[name][0] if graph.inbound[name] else None
    parent_kind = graph.classes.get(parent)
    if kind == "QBatchNormalization":
        return (f"layer {name!r} ({kind}) quantises its own statistics and scale in float32, which no fixed-point "
                "core reproduces bit for bit; use QConv2DBatchnorm, or a float BatchNormalization right after a "
                "linear QConv2D/QDense (the flow folds it)")
    if parent_kind in ("QConv2D", "QDense"):
        return (f"layer {name!r} ({kind}) after {parent!r} ({parent_kind}) can only be folded when {parent!r} has "
                "a linear activation, a bias quantiser and no other reader (frontend/prepare.py folds it then); "
                f"move the activation after the batch norm, or give {parent!r} a bias_quantizer")
    after = "the model input" if parent_kind in (None, "InputLayer") else f"{parent!r} ({parent_kind})"
    return (f"layer {name!r} ({kind}) follows {after}, which has no weights to fold it into, and a float "
            "batch norm is not bit-exact in fixed point; move it right after a QConv2D or QDense, or remove it")


def _is_trailing_softmax(model, graph: _Graph, name: str) -> bool:
    """An output that is Activation('softmax') or Softmax() (monotonic: the exit unit decides on logits)."""
    if name not in graph.outputs:
        return False
    if graph.classes[name] == "Softmax":
        return True
    return graph.classes[name] == "Activation" and model.get_layer(name).get_config().get("activation") == "softmax"


def _strip_softmax(model, graph: _Graph, name: str) -> str:
    """Exits decide on logits: a trailing softmax is dropped (the exit unit needs no softmax)."""
    if _is_trailing_softmax(model, graph, name):
        return graph.inbound[name][0]
    return name


def _after_elementwise(graph: _Graph, name: str) -> str:
    """The last of the single-reader, shape-keeping layers right after ``name`` (its activation)."""
    while True:
        readers = graph.consumers(name)
        if len(readers) != 1 or graph.classes[readers[0]] not in ELEMENTWISE:
            return name
        name = readers[0]


def exit_candidates(model) -> list[str]:
    """Where EXITS=auto attaches exit heads to a one-output backbone, in depth order: after each pooling
    layer and block (Add/Concatenate), or hidden QDense of an MLP, each past its activation; only where a
    stage boundary can go (no skip connection crosses it), with a weighted layer before it and more than
    the final classifier after it."""
    graph = read_graph(model)
    final = _strip_softmax(model, graph, graph.outputs[-1])
    backbone = graph.ancestors(final) | {final}
    points: list[str] = []
    for name in (n for n in graph.order if n in backbone):
        kind = graph.classes[name]
        if kind not in POOLING + MERGING and not (kind == "QDense" and name != final):
            continue
        point = _after_elementwise(graph, name)
        before = sum(graph.classes[a] in WEIGHTED for a in graph.ancestors(point) | {point})
        after = sum(graph.classes[d] in WEIGHTED for d in graph.descendants(point) & backbone)
        if point not in points and point != final and before >= 1 and after >= 2 and graph.is_cut(point):
            points.append(point)
    return points


def check_exit_points(model, names: list[str]) -> None:
    """EXITS=<layer>,...: each a backbone layer where a stage boundary can go, before the final classifier."""
    graph = read_graph(model)
    final = _strip_softmax(model, graph, graph.outputs[-1])
    backbone = graph.ancestors(final)
    for name in names:
        if name not in graph.classes:
            raise GraphError(f"EXITS names layer {name!r}, which model {model.name!r} does not have; name backbone "
                             f"layers, e.g. EXITS={','.join(exit_candidates(model)) or '<layer>'}")
        if name not in backbone or graph.classes[name] == "InputLayer":
            raise GraphError(f"EXITS names {name!r}, which is not a backbone layer before the final classifier "
                             f"{final!r}; name a layer on the path to it")
        if not graph.is_cut(name):
            raise GraphError(f"EXITS names {name!r}, inside a skip connection (a later layer reads a tensor from "
                             "before it); name the block's Add/Concatenate or a layer after it")
    order = [n for n in graph.order if n in names]
    if order != list(names) or len(set(names)) != len(names):
        raise GraphError(f"EXITS lists {','.join(names)}; give each layer once, in depth order: {','.join(order)}")
