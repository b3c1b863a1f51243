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

A streaming point (``io: stream``) is built from the streaming cores (hardware/stream_stage) joined by
conditional buffers; stage 1 reads ``parallelism[0]`` pixels per beat, every later stage the P its
predecessor forwards; each deployed stage is balanced to its ``target_ii`` (cycles per frame) by
plan_stage, except the layers ``folding`` fixes (IR layer names, as the stage's report lists them)::

    design: {io: stream, exits: [1, 2], thresholds: [30000, 0], parallelism: [4], target_ii: [196, 3136],
             folding: {stage_2: {conv2d_1: {impl: mvau, simd: 25, pe: 2}}}, buffer_frames: [4]}

A streaming point's ``policy`` (top level or in ``design:``) is one policy for every kept exit or a list
with one per kept exit (``policy: [margin, max_prob, max_prob]``), each threshold code in its own policy's
confidence codes.

``buffer_frames``: frames of the conditional buffer after stage k, one per stage boundary (optional:
PipelineParams' default). A dropped exit's stage is built headless and forwards straight on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.errors import UserError

from .model import MODES, Design

STREAM_KEYS = ("io", "exits", "thresholds", "parallelism", "target_ii", "folding", "buffer_frames", "mode", "policy")


@dataclass(frozen=True)
class StreamDesign:
    """A streaming design: kept exits and their threshold codes, stage 1's input P, a target II per deployed
    stage, fixed layer plans per stage (hardware.stream_stage.LayerPlan), conditional-buffer frames per
    boundary (None: the pipeline's default)."""

    exits: tuple[int, ...]
    thresholds: tuple[int, ...]
    parallelism: tuple[int, ...]          # (P of stage 1's input,)
    target_ii: tuple[int, ...]            # cycles per frame, one per deployed stage
    folding: dict = field(default_factory=dict)     # {stage index: {IR layer name: LayerPlan}}
    buffer_frames: tuple[int, ...] | None = None    # one per boundary of the deployed stages
    mode: str = "anytime"
    policy: str | tuple[str, ...] | None = None     # one for every kept exit, or one per kept exit
    io: str = "stream"

    def validate(self, n_exits: int) -> None:
        Design(self.exits, self.thresholds, (1,) * n_exits, self.mode).validate(n_exits)
        if len(self.parallelism) != 1 or self.parallelism[0] < 1:
            raise ValueError(f"parallelism {list(self.parallelism)}: a streaming design gives one P >= 1, stage 1's "
                             "input pixels per beat (later stages read what the one before forwards)")
        n = self.deployed_stages
        if len(self.target_ii) != n or min(self.target_ii) < 1:
            raise ValueError(f"target_ii {list(self.target_ii)} needs one value >= 1 (cycles per frame) per deployed "
                             f"stage ({n})")
        bad = sorted(k for k in self.folding if not 1 <= k <= n)
        if bad:
            raise ValueError(f"folding names stage(s) {bad}, but the design deploys stages 1..{n}; use stage_1.."
                             f"stage_{n}")
        if self.buffer_frames is not None and (len(self.buffer_frames) != n - 1 or min(self.buffer_frames, default=1) < 1):
            raise ValueError(f"buffer_frames {list(self.buffer_frames)} needs one value >= 1 per stage boundary "
                             f"({n - 1} for {n} deployed stages)")

    @property
    def deployed_stages(self) -> int:
        return self.exits[-1]

    def to_dict(self) -> dict:
        out = {"io": "stream", "exits": list(self.exits), "thresholds": list(self.thresholds),
               "parallelism": list(self.parallelism), "target_ii": list(self.target_ii),
               "folding": {f"stage_{k}": {name: plan.to_dict() for name, plan in plans.items()}
                           for k, plans in sorted(self.folding.items())},
               "buffer_frames": None if self.buffer_frames is None else list(self.buffer_frames), "mode": self.mode}
        if self.policy is None:
            return out
        return {**out, "policy": list(self.policy) if isinstance(self.policy, tuple) else self.policy}


def _stream_design(d: dict, path: Path) -> StreamDesign:
    """The ``design:`` block of a streaming point, shape-checked (PointError naming the key)."""
    from hardware.stream_stage import LayerPlan

    where = f"design file {path}"
    unknown = sorted(set(d) - set(STREAM_KEYS))
    if unknown:
        raise PointError(f"{where}: unknown design key(s) {', '.join(unknown)}; a streaming design takes "
                         f"{', '.join(STREAM_KEYS)}")
    missing = [k for k in ("exits", "thresholds", "parallelism", "target_ii") if k not in d]
    if missing:
        raise PointError(f"{where}: a streaming design needs {', '.join(f'design.{k}' for k in missing)}")
    try:
        ints = {k: tuple(int(v) for v in d[k]) for k in ("exits", "thresholds", "parallelism", "target_ii")}
        frames = None if d.get("buffer_frames") is None else tuple(int(v) for v in d["buffer_frames"])
    except (TypeError, ValueError):
        raise PointError(f"{where}: exits, thresholds, parallelism, target_ii and buffer_frames must be lists of "
                         "integers") from None
    folding = {}
    for key, layers in (d.get("folding") or {}).items():
        if not (isinstance(key, str) and key.startswith("stage_") and key[6:].isdigit()) or not isinstance(layers, dict):
            raise PointError(f"{where}: folding key {key!r} must be stage_<k> with a mapping of layer: "
                             "{impl: kernel|mvau, simd, pe, multiplier}")
        plans = {}
        for name, plan in layers.items():
            extra = set(plan or {}) - {"impl", "simd", "pe", "multiplier"} if isinstance(plan, dict) else {"?"}
            if extra:
                raise PointError(f"{where}: folding {key}.{name} must be a mapping of impl, simd, pe, multiplier; "
                                 f"got {plan!r}")
            try:
                plans[str(name)] = LayerPlan(str(plan.get("impl", "kernel")), int(plan.get("simd", 1)),
                                             int(plan.get("pe", 1)), str(plan.get("multiplier", "lut")))
            except (TypeError, ValueError):
                raise PointError(f"{where}: folding {key}.{name}: simd and pe must be integers") from None
        folding[int(key[6:])] = plans
    mode = str(d.get("mode", "anytime"))
    if mode not in MODES[:2]:
        raise PointError(f"{where}: mode {mode!r}: a streaming design is anytime (final exit kept) or subnet")
    return StreamDesign(ints["exits"], ints["thresholds"], ints["parallelism"], ints["target_ii"], folding, frames,
                        mode, _policy(d.get("policy"), where, "design.policy"))


def _policy(value, where: str, key: str) -> str | tuple[str, ...] | None:
    """A point's policy: None, one policy name, or a list of them (one per kept exit)."""
    from frontend.spec import POLICIES

    if value is None:
        return None
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n in POLICIES for n in names):
        raise PointError(f"{where}: {key} {value!r}: give one of {', '.join(POLICIES)}, or a list with one per kept "
                         "exit")
    return tuple(names) if isinstance(value, list) else value


def exit_policies(point: DesignPoint, default: str) -> tuple[str, ...]:
    """The exit policy of each kept exit of ``point``, in exit order: the design's own (streaming points may
    give one per kept exit), else the file's, else ``default`` (the model's calibrated policy)."""
    given = getattr(point.design, "policy", None) or point.policy or default
    return given if isinstance(given, tuple) else (given,) * len(point.design.exits)   # lengths: load_point


class PointError(UserError):
    """A design point file that cannot be built as given; the message names the fix."""


@dataclass(frozen=True)
class DesignPoint:
    id: str
    path: Path
    model: str
    board: str
    policy: str | tuple[str, ...] | None    # tuple: one per kept exit (streaming points)
    design: Design | StreamDesign
    fifo_depth: int | None
    predicted: dict | None          # the model on the split the point was selected on (calibration)
    predicted_test: dict | None = None   # the model with the test split routed: what a build is compared with
    selected_on: str | None = None
    model_options: dict | None = None   # how make dse prepared the model file (exits, input_bits, ...)

    @property
    def streaming(self) -> bool:
        """Built from streaming cores (``design.io: stream``), not the folded / fully parallel ones."""
        return isinstance(self.design, StreamDesign)


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
    if isinstance(d, dict) and d.get("io", "parallel") not in ("parallel", "stream"):
        raise PointError(f"design file {path}: design.io {d['io']!r} is unknown; use stream (or leave it out for a "
                         "folded design)")
    if isinstance(d, dict) and d.get("io") == "stream":
        if "model" not in doc or "board" not in doc:
            raise PointError(f"design file {path} is not a DSE point (missing model/board); {hint}")
        policy, design = _policy(doc.get("policy"), f"design file {path}", "policy"), _stream_design(d, path)
        given = design.policy or policy          # the precedence exit_policies reads them in
        if isinstance(given, tuple) and len(given) != len(design.exits):
            raise PointError(f"design file {path}: policy {list(given)} gives {len(given)} name(s) for "
                             f"{len(design.exits)} kept exits; give one policy, or one per kept exit")
        return DesignPoint(path.stem, path, str(doc["model"]), str(doc["board"]), policy, design,
                           None, doc.get("predicted"), doc.get("predicted_test"),
                           doc.get("selected_on"), doc.get("model_options"))
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
    """The point against the model it names: exit indices, threshold codes in range, P per stage.
    exit_configs[k - 1]: exit k's unit, in the policy the point gives that exit (:func:`point_exit_configs`)."""
    where = f"design file {point.path}"
    try:
        point.design.validate(len(stages))
    except ValueError as exc:
        raise PointError(f"{where}: {exc}") from None
    _check_thresholds(point, exit_configs, where)
    if point.streaming:
        return _check_stream_point(point, stages, where)
    windows = stage_windows(stages)
    for k, p in enumerate(point.design.parallelism, start=1):
        if p > windows[k - 1]:
            raise PointError(f"{where}: stage {k} has {windows[k - 1]} conv windows, P={p} is more; "
                             f"use P in 1..{windows[k - 1]}")
    if point.fifo_depth is not None and (point.fifo_depth < 2 or point.fifo_depth & (point.fifo_depth - 1)):
        raise PointError(f"{where}: fifo_depth {point.fifo_depth} must be a power of two >= 2")


def _check_thresholds(point: DesignPoint, exit_configs, where: str) -> None:
    for k, thr in zip(point.design.exits, point.design.thresholds):
        fmt = exit_configs[k - 1].confidence_format
        if not fmt.min_code <= thr <= fmt.max_code:
            raise PointError(f"{where}: threshold {thr} of exit {k} is outside its confidence codes "
                             f"{fmt.min_code}..{fmt.max_code}; rerun make dse for this model")


def _check_stream_point(point: DesignPoint, stages, where: str) -> None:
    """Stage 1's P against its input row; every folding entry against the layers of its stage's IR."""
    from hardware.stream_stage import PlanError, plan_stage

    shape = tuple(stages[0].ir.input_shape)
    p = point.design.parallelism[0]
    if len(shape) == 3 and shape[1] % p:
        ok = [d for d in range(1, shape[1] + 1) if shape[1] % d == 0]
        raise PointError(f"{where}: P={p} pixels per beat must divide stage 1's input width {shape[1]}; use P in {ok}")
    for k, ir in enumerate(stream_irs(stages, point.design), start=1):
        try:
            plan_stage(ir, point.design.target_ii[k - 1], lambda layer: 0.0, overrides=point.design.folding.get(k))
        except PlanError as exc:
            raise PointError(f"{where}: stage {k}: {exc}") from None


def point_exit_configs(point: DesignPoint, stages, default_policy: str) -> list:
    """Each exit's unit configuration as the point deploys it: a kept exit in its own policy
    (:func:`exit_policies`), a dropped one in the first kept exit's (it is never built)."""
    from frontend.calibrate import exit_configs

    policies = exit_policies(point, default_policy)
    by_policy = {p: exit_configs(stages, p) for p in dict.fromkeys(policies)}
    of_exit = dict(zip(point.design.exits, policies))
    return [by_policy[of_exit.get(k, policies[0])][k - 1] for k in range(1, len(stages) + 1)]


def stream_irs(stages, design: StreamDesign) -> list:
    """The fused stage IR of each deployed stage as the point deploys it (headless where the exit is dropped)."""
    from frontend.ir import fuse_requantisers, stage_ir

    return [fuse_requantisers(stage_ir(deployed_model(stages, design, k), None if k == 1 else stages[k - 1].input_format,
                                       has_logits=k in design.exits, name=f"stage_{k}"))
            for k in range(1, design.deployed_stages + 1)]


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


METRICS = ("lut", "ff", "dsp", "bram", "throughput_samples_per_s", "throughput_bursty_samples_per_s",
           "mean_latency_cycles", "energy_nj_per_sample", "accuracy")
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
    if point.streaming:   # frames of many beats: the steady-state rate (sim/pipeline/throughput.py)
        throughput = on.get("throughput_samples_per_s")
    else:
        rate = acceptance_rate(Path(sim_dir) / "pipeline_records" / "early_exit.npz")
        throughput = None if rate is None else rate * clock_mhz * 1e6
    measured = {"lut": total.get("lut"), "ff": total.get("ff"), "dsp": total.get("dsp"), "bram": total.get("bram"),
                "throughput_samples_per_s": throughput,
                "mean_latency_cycles": on.get("mean_latency_cycles"),
                "energy_nj_per_sample": on.get("energy_nj_per_sample"), "accuracy": on.get("accuracy")}
    bursty = ((sim or {}).get("scenarios") or {}).get("bursty")
    if bursty and bursty.get("throughput_samples_per_cycle") is not None:
        measured["throughput_bursty_samples_per_s"] = bursty["throughput_samples_per_cycle"] * clock_mhz * 1e6
    # like with like: the model with the simulated split routed (older point files carry only the selection figures)
    simulated = (sim or {}).get("split", "test")
    if simulated == "test" and point.predicted_test:
        predicted, on_split = point.predicted_test, "test"
    else:   # a calibration-split run checks the figures the point was chosen by
        predicted, on_split = point.predicted, point.selected_on or "the exploration's"
    errors, flags = prediction_errors(predicted or {}, measured)
    return {"id": point.id, "file": str(point.path), "policy": point.policy, **point.design.to_dict(),
            "fifo_depth": point.fifo_depth, "predicted": predicted, "predicted_on": on_split,
            "selected_on": point.selected_on, "measured": measured, "measured_on": simulated, "errors": errors,
            "tolerances": dict(TOLERANCES), "flags": flags,
            "measured_by": "Yosys synth_xilinx of every stage core and kept exit unit" +
                          (" and conditional buffer" if point.streaming else "") + "; the multi-exit pipeline "
                          f"RTL over the {simulated} split in its real order (throughput: " +
                          ("the steady-state rate its input accepted frames, sim/pipeline/throughput.py; bursty: the "
                           "same with the samples that pass exit 1 played in bursts" if point.streaming else
                           "the rate its input accepted samples, first to last") + "); energy is modelled in both columns, not measured: "
                           "predicted from the board's power: estimates, simulated from the SAIF toggle counts "
                           "(Verilator) x the board's energy: estimates, the same estimated static power in both"}


def fifo_depth_for(queue_depths) -> int:
    """FIFO depth in front of every stage k > 1: the model's largest burst queue (from a queue
    simulation over the test order) plus slack for the exit routing, as a power of two >= 4."""
    need = max(4, max(list(queue_depths)[1:], default=0) + 2)
    return 1 << (need - 1).bit_length()
