"""Convert one stage model into an hls4ml project and check it bit for bit.

Each stage is converted on its own (hls4ml's MultiModelGraph only splits plain
chains; our stages have two outputs, [exit logits, forwarded tensor]). What hls4ml
converts is the stage IR written back as a plain Keras model with exact weights,
and its precisions, both from ``precision.hls_view``; the C simulation is checked
against the QKeras stage itself. The project is written
into a temporary sibling folder and renamed into place when complete; it is
compiled there (the C-simulation library embeds its own path) and, if that
fails, removed again and any previous project restored, so a failure never
leaves a half-written project.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flows.errors import VerificationFailed
from frontend.fixedpoint import FixedFormat
from hls_templates.precision import UnsupportedLayer, hls_view, logit_format, output_formats, stage_input_format

BACKENDS = ("Vitis", "Vivado")
IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")  # both keep the exact accumulators (checked in C simulation)
RECORD_FILE = "exitflow_stage.json"
# io_parallel unrolls a layer over its whole tensor: beyond this many input values per stage
# (LeNet's 28x28 and 12x12x6, not digits' 8x8) the flow converts io_stream instead (see stage_io_type)
PARALLEL_MAX_INPUT_VALUES = 256


@dataclass(frozen=True)
class StageRecord:
    """What a later step needs to know about a converted stage (written as JSON)."""

    project_dir: str
    project_name: str
    backend: str
    io_type: str
    part: str
    reuse_factor: int  # as requested
    clock_period_ns: float
    input_format: FixedFormat
    output_formats: tuple[FixedFormat, ...]
    logit_format: FixedFormat
    hls_logit_precision: str  # as hls4ml typed the first output
    hls_output_precisions: tuple[str, ...] = ()
    strategy: str = "Latency"
    layer_reuse_factors: dict[str, int] = field(default_factory=dict)  # as hls4ml applied them

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "StageRecord":
        data = json.loads(text)
        data["input_format"] = FixedFormat(**data["input_format"])
        data["output_formats"] = tuple(FixedFormat(**f) for f in data["output_formats"])
        data["logit_format"] = FixedFormat(**data["logit_format"])
        data["hls_output_precisions"] = tuple(data.get("hls_output_precisions", ()))
        return cls(**data)


def read_stage_record(project_dir: Path) -> StageRecord:
    """The record ``convert_stage`` wrote into a stage's HLS project folder."""
    return StageRecord.from_json((Path(project_dir) / RECORD_FILE).read_text())


def _check_choices(backend: str, io_type: str, reuse_factor: int, strategy: str = "Latency") -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown HLS backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if io_type not in IO_TYPES:
        raise ValueError(f"unknown io_type {io_type!r}; use one of {', '.join(IO_TYPES)}")
    if int(reuse_factor) < 1:
        raise ValueError(f"reuse_factor must be >= 1, got {reuse_factor}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")


def stage_io_type(requested: str, input_shape: tuple[int, ...]) -> str:
    """The io_type a stage is converted with: io_stream stays; io_parallel becomes io_stream for a stage
    whose input tensor holds more than PARALLEL_MAX_INPUT_VALUES values.

    An io_parallel core takes its whole input in one beat and unrolls every layer over it: for the 28x28
    LeNet's stages, g++ alone took 2-3x as long as for io_stream (C simulation), and a synthesised
    core of that size would not fit a small device.
    """
    if requested not in IO_TYPES:
        raise ValueError(f"unknown io_type {requested!r}; use one of {', '.join(IO_TYPES)}")
    if requested == "io_parallel" and int(np.prod(input_shape)) > PARALLEL_MAX_INPUT_VALUES:
        return "io_stream"
    return requested


def hls_config(stage_model, backend: str = "Vitis", reuse_factor: int = 1,
               input_format: FixedFormat | None = None, strategy: str = "Latency") -> dict:
    """The full hls4ml config of a stage: hls4ml's skeleton with our exact precisions."""
    return _hls_model_and_config(stage_model, backend, reuse_factor, input_format, strategy)[1]


def _hls_model_and_config(stage_model, backend: str, reuse_factor: int, input_format: FixedFormat | None,
                          strategy: str) -> tuple[object, dict]:
    from hls4ml.utils.config import config_from_keras_model

    model, layers = hls_view(stage_model, input_format, reuse_factor)  # raises UnsupportedLayer first
    try:
        config = config_from_keras_model(model, granularity="name", backend=backend,
                                         default_reuse_factor=reuse_factor)
    except Exception as exc:  # hls4ml raises bare Exceptions for layers it cannot parse
        raise UnsupportedLayer(f"hls4ml cannot parse stage '{stage_model.name}': {exc}") from exc
    config["Model"]["Strategy"] = strategy
    config["Model"]["ReuseFactor"] = reuse_factor
    for name, entry in config["LayerName"].items():
        if name not in layers:
            raise UnsupportedLayer(f"hls4ml layer '{name}' of stage '{stage_model.name}' has no "
                                   f"derived precision; the per-stage flow does not know this layer")
        entry.setdefault("Precision", {}).update(layers[name]["Precision"])
        entry["ReuseFactor"] = reuse_factor
        entry["Strategy"] = strategy
    return model, config


