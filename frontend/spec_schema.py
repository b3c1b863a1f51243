"""The schema of a model spec's YAML (pydantic): every field's type, range and choices.

``frontend.spec.parse_spec`` validates the raw YAML with ``SpecFile`` (pydantic collects every
problem at once) and turns the result into the typed records the flow reads (``ModelSpec``...);
nothing outside ``frontend/spec.py`` sees these models. Defaults are the records' own.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator,
                      model_validator)

from flows.errors import BRANCH_TAG

from .data import DATASETS
from .spec import (LAYER_TYPES, POLICIES, SCHEDULES, TRAINING_MODES, CalibrationSpec, LayerSpec, ModelSpec,
                   TrainingSpec, quantizer_problem)

DEFAULT_WEIGHTS = "quantized_bits(8, 0, alpha=1)"
DEFAULT_ACTIVATION = "quantized_relu(8, 3)"
DEFAULT_LOGITS = "quantized_bits(16, 6, alpha=1)"
DEFAULT_INPUT_QUANTIZER = "quantized_bits(8, 0, alpha=1)"

# the fix named for a field, whatever is wrong with it (else a generic one from flows.errors)
FIXES = {
    "name": "give the model a name of letters, digits, '_', '-' or '.', e.g. name: digits",
    "classes": "give the number of classes, an integer >= 2, e.g. classes: 10",
    "input": "give the input block, e.g. input: {shape: [8, 8, 1]}",
    "shape": "give the input shape as a list of positive integers, e.g. shape: [8, 8, 1]",
    "blocks": "give a list of blocks, each with layers: [...] (see examples/digits.yaml)",
    "layers": "give a list of layers, e.g. layers: [{type: conv2d, filters: 4}]",
    "exit": "give the exit head as a list of layers ([] for a plain classifier), or false for no exit",
    "exit_head": "give the default exit head as a list of layers, or false for no exits by default",
    "filters": "give an integer >= 1, e.g. filters: 6",
    "units": "give an integer >= 1, e.g. units: 16",
    "kernel": "give an integer >= 1, e.g. kernel: 3",
    "pool": "give an integer >= 1, e.g. pool: 2",
    "padding": "use same or valid",
    "mode": f"use one of {', '.join(TRAINING_MODES)}",
    "epochs": "give an integer >= 1, e.g. epochs: 60",
    "batch_size": "give an integer >= 1, e.g. batch_size: 32",
    "learning_rate": "give a number > 0, e.g. learning_rate: 0.003",
    "loss_weights": "give one weight >= 0 per exit, e.g. loss_weights: [1.0, 1.0, 1.0]",
    "temperature": "give a number > 0, e.g. temperature: 3.0",
    "alpha": "give a number in [0, 1], e.g. alpha: 0.5",
    "seed": "give an integer, e.g. seed: 0",
    "shift": "give a whole number of pixels >= 0, e.g. shift: 1",
    "schedule": f"use one of {', '.join(SCHEDULES)}",
    "dataset": f"use one of {', '.join(DATASETS)} (DATA=path.npz overrides it)",
    "policy": f"use one of {', '.join(POLICIES)}",
    "accuracy_drop": "give the accuracy points the early exits may cost, a number >= 0, e.g. accuracy_drop: 1.0",
    "margin_se": "give a number of standard errors >= 0, e.g. margin_se: 1.0",
}


def _quantizer(text: str) -> str:
    problem = quantizer_problem(text)
    if problem:
        raise ValueError(problem)
    return text


Quantizer = Annotated[str, AfterValidator(_quantizer)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerFile(_Block):
    type: Literal[LAYER_TYPES]
    filters: int | None = Field(None, ge=1)
    units: int | None = Field(None, ge=1)
    kernel: int = Field(LayerSpec.kernel, ge=1)
    padding: Literal["same", "valid"] = LayerSpec.padding
    pool: int = Field(LayerSpec.pool, ge=1)
    weights: Quantizer | None = None
    activation: Quantizer | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data  # "- flatten" for {type: flatten}

    @model_validator(mode="after")
    def _size_given(self) -> "LayerFile":
        if self.type == "conv2d" and self.filters is None:
            raise ValueError("a conv2d layer needs filters; add e.g. filters: 4")
        if self.type == "dense" and self.units is None:
            raise ValueError("a dense layer needs units; add e.g. units: 16")
        return self


# an exit is a list of head layers, or false for none (null: the plain classifier, as [])
Exit = Annotated[Union[Annotated[list[LayerFile], Tag(f"{BRANCH_TAG}layers")],
                       Annotated[Literal[False], Tag(f"{BRANCH_TAG}none")],
                       Annotated[None, Tag(f"{BRANCH_TAG}null")]],
                 Discriminator(lambda v: f"{BRANCH_TAG}none" if v is False else
                               f"{BRANCH_TAG}null" if v is None else f"{BRANCH_TAG}layers")]


class BlockFile(_Block):
    layers: list[LayerFile]
    exit: Exit = None      # unset: the spec's exit_head


class InputFile(_Block):
    shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    quantizer: Quantizer = DEFAULT_INPUT_QUANTIZER


class DefaultsFile(_Block):
    weights: Quantizer = DEFAULT_WEIGHTS
    activation: Quantizer = DEFAULT_ACTIVATION
    logits: Quantizer = DEFAULT_LOGITS


class TrainingFile(_Block):
    mode: Literal[TRAINING_MODES] = TrainingSpec.mode
    epochs: int = Field(TrainingSpec.epochs, ge=1)
    batch_size: int = Field(TrainingSpec.batch_size, ge=1)
    learning_rate: float = Field(TrainingSpec.learning_rate, gt=0)
    loss_weights: list[Annotated[float, Field(ge=0)]] = []
    temperature: float = Field(TrainingSpec.temperature, gt=0)
    alpha: float = Field(TrainingSpec.alpha, ge=0, le=1)
    seed: int = TrainingSpec.seed
    shift: int = Field(TrainingSpec.shift, ge=0)
    schedule: Literal[SCHEDULES] = TrainingSpec.schedule


class CalibrationFile(_Block):
    policy: Literal[POLICIES] = CalibrationSpec.policy
    accuracy_drop: float = Field(CalibrationSpec.accuracy_drop, ge=0)
    margin_se: float = Field(CalibrationSpec.margin_se, ge=0)


class SpecFile(_Block):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    dataset: Literal[DATASETS] = ModelSpec.dataset
    classes: int = Field(ge=2)
    input: InputFile
    defaults: DefaultsFile = DefaultsFile()
    exit_head: Exit = []
    blocks: list[BlockFile] = Field(min_length=1)
    training: TrainingFile = TrainingFile()
    calibration: CalibrationFile = CalibrationFile()

    @field_validator("defaults", "training", "calibration", mode="before")
    @classmethod
    def _empty_block(cls, value: Any) -> Any:
        return {} if value is None else value   # "training:" with nothing under it
