"""The model spec (``examples/*.yaml``): parsed once into typed records, checked early."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

QUANTIZERS = ("quantized_bits", "quantized_relu")
LAYER_TYPES = ("conv2d", "dense", "maxpool", "avgpool", "flatten")
TRAINING_MODES = ("joint", "exits_only", "distill")
POLICIES = ("max_prob", "entropy", "margin")


class SpecError(ValueError):
    """The spec is malformed; the message names the field and the fix."""


@dataclass(frozen=True)
class QuantizerSpec:
    """A QKeras quantiser written as in Python, e.g. ``quantized_bits(6, 0, alpha=1)``."""

    name: str
    args: tuple
    kwargs: tuple  # sorted (key, value) pairs, hashable

    @classmethod
    def parse(cls, text: str, where: str) -> "QuantizerSpec":
        try:
            call = ast.parse(str(text), mode="eval").body
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                raise ValueError
            args = tuple(ast.literal_eval(a) for a in call.args)
            kwargs = tuple(sorted((k.arg, ast.literal_eval(k.value)) for k in call.keywords))
        except (SyntaxError, ValueError):
            raise SpecError(f"{where}: {text!r} is not a quantiser call such as quantized_bits(6, 0, alpha=1)") from None
        if call.func.id not in QUANTIZERS:
            raise SpecError(f"{where}: unsupported quantiser {call.func.id!r}; use one of {', '.join(QUANTIZERS)}")
        return cls(call.func.id, args, kwargs)

    def build(self):
        import qkeras

        return getattr(qkeras, self.name)(*self.args, **dict(self.kwargs))

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class LayerSpec:
    type: str
    filters: int = 0
    units: int = 0
    kernel: int = 3
    padding: str = "same"
    pool: int = 2
    weights: QuantizerSpec | None = None
    activation: QuantizerSpec | None = None


@dataclass(frozen=True)
class BlockSpec:
    layers: tuple[LayerSpec, ...]
    head: tuple[LayerSpec, ...] | None  # None: no exit after this block


@dataclass(frozen=True)
class TrainingSpec:
    mode: str = "joint"
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    loss_weights: tuple[float, ...] = ()
    temperature: float = 3.0
    alpha: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class CalibrationSpec:
    policy: str = "max_prob"
    accuracy_drop: float = 1.0
    margin_se: float = 1.0     # safety margin in standard errors of the calibration estimate


@dataclass(frozen=True)
class ModelSpec:
    name: str
    classes: int
    input_shape: tuple[int, ...]
    input_quantizer: QuantizerSpec
    logits: QuantizerSpec
    blocks: tuple[BlockSpec, ...]
    training: TrainingSpec = field(default_factory=TrainingSpec)
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)

    @property
    def num_exits(self) -> int:
        return sum(block.head is not None for block in self.blocks)


def load_spec(path: str | Path) -> ModelSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc.__class__.__name__}); fix the syntax") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a model spec is a YAML mapping (see examples/digits.yaml)")
    return parse_spec(data, where=str(path))


def parse_spec(data: dict[str, Any], where: str = "spec") -> ModelSpec:
    for key in ("name", "classes", "input", "blocks"):
        if key not in data:
            raise SpecError(f"{where}: missing {key!r} (see examples/digits.yaml)")
    defaults = data.get("defaults", {}) or {}
    weights = QuantizerSpec.parse(defaults.get("weights", "quantized_bits(8, 0, alpha=1)"), f"{where}: defaults.weights")
    activation = QuantizerSpec.parse(defaults.get("activation", "quantized_relu(8, 3)"), f"{where}: defaults.activation")
    logits = QuantizerSpec.parse(defaults.get("logits", "quantized_bits(16, 6, alpha=1)"), f"{where}: defaults.logits")
    classes = int(data["classes"])
    if classes < 2:
        raise SpecError(f"{where}: classes must be >= 2, got {classes}")
    default_head = data.get("exit_head", [])
    blocks = []
    for b, block in enumerate(data["blocks"] or [], start=1):
        if "layers" not in block:
            raise SpecError(f"{where}: block {b} has no 'layers'")
        layers = tuple(_layer(l, f"{where}: block {b}", weights, activation) for l in block["layers"])
        head_data = block.get("exit", default_head)
        head = None if head_data is False else tuple(
            _layer(l, f"{where}: block {b} exit", weights, activation) for l in (head_data or []))
        blocks.append(BlockSpec(layers, head))
    if not blocks:
        raise SpecError(f"{where}: 'blocks' is empty; a multi-exit model needs at least two blocks")
    if blocks[-1].head is None:
        raise SpecError(f"{where}: the last block must end in an exit (the final classifier)")
    if sum(b.head is not None for b in blocks) < 2:
        raise SpecError(f"{where}: the model has no early exit; give at least two blocks an exit")
    inp = data["input"]
    training = _training(data.get("training", {}) or {}, where)
    calibration = _calibration(data.get("calibration", {}) or {}, where)
    num_exits = sum(b.head is not None for b in blocks)
    if training.loss_weights and len(training.loss_weights) != num_exits:
        raise SpecError(f"{where}: training.loss_weights has {len(training.loss_weights)} entries for {num_exits} exits")
    return ModelSpec(
        name=str(data["name"]),
        classes=classes,
        input_shape=tuple(int(s) for s in inp["shape"]),
        input_quantizer=QuantizerSpec.parse(inp.get("quantizer", "quantized_bits(8, 0, alpha=1)"), f"{where}: input.quantizer"),
        logits=logits,
        blocks=tuple(blocks),
        training=training,
        calibration=calibration,
    )


def _layer(data: Any, where: str, weights: QuantizerSpec, activation: QuantizerSpec) -> LayerSpec:
    if isinstance(data, str):
        data = {"type": data}
    kind = data.get("type")
    if kind not in LAYER_TYPES:
        raise SpecError(f"{where}: unknown layer type {kind!r}; use one of {', '.join(LAYER_TYPES)}")
    fields = {k: v for k, v in data.items() if k not in ("type", "weights", "activation")}
    unknown = set(fields) - {"filters", "units", "kernel", "padding", "pool"}
    if unknown:
        raise SpecError(f"{where}: {kind} has unknown fields {sorted(unknown)}")
    if kind == "conv2d" and int(fields.get("filters", 0)) < 1:
        raise SpecError(f"{where}: conv2d needs filters >= 1")
    if kind == "dense" and int(fields.get("units", 0)) < 1:
        raise SpecError(f"{where}: dense needs units >= 1")
    if fields.get("padding", "same") not in ("same", "valid"):
        raise SpecError(f"{where}: padding must be 'same' or 'valid'")
    has_weights = kind in ("conv2d", "dense")
    act = data.get("activation", activation)
    return LayerSpec(
        type=kind,
        weights=QuantizerSpec.parse(data["weights"], where) if "weights" in data else (weights if has_weights else None),
        activation=(QuantizerSpec.parse(act, where) if isinstance(act, str) else act) if has_weights else None,
        **{k: (v if k == "padding" else int(v)) for k, v in fields.items()},
    )


def _training(data: dict, where: str) -> TrainingSpec:
    spec = TrainingSpec(**{k: (tuple(v) if k == "loss_weights" else v) for k, v in data.items()
                           if k in TrainingSpec.__dataclass_fields__})
    unknown = set(data) - set(TrainingSpec.__dataclass_fields__)
    if unknown:
        raise SpecError(f"{where}: training has unknown fields {sorted(unknown)}")
    if spec.mode not in TRAINING_MODES:
        raise SpecError(f"{where}: training.mode {spec.mode!r} is unknown; use one of {', '.join(TRAINING_MODES)}")
    if not 0.0 <= spec.alpha <= 1.0 or spec.temperature <= 0:
        raise SpecError(f"{where}: training.alpha must lie in [0, 1] and temperature be positive")
    return spec


def _calibration(data: dict, where: str) -> CalibrationSpec:
    spec = CalibrationSpec(**{k: v for k, v in data.items() if k in CalibrationSpec.__dataclass_fields__})
    if spec.policy not in POLICIES:
        raise SpecError(f"{where}: calibration.policy {spec.policy!r} is unknown; use one of {', '.join(POLICIES)}")
    if spec.margin_se < 0:
        raise SpecError(f"{where}: calibration.margin_se must be >= 0 (standard errors)")
    if spec.accuracy_drop < 0:
        raise SpecError(f"{where}: calibration.accuracy_drop must be >= 0 (points of accuracy)")
    return spec