def convert_stage(stage_model, out_dir: Path, part: str, backend: str = "Vitis",
                  io_type: str = "io_parallel", reuse_factor: int = 1,
                  clock_period_ns: float = 10.0, project_name: str = "stage",
                  input_format: FixedFormat | None = None, strategy: str = "Latency",
                  compile: bool = True):
    """Write (and by default compile) the HLS project of one stage into ``out_dir``.

    ``input_format`` is needed for a stage that does not start with an input
    quantiser (stage k > 1: the previous stage's ``forwarded_format``).
    hls4ml rounds a reuse factor a layer cannot use to a valid one (with a
    warning); the record keeps both the requested and the applied factors.
    Returns the hls4ml ModelGraph, ready for ``predict`` when compiled.
    """
    import hls4ml

    _check_choices(backend, io_type, reuse_factor, strategy)
    out_dir = Path(out_dir).resolve()
    in_fmt = stage_input_format(stage_model, input_format)
    hls_input, config = _hls_model_and_config(stage_model, backend, reuse_factor, in_fmt, strategy)
    logits, outputs = logit_format(stage_model, in_fmt), tuple(output_formats(stage_model, in_fmt))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        hls_model = hls4ml.converters.convert_from_keras_model(
            hls_input, hls_config=config, output_dir=str(tmp_dir), project_name=project_name,
            backend=backend, io_type=io_type, part=part, clock_period=clock_period_ns)
        hls_model.write()
        hls_types = [v.type.precision for v in hls_model.get_output_variables()]
        _check_output_types(hls_types, outputs)
        record = StageRecord(
            project_dir=str(out_dir), project_name=project_name, backend=backend, io_type=io_type,
            part=part, reuse_factor=int(reuse_factor), clock_period_ns=float(clock_period_ns),
            input_format=in_fmt, output_formats=outputs, logit_format=logits,
            hls_logit_precision=str(hls_types[0]), hls_output_precisions=tuple(map(str, hls_types)),
            strategy=strategy, layer_reuse_factors={
                name: int(layer.get_attr("reuse_factor")) for name, layer in hls_model.graph.items()
                if layer.get_attr("weight") is not None})
        (tmp_dir / RECORD_FILE).write_text(record.to_json())
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    # The C-simulation library embeds its weights folder as an absolute path,
    # so it is built only once the project sits at its final place.
    with _swap_in(tmp_dir, out_dir):
        hls_model.config.config["OutputDir"] = str(out_dir)
        if compile:
            hls_model._compile()
    return hls_model


def _check_output_types(hls_types: list, formats: tuple[FixedFormat, ...]) -> None:
    """hls4ml must type each output exactly as derived (it once dropped an exit quantiser)."""
    if len(hls_types) != len(formats):
        raise RuntimeError(f"hls4ml made {len(hls_types)} outputs of a stage with {len(formats)}")
    for i, (t, f) in enumerate(zip(hls_types, formats)):
        if (t.width, t.integer, bool(t.signed)) != (f.width, f.integer, f.signed):
            raise RuntimeError(f"hls4ml typed output {i} as {t}, but the stage produces {f}; "
                               f"the hls4ml optimisers changed a derived precision")


