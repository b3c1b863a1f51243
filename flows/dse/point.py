"""A design point file (``dse/points/<id>.yaml``) and the stage cores that build it.

``make dse`` writes one file per front point; ``make synth DESIGN=<file>`` and the
DSE's own validation both build a point through :func:`point_cores`, so what the
front promises is what the flow builds. File layout::

    model: examples/digits.yaml
    board: pynq-z2
    policy: max_prob              # the exit policy the threshold codes belong to
    design: {exits: [1, 3], thresholds: [755, 8191], parallelism: [18, 1, 1], mode: anytime,
             fifo_depth: 8}
    predicted: {lut: ..., throughput_samples_per_s: ..., ...}
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError

from .model import Design


class PointError(UserError):
    """A design point file that cannot be built as given; the message names the fix."""


@dataclass(frozen=True)
class DesignPoint:
    id: str
    path: Path
    model: str
    board: str
    policy: str | None
    design: Design
    fifo_depth: int | None
    predicted: dict | None          # the model on the split the point was selected on (calibration)
    predicted_test: dict | None = None   # the model with the test split routed: what a build is compared with
    selected_on: str | None = None
    model_options: dict | None = None   # how make dse prepared the model file (exits, input_bits, ...)


def load_point(path: str | Path) -> DesignPoint:
    """Read and shape-check a point file (model-specific checks: :func:`check_point`)."""
    import yaml

    path = Path(path)
    hint = "pick one from build/<model>/<board>/dse/points/ (make dse writes them)"
    if not path.is_file():
        raise PointError(f"design file {path} does not exist; {hint}")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PointError(f"design file {path} is not valid YAML ({type(exc).__name__}); {hint}") from None
    d = doc.get("design") if isinstance(doc, dict) else None
    missing = [k for k in ("exits", "thresholds", "parallelism", "mode") if not isinstance(d, dict) or k not in d]
    if not isinstance(doc, dict) or "model" not in doc or "board" not in doc or missing:
        what = ", ".join(f"design.{k}" for k in missing) or "model/board"
        raise PointError(f"design file {path} is not a DSE point (missing {what}); {hint}")
    try:
        design = Design(tuple(int(e) for e in d["exits"]), tuple(int(t) for t in d["thresholds"]),
                        tuple(int(p) for p in d["parallelism"]), str(d["mode"]))
        fifo = None if d.get("fifo_depth") is None else int(d["fifo_depth"])
    except (TypeError, ValueError):
        raise PointError(f"design file {path}: exits, thresholds, parallelism and fifo_depth must be integers") \
            from None
    return DesignPoint(path.stem, path, str(doc["model"]), str(doc["board"]), doc.get("policy"), design, fifo,
                       doc.get("predicted"), doc.get("predicted_test"), doc.get("selected_on"),
                       doc.get("model_options"))


def check_point(point: DesignPoint, stages, exit_configs) -> None:
    """The point against the model it names: exit indices, threshold codes in range, P per stage."""
    where = f"design file {point.path}"
    try:
        point.design.validate(len(stages))
    except ValueError as exc:
        raise PointError(f"{where}: {exc}") from None
    for k, thr in zip(point.design.exits, point.design.thresholds):
        fmt = exit_configs[k - 1].confidence_format
        if not fmt.min_code <= thr <= fmt.max_code:
            raise PointError(f"{where}: threshold {thr} of exit {k} is outside its confidence codes "
                             f"{fmt.min_code}..{fmt.max_code}; rerun make dse for this model")
    windows = stage_windows(stages)
    for k, p in enumerate(point.design.parallelism, start=1):
        if p > windows[k - 1]:
            raise PointError(f"{where}: stage {k} has {windows[k - 1]} conv windows, P={p} is more; "
                             f"use P in 1..{windows[k - 1]}")
    if point.fifo_depth is not None and (point.fifo_depth < 2 or point.fifo_depth & (point.fifo_depth - 1)):
        raise PointError(f"{where}: fifo_depth {point.fifo_depth} must be a power of two >= 2")


def stage_windows(stages) -> list[int]:
    """Output windows of each stage's first conv (the one folding acts on); 1 for a dense-only stage."""
    from .costs import conv_sites

    first: dict[int, int] = {}
    for site in conv_sites(stages):
        first.setdefault(site.stage, site.pixels)
    return [first.get(k, 1) for k in range(1, len(stages) + 1)]


@dataclass
class PointCore:
    """One deployed stage of a point: the Keras model its core implements, and the core."""

    stage: int           # 1-based stage (= exit) index in the model
    model: object        # keras.Model: the stage, headless (exit dropped) or logits-only (subnet end)
    core: object         # StageRtl or FoldedStage
    exit_kept: bool
    parallelism: int
    folded: bool


def deployed_model(stages, design: Design, k: int):
    """Stage k's Keras model as the point deploys it: without its head when its exit is dropped, without
    its forwarded tensor when it ends a subnet, else as split."""
    from tensorflow import keras

    from frontend.stages import headless_model

    stage = stages[k - 1]
    if k not in design.exits:
        return headless_model(stage)
    if k == design.deployed_stages and not stage.is_last:
        return keras.Model(stage.model.input, stage.model.outputs[0], name=f"stage_{k}_logits_only")
    return stage.model


