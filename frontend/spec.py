"""The model spec (``examples/*.yaml``): parsed once into typed records, checked early."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flows.errors import InvalidFile

QUANTIZERS = ("quantized_bits", "quantized_relu")
LAYER_TYPES = ("conv2d", "dense", "maxpool", "avgpool", "flatten")
TRAINING_MODES = ("joint", "exits_only", "distill")
POLICIES = ("max_prob", "entropy", "margin")
SCHEDULES = ("constant", "cosine")


class SpecError(InvalidFile):
    """The spec is malformed; one line per problem, each naming the field and the fix."""


def quantizer_problem(text: Any) -> str | None:
    """Why ``text`` is not a supported QKeras quantiser call, with the fix; None when it is one."""
    example = "write a call such as quantized_bits(6, 0, alpha=1) or quantized_relu(4, 2)"
    try:
        call = ast.parse(str(text), mode="eval").body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise ValueError
        for arg in (*call.args, *(k.value for k in call.keywords)):
            ast.literal_eval(arg)
    except (SyntaxError, ValueError):
        return f"{str(text)!r} is not a quantiser call; {example}"
    if call.func.id not in QUANTIZERS:
        return f"unsupported quantiser {call.func.id!r}; use one of {', '.join(QUANTIZERS)}"
    return None


@dataclass(frozen=True)
class QuantizerSpec:
    """A QKeras quantiser written as in Python, e.g. ``quantized_bits(6, 0, alpha=1)``."""

    name: str
    args: tuple
    kwargs: tuple  # sorted (key, value) pairs, hashable

    @classmethod
    def parse(cls, text: str, where: str) -> "QuantizerSpec":
        problem = quantizer_problem(text)
        if problem:
            raise SpecError(f"{where}: {problem}")
        call = ast.parse(str(text), mode="eval").body
        return cls(call.func.id, tuple(ast.literal_eval(a) for a in call.args),
                   tuple(sorted((k.arg, ast.literal_eval(k.value)) for k in call.keywords)))

    def build(self):
        import qkeras

        try:
            return getattr(qkeras, self.name)(*self.args, **dict(self.kwargs))
        except (TypeError, ValueError) as exc:
            raise SpecError(f"quantiser {self}: QKeras refuses it ({exc}); give the arguments of "
                            f"qkeras.{self.name}, e.g. quantized_bits(6, 0, alpha=1)") from None

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
    shift: int = 0   # augmentation: each training image moved by up to this many pixels per axis, per epoch
    schedule: str = "constant"   # learning rate: constant, or cosine decay to 0 over all epochs


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
    dataset: str = "digits"   # the bundled data set it trains on (frontend.data.DATASETS); DATA= overrides

    @property
    def num_exits(self) -> int:
        return sum(block.head is not None for block in self.blocks)


def load_spec(path: str | Path) -> ModelSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{where} ({getattr(exc, 'problem', None) or type(exc).__name__}); "
                        "fix the syntax") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a model spec is a YAML mapping; start from examples/digits.yaml")
    return parse_spec(data, where=str(path))


def parse_spec(data: dict[str, Any], where: str = "spec") -> ModelSpec:
    """Validate a spec's raw YAML (every problem, one line each, in one SpecError) into a ModelSpec."""
    from pydantic import ValidationError

    from flows.errors import problem_lines

    from .spec_schema import FIXES, SpecFile

    try:
        spec = SpecFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problem_lines(exc, where, FIXES)) from None
    defaults = spec.defaults
    weights = QuantizerSpec.parse(defaults.weights, f"{where}: defaults.weights")
    activation = QuantizerSpec.parse(defaults.activation, f"{where}: defaults.activation")
    blocks = []
    for block in spec.blocks:
        head = block.exit if "exit" in block.model_fields_set else spec.exit_head
        blocks.append(BlockSpec(tuple(_layer(l, weights, activation) for l in block.layers),
                                None if head is False else tuple(_layer(l, weights, activation) for l in head or [])))
    exits = [b for b, block in enumerate(blocks) if block.head is not None]
    problems = []
    if blocks[-1].head is None:
        problems.append(f"{where}: blocks[{len(blocks) - 1}].exit: the last block has no exit; the last block "
                        "ends in the final classifier, so drop exit: false there")
    elif len(exits) < 2:
        problems.append(f"{where}: blocks: the model has no early exit (only the final classifier); give at least "
                        "one earlier block an exit (exit: [] for a plain classifier head)")
    loss_weights = tuple(spec.training.loss_weights)
    if not problems and loss_weights and len(loss_weights) != len(exits):
        problems.append(f"{where}: training.loss_weights: {len(loss_weights)} weight(s) for {len(exits)} exit(s); "
                        "give one weight per exit")
    if problems:
        raise SpecError(problems)
    training = spec.training.model_dump()
    return ModelSpec(
        name=spec.name,
        classes=spec.classes,
        input_shape=tuple(spec.input.shape),
        input_quantizer=QuantizerSpec.parse(spec.input.quantizer, f"{where}: input.quantizer"),
        logits=QuantizerSpec.parse(defaults.logits, f"{where}: defaults.logits"),
        blocks=tuple(blocks),
        training=TrainingSpec(**{**training, "loss_weights": loss_weights}),
        calibration=CalibrationSpec(**spec.calibration.model_dump()),
        dataset=spec.dataset,
    )


def _layer(layer, weights: QuantizerSpec, activation: QuantizerSpec) -> LayerSpec:
    """A validated layer (frontend.spec_schema.LayerFile) as the record, the spec's defaults filled in."""
    given = {k: getattr(layer, k) for k in ("filters", "units", "kernel", "padding", "pool")
             if k in layer.model_fields_set and getattr(layer, k) is not None}
    if layer.type not in ("conv2d", "dense"):
        return LayerSpec(type=layer.type, **given)
    return LayerSpec(
        type=layer.type,
        weights=QuantizerSpec.parse(layer.weights, "weights") if layer.weights else weights,
        activation=QuantizerSpec.parse(layer.activation, "activation") if layer.activation else activation,
        **given,
    )