@contextmanager
def _swap_in(new: Path, target: Path):
    """Move ``new`` to ``target``; restore the previous ``target`` if the body fails."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        target.rename(old / target.name)
    new.rename(target)
    try:
        yield
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if old is not None:
            (old / target.name).rename(target)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class BitExactResult:
    """Outcome of comparing an hls4ml stage with its QKeras stage on the same inputs."""

    bit_exact: bool
    samples: int
    max_abs_diff: float
    per_output: dict[str, float]
    first_mismatch: str | None = None  # output, hls4ml layer, sample and element
    first_differing_layer: str | None = None  # deepest cause, from a traced rebuild


def _as_list(outputs, n_outputs: int) -> list[np.ndarray]:
    return list(outputs) if n_outputs > 1 else [outputs]


def check_bit_exact(hls_model, stage_model, x: np.ndarray, locate: bool = True) -> BitExactResult:
    """Run both models on ``x`` and compare every output element exactly.

    Inputs go through float32 (what QKeras computes with) and are handed to
    hls4ml as the same values in float64, so outputs of any width come back exact.
    With ``locate``, a mismatch is traced layer by layer on its first differing
    sample (one extra compile, only on failure) to name the first differing layer.
    """
    x32 = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    n = len(x32)
    names = [t._keras_history.layer.name for t in stage_model.outputs]
    keras_out = _as_list(stage_model.predict(x32, verbose=0, batch_size=512), len(names))
    hls_out = _as_list(hls_model.predict(x32.astype(np.float64)), len(names))
    hls_names = list(hls_model.outputs)
    if len(hls_out) != len(keras_out):
        raise ValueError(f"hls4ml model has {len(hls_out)} outputs, the stage has {len(keras_out)}")
    per_output: dict[str, float] = {}
    first: tuple[int, str] | None = None
    for name, hls_name, k, h in zip(names, hls_names, keras_out, hls_out):
        k = np.asarray(k, dtype=np.float64).reshape(n, -1)
        h = np.asarray(h, dtype=np.float64).reshape(n, -1)
        if k.shape != h.shape:
            raise ValueError(f"output '{name}': hls4ml gives {h.shape[1]} values per sample, "
                             f"QKeras {k.shape[1]}; outputs are out of order")
        diff = np.abs(h - k)
        per_output[name] = float(diff.max()) if diff.size else 0.0
        bad = np.flatnonzero(diff.max(axis=1) > 0)
        if bad.size and (first is None or bad[0] < first[0]):
            i = int(bad[0])
            j = int(np.argmax(diff[i]))
            first = (i, f"output '{name}' (hls4ml layer '{hls_name}') differs first at sample {i}, "
                        f"element {j}: hls4ml {h[i, j]!r} vs QKeras {k[i, j]!r}")
    max_diff = max(per_output.values(), default=0.0)
    layer = None
    if first is not None and locate:
        from hls_templates.diagnose import first_differing_layer
        try:
            layer = first_differing_layer(hls_model, stage_model, x32[first[0]])
        except Exception as exc:  # diagnosis must never hide the mismatch itself
            layer = f"(tracing failed: {type(exc).__name__}: {exc})"
    return BitExactResult(bit_exact=max_diff == 0.0, samples=n, max_abs_diff=max_diff,
                          per_output=per_output, first_mismatch=first[1] if first else None,
                          first_differing_layer=layer)


class NotBitExact(VerificationFailed):
    """The HLS C simulation of a stage differs from its QKeras model."""


def raise_if_not_bit_exact(result: BitExactResult, stage: str = "stage") -> None:
    """Fail the flow on any difference, naming the layer and the first differing sample."""
    if not result.bit_exact:
        where = f"; first differing {result.first_differing_layer}" if result.first_differing_layer else ""
        raise NotBitExact(f"{stage} is not bit-exact with QKeras (max |difference| "
                          f"{result.max_abs_diff:g} over {result.samples} samples): {result.first_mismatch}{where}")


def convert_stages(stage_models: list, hls_dir: Path, part: str, backend: str = "Vitis",
                   io_type: str = "io_parallel", reuse_factors: int | list[int] = 1,
                   clock_period_ns: float = 10.0, strategy: str = "Latency", compile: bool = True) -> list:
    """Convert every stage into ``hls_dir/stage_k`` (k from 1), chaining input formats.

    Stage 1 is typed by its input quantiser; stage k+1 by what stage k forwards.
    """
    from hls_templates.precision import forwarded_format

    if isinstance(reuse_factors, int):
        reuse_factors = [reuse_factors] * len(stage_models)
    if len(reuse_factors) != len(stage_models):
        raise ValueError(f"{len(reuse_factors)} reuse factors for {len(stage_models)} stages; give one per stage")
    models, in_fmt = [], None
    for k, (stage, rf) in enumerate(zip(stage_models, reuse_factors), start=1):
        models.append(convert_stage(stage, Path(hls_dir) / f"stage_{k}", part, backend, io_type, rf,
                                    clock_period_ns, project_name=f"stage_{k}", input_format=in_fmt,
                                    strategy=strategy, compile=compile))
        if k < len(stage_models):
            in_fmt = forwarded_format(stage, stage_input_format(stage, in_fmt))
    return models


def check_stages_bit_exact(hls_models: list, stage_models: list, x: np.ndarray,
                           locate: bool = True) -> list[BitExactResult]:
    """Check every stage on what it sees in the chain: stage k+1 gets stage k's
    QKeras forwarded tensor for the same samples."""
    if len(hls_models) != len(stage_models):
        raise ValueError(f"{len(hls_models)} HLS models for {len(stage_models)} stages; give one per stage")
    results = []
    for k, (hls_model, stage) in enumerate(zip(hls_models, stage_models), start=1):
        results.append(check_bit_exact(hls_model, stage, x, locate=locate))
        if k < len(stage_models):
            x = stage.predict(np.asarray(x, dtype=np.float32), verbose=0, batch_size=512)[1]
    return results