def core_tag(stage: int, parallelism: int | None, exit_kept: bool = True, logits_only: bool = False) -> str:
    """Folder and module name (``dse_<tag>``) of one stage core variant; parallelism None: fully parallel.
    The DSE's cost probes use the same names, so the Yosys cache (keyed by file names and contents) serves
    a point's core that a probe already synthesised."""
    p = "full" if parallelism is None else parallelism
    return f"s{stage}_p{p}{'' if exit_kept else '_headless'}{'_logits' if logits_only else ''}"


def point_cores(stages, design: Design, rtl_dir: Path, memo: dict | None = None) -> list[PointCore]:
    """Generate the stage cores of ``design`` under rtl_dir (one folder per distinct core).

    A stage whose P is below its window count gets its first conv folded
    (hardware/folded/folded.py), else the fully parallel core. memo: shared between
    calls to generate each distinct core once.
    """
    from hardware.stage import build_stage_rtl
    from hardware.folded.folded import build_folded_stage

    memo = {} if memo is None else memo
    windows = stage_windows(stages)
    cores = []
    for k in range(1, design.deployed_stages + 1):
        p = design.parallelism[k - 1]
        kept = k in design.exits
        subnet_end = k == design.deployed_stages and not stages[k - 1].is_last
        folded = p < windows[k - 1]
        tag = core_tag(k, p if folded else None, kept, subnet_end)
        if tag not in memo:
            model = deployed_model(stages, design, k)
            fmt = stages[k - 1].input_format
            if folded:
                core = build_folded_stage(model, fmt, Path(rtl_dir) / tag, f"dse_{tag}", p, has_logits=kept)
            else:
                core = build_stage_rtl(model, fmt, Path(rtl_dir) / tag, f"dse_{tag}", has_logits=kept)
            memo[tag] = PointCore(k, model, core, kept, p, folded)
        cores.append(memo[tag])
    return cores


METRICS = ("lut", "ff", "dsp", "bram", "throughput_samples_per_s", "mean_latency_cycles", "energy_nj_per_sample",
           "accuracy")
TOLERANCES = {"lut": 0.15, "throughput_samples_per_s": 0.10}  # issue 9: where the model must hold


def prediction_errors(predicted: dict, measured: dict) -> tuple[dict[str, float], list[str]]:
    """Relative error per metric (measured / predicted - 1) and a flag per metric off by more than allowed."""
    errors = {k: measured[k] / predicted[k] - 1.0 for k in METRICS
              if predicted.get(k) and measured.get(k) is not None}
    flags = [f"{k} off by {100 * errors[k]:+.1f}% (limit {100 * limit:.0f}%)"
             for k, limit in TOLERANCES.items() if k in errors and abs(errors[k]) > limit]
    return errors, flags


def acceptance_rate(record: Path) -> float | None:
    """Samples per cycle the pipeline's input took, first to last accept (steady state, no drain): the
    figure the model's throughput predicts. ``record``: the pipeline bench's ``<scenario>.npz``."""
    import numpy as np

    if not record.is_file():
        return None
    accepted = np.load(record)["accepted"]
    return (len(accepted) - 1) / float(accepted[-1] - accepted[0]) if len(accepted) > 1 else None


def measured_vs_predicted(point: DesignPoint, resources: dict | None, sim: dict | None, sim_dir: Path,
                          clock_mhz: float) -> dict:
    """The report's ``design`` block: the point, its predicted figures and what the build measured."""
    total = (resources or {}).get("total", {})
    on = (sim or {}).get("early_exit", {})
    rate = acceptance_rate(Path(sim_dir) / "pipeline_records" / "early_exit.npz")
    measured = {"lut": total.get("lut"), "ff": total.get("ff"), "dsp": total.get("dsp"), "bram": total.get("bram"),
                "throughput_samples_per_s": None if rate is None else rate * clock_mhz * 1e6,
                "mean_latency_cycles": on.get("mean_latency_cycles"),
                "energy_nj_per_sample": on.get("energy_nj_per_sample"), "accuracy": on.get("accuracy")}
    # like with like: the model with the test split routed (older point files carry only the selection figures)
    predicted, on_split = ((point.predicted_test, "test") if point.predicted_test else
                           (point.predicted, point.selected_on or "the exploration's split"))
    errors, flags = prediction_errors(predicted or {}, measured)
    return {"id": point.id, "file": str(point.path), "policy": point.policy, **point.design.to_dict(),
            "fifo_depth": point.fifo_depth, "predicted": predicted, "predicted_on": on_split,
            "selected_on": point.selected_on, "measured": measured, "measured_on": "test", "errors": errors,
            "tolerances": dict(TOLERANCES), "flags": flags,
            "measured_by": "Yosys synth_xilinx of every stage core and kept exit unit; the multi-exit pipeline "
                           "RTL over the test set in its real order (throughput: the rate its input accepted "
                           "samples, first to last); energy is modelled in both columns, not measured: "
                           "predicted from the board's power: estimates, simulated from the SAIF toggle counts "
                           "(Verilator) x the board's energy: estimates, the same estimated static power in both"}


def fifo_depth_for(queue_depths) -> int:
    """FIFO depth in front of every stage k > 1: the model's largest burst queue (from a queue
    simulation over the test order) plus slack for the exit routing, as a power of two >= 4."""
    need = max(4, max(list(queue_depths)[1:], default=0) + 2)
    return 1 << (need - 1).bit_length()
