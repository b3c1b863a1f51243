"""The main build: model -> trained, calibrated stages -> HLS cores -> report.

One ``Build`` object is filled by an ordered list of small steps (``STEPS``);
each step reads what earlier ones wrote and adds one section. ``run_synth``
runs them and writes ``build/<model>/<board>/report.json`` and ``report.md``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from boards import Board, load_board
from flows.errors import UserError, VerificationFailed, one_line
from frontend.spec import POLICIES, TRAINING_MODES, ModelSpec, load_spec


class FlowError(UserError):
    """A step failed for a reason the user can fix; the message says how."""


@dataclass
class SynthOptions:
    model: str | None = None          # None: the design point's model, else examples/digits.yaml
    board: str = "pynq-z2"
    design: str | None = None         # a DSE point file (dse/points/<id>.yaml): build exactly that design
    data: str | None = None
    build_root: Path = Path("build")
    train: str | None = None          # force (re)training in this mode; spec models default to the spec's mode
    policy: str | None = None         # override the spec's calibration policy
    accuracy_drop: float | None = None
    backend: str = "Vitis"
    io_type: str | None = None        # None: what the flow needs (vendor: io_stream, open: io_parallel)
    reuse_factor: list[int] = field(default_factory=lambda: [1])   # one value, or one per stage
    hls: bool = True
    flow: str | None = None           # "open", "vendor", or None: vendor when its tools are found and the options allow
    cosim: bool = False               # vendor flow: also run HLS co-simulation
    rtl: bool = True                  # open flow: da4ml stage cores, cocotb check, Yosys resources
    rtl_random_vectors: int = 10_000  # random in-range inputs per stage core, besides the test set
    simulator: str = "verilator"
    sim: bool = True                  # open flow: the whole multi-exit pipeline in cocotb (latency, energy)
    board_top: bool = True            # the AXI-wrapped top, register map, driver, their cocotb check, timing
    board_samples: int | None = None  # test samples streamed through the wrapped top (None: the whole test set)
    pr: bool = True                   # evaluate partial reconfiguration from the measured figures
    deadline_s: float | None = None   # p99 latency bound for the deadline-aware PR schedule
    exits: str | None = None          # a one-output model file: "auto" or "layer,layer": attach exit heads there
    input_bits: int = 16              # an unquantised input off every grid of at most this many bits is quantised
    logit_bits: int | None = None     # round unquantised exit logits to this many bits (None: exact accumulator)
    exit_epochs: int = 30             # epochs of attached exit heads (trained exits only, on the frozen backbone)
    # pipeline scenarios to simulate (sim.pipeline.simulate.SCENARIO_NAMES), a comma string or a list; None: all
    # but bursty. A DSE validation build: "nominal,bursty" (the test order, and exit-2 samples in bursts)
    pipeline_scenarios: str | list[str] | None = None
    # the split the pipeline RTL streams: test (reported figures) or calibration (checks a model on the split its
    # predictions were made on); a calibration run builds beside the test one, in <out>-sim-calibration
    sim_split: str = "test"


@dataclass
class Build:
    """Everything the steps produce, in the order they produce it."""

    options: SynthOptions
    console: object
    board: Board | None = None
    spec: ModelSpec | None = None
    name: str = ""
    out_dir: Path = Path()
    model: object = None
    dataset: object = None
    training: dict = field(default_factory=dict)
    point: object = None              # flows.dse.point.DesignPoint when building a DSE point
    stages: list = field(default_factory=list)        # the deployed stages (a subnet point deploys fewer)
    core_models: list = field(default_factory=list)   # the Keras model each stage core implements
    exit_configs: list = field(default_factory=list)  # None where a point drops the exit
    thresholds: list = field(default_factory=list)
    evaluation: object = None
    calibration_eval: object = None
    sweep: list[dict] = field(default_factory=list)
    flow: str = "open"
    stage_records: list = field(default_factory=list)
    hls_models: list = field(default_factory=list)
    stage_rtls: list = field(default_factory=list)
    exit_units: list = field(default_factory=list)
    resources: dict | None = None
    sim: dict | None = None
    sim_markdown: str = ""
    board_top: dict | None = None
    pr: dict | None = None
    design: dict | None = None
    prep: object = None               # flows.report.ModelPrep: formats and changes made to the model
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def load_inputs(build: Build) -> None:
    from frontend.data import load_dataset
    from flows.vendor.flow import select_flow

    opts = build.options
    if opts.design:
        from flows.dse.point import load_point

        build.point = load_point(opts.design)
        if opts.model is not None and model_name(opts.model) != model_name(build.point.model):
            raise FlowError(f"design {opts.design} was explored for model {build.point.model}, not {opts.model}; "
                            "drop MODEL= or pass the design's model")
        if opts.board != build.point.board:
            raise FlowError(f"design {opts.design} was explored for board {build.point.board}; "
                            f"pass BOARD={build.point.board}")
    opts.model = opts.model or (build.point.model if build.point else "examples/digits.yaml")
    if build.point is not None and build.point.model_options:   # the model as make dse prepared it
        for key, value in build.point.model_options.items():
            setattr(opts, key, value)
    build.board = load_board(opts.board)
    if build.point is not None:
        build.flow, message = "open", "a DSE point is built with the open flow (its folded cores are da4ml RTL)"
    else:
        build.flow, message = select_flow(opts.flow, io_type=opts.io_type, hls=opts.hls, part=build.board.part)
    opts.io_type = opts.io_type or ("io_stream" if build.flow == "vendor" else "io_parallel")
    build.console.print(f"  {message}")
    build.notes.append(message)   # which flow ran and why, in the report too
    model_path = Path(opts.model)
    if not model_path.is_file():
        raise FlowError(f"model {opts.model} does not exist; pass MODEL=<spec.yaml or model.h5>")
    if model_path.suffix in (".yaml", ".yml"):
        build.spec = load_spec(model_path)
        build.name = build.spec.name
        shape, classes = build.spec.input_shape, build.spec.classes
    elif model_path.suffix in (".h5", ".hdf5", ".keras"):
        build.model = load_user_model(model_path)
        build.name = model_path.stem
        shape, classes = tuple(build.model.input_shape[1:]), int(build.model.outputs[-1].shape[-1])
    else:
        raise FlowError(f"model {opts.model}: expected a spec (.yaml) or a QKeras model file (.h5)")
    if opts.train is not None and opts.train not in TRAINING_MODES:
        raise FlowError(f"unknown training mode {opts.train!r}; use one of {', '.join(TRAINING_MODES)}")
    if opts.policy is not None and opts.policy not in POLICIES:
        raise FlowError(f"unknown exit policy {opts.policy!r}; use one of {', '.join(POLICIES)}")
    if opts.accuracy_drop is not None and not opts.accuracy_drop >= 0:
        raise FlowError(f"accuracy drop {opts.accuracy_drop:g} is not >= 0; give the points of accuracy the early "
                        "exits may cost, e.g. --accuracy-drop 1.0")
    # the spec names its bundled data set; DATA= (or a user model without a spec: digits) otherwise
    bundled = build.spec.dataset if build.spec else "digits"
    build.dataset = load_dataset(shape, classes, opts.data, dataset=bundled)
    build.out_dir = opts.build_root / build.name / build.board.name
    if build.point is not None:  # beside, never over, the fully parallel build the DSE reads
        build.out_dir = build.out_dir / "designs" / build.point.id
    from sim.pipeline.simulate import SIM_SPLITS

    if opts.sim_split not in SIM_SPLITS:
        raise FlowError(f"SIM_SPLIT={opts.sim_split}: not a split the pipeline can stream; give one of "
                        f"{', '.join(SIM_SPLITS)}")
    if opts.sim_split != "test":   # never over the test-split build its reports and the DSE read
        build.out_dir = build.out_dir.with_name(f"{build.out_dir.name}-sim-{opts.sim_split}")


def model_name(model: str | Path) -> str:
    """The build/<model>/ folder name: the spec's name, or the model file's stem."""
    path = Path(model)
    return load_spec(path).name if path.suffix in (".yaml", ".yml") else path.stem


# layers a user's file may name that the pinned QKeras lacks, with what to write instead
MISSING_LAYERS = {
    "QDenseBatchnorm": "use QDense followed by BatchNormalization: make synth folds the batch norm into the QDense "
                       "and re-quantises it with the QDense's quantisers (accuracy before/after in the report)",
}


def saved_layer_classes(path: Path) -> list[tuple[str, str]]:
    """(class name, layer name) of every layer a saved Keras model names, read from the file's config
    without building anything; [] when the file holds no readable config (loading then says why)."""
    import zipfile

    text = None
    try:
        if zipfile.is_zipfile(path):          # .keras: config.json inside a zip
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json").decode()
        else:
            import h5py

            with h5py.File(path, "r") as f:
                text = f.attrs.get("model_config")
                text = text.decode() if isinstance(text, bytes) else text
        config = json.loads(text) if text else {}
    except (OSError, KeyError, ValueError):
        return []
    layers = (config.get("config") or {}).get("layers") or []
    return [(layer.get("class_name", ""), (layer.get("config") or {}).get("name", "?")) for layer in layers
            if isinstance(layer, dict)]


def unknown_layer_line(path: Path) -> str | None:
    """The one-line reason a file cannot load when it names a layer class that neither Keras nor the pinned
    QKeras provides (Keras' own message points to custom_object_scope, no fix for a layer QKeras lacks)."""
    import qkeras
    from qkeras.utils import _add_supported_quantized_objects
    from tensorflow import keras

    known: dict = {}
    _add_supported_quantized_objects(known)
    for cls, layer in saved_layer_classes(path):
        if cls in known or hasattr(keras.layers, cls) or cls in ("Functional", "Sequential", "Model"):
            continue
        fix = MISSING_LAYERS.get(cls, "rebuild the model from the layers in the README's \"Accepted models\" table")
        return (f"model file {path}: layer {layer!r} is a {cls}, which QKeras {qkeras.__version__} (the version "
                f"exitflow pins) and Keras do not provide; {fix}")
    return None


def load_user_model(path: Path):
    from qkeras.utils import load_qmodel

    try:
        return load_qmodel(str(path), compile=False)
    except Exception as exc:  # h5py/keras raise many types for a damaged file; keep what they said
        unknown = unknown_layer_line(path)
        if unknown:
            raise FlowError(unknown) from None
        reason = one_line(str(exc)) or "no reason given"
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        raise FlowError(f"cannot read model file {path}: {type(exc).__name__}: {reason}; "
                        "save a QKeras functional model with model.save('model.h5')") from None


def prepare_model(build: Build) -> None:
    """A model file as the flow builds it, before anything trains (frontend/prepare.py): float batch norms
    folded, the one layer table checked, an input quantiser (the data's grid, or INPUT_BITS), exit heads
    attached (EXITS=), and the stage IR built once on the result, so every layer option fails here."""
    from flows.report import ModelPrep
    from frontend.graph import check_exit_points, check_layers, exit_candidates
    from frontend.prepare import add_input_quantiser, attach_exits, final_accuracy, fold_batch_norms
    from frontend.stages import split_model

    opts, data = build.options, build.dataset
    if build.spec is not None:
        if opts.exits:
            raise FlowError(f"EXITS={opts.exits} attaches exit heads to a one-output model file; a spec lists its "
                            "exits itself (a head per block): drop EXITS= or pass MODEL=<backbone.h5>")
        return
    import numpy as np

    accuracy = []
    model, folded = fold_batch_norms(build.model)
    if folded:
        accuracy.append({"change": "batch norms folded", "before": final_accuracy(build.model, data.x_test, data.y_test),
                         "after": final_accuracy(model, data.x_test, data.y_test)})
    check_layers(model)
    quantised, inp = add_input_quantiser(model, np.concatenate([data.x_train, data.x_cal, data.x_test]),
                                         opts.input_bits)
    if inp["changes_model"]:
        accuracy.append({"change": f"input quantised to {inp['format']}",
                         "before": final_accuracy(model, data.x_test, data.y_test),
                         "after": final_accuracy(quantised, data.x_test, data.y_test)})
    model, attached = quantised, []
    if opts.exits:
        if len(model.outputs) != 1:
            raise FlowError(f"EXITS={opts.exits} attaches exits to a one-output backbone, but {opts.model} already has "
                            f"{len(model.outputs)} outputs (exits); drop EXITS=")
        names = exit_candidates(model) if opts.exits == "auto" else [n.strip() for n in opts.exits.split(",")]
        if not names:
            raise FlowError(f"EXITS=auto found no exit point in {opts.model} (after a pooling layer or block, with "
                            "a weighted layer before it and more than the final classifier after it); name the "
                            "layers with EXITS=<layer>,<layer>")
        check_exit_points(model, names)
        model, attached = attach_exits(model, names, int(model.outputs[-1].shape[-1]))
    split_model(model)   # the stage IR of every stage: unsupported options fail now, not after training
    build.model = model
    build.prep = ModelPrep(input_format=inp["format"], input_how=inp["how"], folded_batch_norms=folded,
                           attached_exits=attached, accuracy=accuracy)


def training_key(spec: ModelSpec, training, data, backbone_trained: bool = False) -> str:
    """Content key of a trained model: everything that changes its weights.

    The spec (architecture, quantisers; not its calibration block, which acts after training) with the
    training options in force, the arrays it trains on
    (x_train, y_train: the only split training reads), whether the backbone comes pre-trained, the code
    that builds and trains the model, and the TensorFlow/QKeras/numpy versions.
    """
    from dataclasses import asdict, replace

    from flows.content_key import TRAINING_CODE, ContentKey

    described = asdict(replace(spec, training=training))
    described.pop("calibration")
    return (ContentKey("trained model")
            .text("spec", described)
            .text("backbone_trained", backbone_trained)
            .array("x_train", data.x_train).array("y_train", data.y_train)
            .code(TRAINING_CODE)
            .tools("tensorflow", "qkeras", "numpy")
            .hexdigest())


def train_model(build: Build) -> None:
    """Spec models are trained (cached by content key); user models are used as given unless TRAIN= is set,
    except for exit heads the flow attached (EXITS=): those train exits-only on the frozen backbone."""
    from dataclasses import replace

    from frontend.build import build_model
    from frontend.spec import TrainingSpec
    from frontend.train import train

    opts, data = build.options, build.dataset
    attached = build.prep is not None and bool(build.prep.attached_exits)
    if build.spec is None and opts.train is None and not attached:
        build.training = {"mode": "as_given"}
        return
    spec_training = build.spec.training if build.spec else None
    if spec_training is None:
        spec_training = TrainingSpec(loss_weights=())
        if attached:
            spec_training = TrainingSpec(mode="exits_only", epochs=opts.exit_epochs, loss_weights=())
    if opts.train:
        spec_training = replace(spec_training, mode=opts.train)
    if build.spec is not None:
        key = training_key(build.spec, spec_training, data)
        cache = opts.build_root / build.name / "train" / key / "model.h5"
        if cache.is_file():
            build.model = load_user_model(cache)
            build.training = {"mode": spec_training.mode, "cached": str(cache), "key": key, "from_cache": True}
            return
        build.model = build_model(build.spec)
    else:
        cache = None
    from rich.progress import Progress

    with Progress(console=build.console, transient=True) as progress:
        task = progress.add_task(f"training ({spec_training.mode})", total=spec_training.epochs)
        result = train(build.model, data.x_train, data.y_train, spec_training,
                       progress=lambda done, total: progress.update(task, completed=done, total=total),
                       backbone_trained=build.spec is None)
    if not math.isfinite(result.final_loss):
        raise FlowError(f"training ({result.mode}) diverged: the final loss is {result.final_loss}; lower "
                        "training.learning_rate in the spec, or check the data for NaN/huge values")
    build.training = {"mode": result.mode, "epochs": result.epochs, "final_loss": result.final_loss,
                      "seconds": round(result.seconds, 2)}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name("model.tmp.h5")
        build.model.save(tmp)
        tmp.replace(cache)
        # continue from the file, as a cached run does: both build their cores from the same model object
        build.model = load_user_model(cache)
        build.training.update(cached=str(cache), key=key, from_cache=False)


def split_stages(build: Build) -> None:
    """Stages with their IR; unquantised exit logits keep their exact accumulator format, or are rounded to
    LOGIT_BITS (a model change, with the accuracy before and after in the report)."""
    from frontend.prepare import final_accuracy, quantise_logits
    from frontend.stages import logits_quantised, split_model

    opts, data = build.options, build.dataset
    stages = split_model(build.model)
    rounded: dict[str, dict] = {}
    unquantised = {s.plan.logits: s.logit_format for s in stages if not logits_quantised(s)}
    if opts.logit_bits and unquantised:
        model, records = quantise_logits(build.model, unquantised, opts.logit_bits)
        rounded = {r["quantiser"]: r for r in records if r["rounded"]}   # keyed by the exit's new logits layer
        if model is not build.model:
            change = {"change": f"logits rounded to LOGIT_BITS={opts.logit_bits}",
                      "before": final_accuracy(build.model, data.x_test, data.y_test),
                      "after": final_accuracy(model, data.x_test, data.y_test)}
            build.model, stages = model, split_model(model)
            build.prep = build.prep or _spec_prep(stages)
            build.prep.accuracy.append(change)
    build.stages = stages
    build.prep = build.prep or _spec_prep(stages)
    build.prep.logits = [_logit_record(s, unquantised, rounded) for s in stages]
    build.notes += [f"model: {line}" for line in build.prep.lines()]


def _spec_prep(stages):
    from flows.report import ModelPrep

    return ModelPrep(input_format=str(stages[0].ir.input_format), input_how="the model's own input quantiser")


def _logit_record(stage, unquantised: dict, rounded: dict) -> dict:
    layer = stage.plan.logits
    if layer in rounded:
        how = rounded[layer]["how"]
    elif layer in unquantised:
        how = f"unquantised {stage.ir.layer(layer).keras_class} output: its exact accumulator format"
    else:
        how = "the model's logit quantiser"
    return {"exit": stage.index, "layer": layer, "format": str(stage.logit_format), "how": how}


def calibrate_exits(build: Build) -> None:
    from frontend.calibrate import calibrate, evaluate, exit_configs, logit_codes
    from frontend.macs import baseline_macs, cumulative_exit_macs
    from flows.sweep import threshold_sweep

    spec_cal = build.spec.calibration if build.spec else None
    if build.point is not None:
        return apply_design_point(build, spec_cal.policy if spec_cal else "max_prob")
    policy = build.options.policy or (spec_cal.policy if spec_cal else "max_prob")
    drop = build.options.accuracy_drop if build.options.accuracy_drop is not None else (
        spec_cal.accuracy_drop if spec_cal else 1.0)
    data = build.dataset
    build.exit_configs = exit_configs(build.stages, policy)
    exit_macs = cumulative_exit_macs(build.stages)
    base = baseline_macs(build.stages)
    cal_codes = logit_codes(build.model, build.stages, data.x_cal)
    margin = spec_cal.margin_se if spec_cal else 1.0
    build.thresholds = calibrate(build.exit_configs, cal_codes, data.y_cal, exit_macs, drop, margin)
    build.calibration_eval = evaluate(build.exit_configs, cal_codes, data.y_cal, build.thresholds, exit_macs, base)
    test_codes = logit_codes(build.model, build.stages, data.x_test)
    build.evaluation = evaluate(build.exit_configs, test_codes, data.y_test, build.thresholds, exit_macs, base)
    build.training["accuracy_drop_target"] = drop
    build.sweep = threshold_sweep(build.exit_configs, cal_codes, data.y_cal, test_codes, data.y_test, exit_macs, base,
                                  margin_se=margin)


def apply_design_point(build: Build, default_policy: str) -> None:
    """A DSE point fixes the exits, thresholds, each kept exit's policy and the deployed stages instead
    of calibration (``default_policy``: where the point names none).

    Evaluated on the test set with only the kept exits active; exit numbers stay the model's.
    """
    from dataclasses import replace

    import numpy as np

    from frontend.calibrate import evaluate, logit_codes
    from frontend.macs import baseline_macs, layer_macs
    from flows.dse.point import check_point, deployed_model, exit_policies, point_exit_configs

    point, data = build.point, build.dataset
    configs = point_exit_configs(point, build.stages, default_policy)
    check_point(point, build.stages, configs)
    policies = exit_policies(point, default_policy)
    kept, thresholds = list(point.design.exits), list(point.design.thresholds)
    base = baseline_macs(build.stages)
    build.stages = build.stages[:point.design.deployed_stages]
    build.core_models = [deployed_model(build.stages, point.design, k) for k in range(1, len(build.stages) + 1)]
    # a sample leaving at exit k went through every deployed core up to k: kept heads cost, dropped ones do not
    spent = np.cumsum([sum(layer_macs(layer) for layer in m.layers) for m in build.core_models])
    exit_macs = [int(spent[k - 1]) for k in kept]
    build.exit_configs = [configs[k - 1] if k in kept else None for k in range(1, len(build.stages) + 1)]
    build.thresholds = [thresholds[kept.index(k)] if k in kept else None for k in range(1, len(build.stages) + 1)]

    results = []
    for x, y in ((data.x_cal, data.y_cal), (data.x_test, data.y_test)):
        codes = logit_codes(build.model, build.stages, x)
        ev = evaluate([configs[k - 1] for k in kept], [codes[k - 1] for k in kept], y, thresholds, exit_macs, base)
        results.append(replace(ev, exits=[replace(e, index=k) for e, k in zip(ev.exits, kept)],
                               exit_of_sample=np.asarray(kept)[ev.exit_of_sample - 1]))
    build.calibration_eval, build.evaluation = results
    build.training["accuracy_drop_target"] = None
    build.sweep = []
    build.options.hls = False
    named = policies[0] if len(set(policies)) == 1 else f"policies {list(policies)}"
    build.notes.append(f"design point {point.id} ({point.path}): exits {kept}, thresholds {thresholds} "
                       f"({named}), P per stage {list(point.design.parallelism)}, mode {point.design.mode}; "
                       "thresholds from the point, not recalibrated; HLS projects are not part of an open-flow "
                       "point (see the fully parallel build)")


def convert_hls(build: Build) -> None:
    from frontend.macs import layer_macs
    from flows.report import StageRecord
    from hls_templates.convert import (PARALLEL_MAX_INPUT_VALUES, check_bit_exact, convert_stage,
                                       raise_if_not_bit_exact, stage_io_type)
    from hls_templates.precision import forwarded_format

    opts = build.options
    reuse = opts.reuse_factor
    if len(reuse) not in (1, len(build.stages)):
        raise FlowError(f"REUSE has {len(reuse)} values for {len(build.stages)} stages; give one or one per stage")
    x = build.dataset.x_test
    input_format = None  # stage 1 quantises its own input; later stages take the forwarded grid
    for stage in build.stages:
        k = stage.index
        # what the stage's core computes: a DSE point drops heads (exit config None) and ends a subnet logits-only
        core = build.core_models[k - 1] if build.core_models else stage.model
        head = build.exit_configs[k - 1] is not None
        record = StageRecord(index=k, input_shape=[int(d) for d in stage.model.input_shape[1:]],
                             outputs=(["exit_logits"] if head else []) +
                             (["forwarded"] if len(core.outputs) > 1 or not head else []),
                             macs=sum(layer_macs(layer) for layer in core.layers),
                             logit_format=str(stage.logit_format) if head else None)
        qkeras_out = stage.model.predict(x, verbose=0, batch_size=512)
        if opts.hls:
            project = build.out_dir / "hls" / f"stage_{k}"
            io_type = stage_io_type(opts.io_type, record.input_shape)
            if io_type != opts.io_type:
                build.notes.append(f"stage {k}: HLS converted io_stream instead of {opts.io_type}: its input "
                                   f"holds {math.prod(record.input_shape):,} values, more than the "
                                   f"{PARALLEL_MAX_INPUT_VALUES} up to which a stage is fully unrolled")
            with build.console.status(f"stage {k}: hls4ml conversion ({io_type}) and C simulation"):
                hls_model = convert_stage(stage.model, project, part=build.board.part, backend=opts.backend,
                                          io_type=io_type, reuse_factor=reuse[min(k - 1, len(reuse) - 1)],
                                          clock_period_ns=build.board.clock_period_ns,
                                          project_name=f"stage_{k}", input_format=input_format)
                result = check_bit_exact(hls_model, stage.model, x)
            build.hls_models.append(hls_model)
            record.hls_project, record.backend, record.io_type = str(project), opts.backend, io_type
            record.reuse_factor = reuse[min(k - 1, len(reuse) - 1)]
            record.csim_bit_exact, record.csim_samples = result.bit_exact, result.samples
            record.max_abs_diff, record.csim_first_mismatch = result.max_abs_diff, result.first_mismatch
            record.csim_first_differing_layer = result.first_differing_layer
            build.stage_records.append(record)
            raise_if_not_bit_exact(result, stage=f"stage {k}")
        else:
            build.stage_records.append(record)
        if not stage.is_last:
            x = qkeras_out[1]
            input_format = forwarded_format(stage.model, input_format)


def build_stage_cores(build: Build) -> None:
    """Each stage traced by da4ml into a pipelined Verilog core, checked in cocotb (the open flow's cores, and
    in the vendor flow the cores of the AXI-wrapped board top)."""
    if not build.options.rtl or (build.flow != "open" and not build.options.board_top):
        return
    if build.point is not None and not build.point.streaming:
        return build_design_point_cores(build)
    if build.point is not None or rtl_io(build) == "stream":
        return build_stream_cores(build)
    from sim.stage.verify import build_and_verify_chain

    opts = build.options
    with build.console.status("stage cores: da4ml RTL, then cocotb against QKeras (test set + random inputs)"):
        results = build_and_verify_chain(
            [s.model for s in build.stages], None, build.dataset.x_test, build.out_dir / "rtl",
            n_random=opts.rtl_random_vectors, lut_budget=build.board.resources["lut"], simulator=opts.simulator)
    for (rtl, check), record in zip(results, build.stage_records):
        record.rtl_bit_exact, record.rtl_samples = check.bit_exact, check.samples
        record.rtl_random_vectors, record.rtl_latency_cycles = check.random_vectors, rtl.latency_cycles
        record.rtl_dir = str(rtl.verilog_files[0].parent)
        if rtl.fits is False:
            build.notes.append(f"stage {record.index}: a fully parallel core (da4ml estimate {rtl.lut_estimate:,.0f} "
                               f"LUTs) exceeds the {build.board.name}'s {build.board.resources['lut']:,} LUTs; "
                               "it needs folding or a reconfigurable region")
    build.stage_rtls = [rtl for rtl, _ in results]
    bad = [(r.index, c) for r, (_, c) in zip(build.stage_records, results) if not c.bit_exact]
    if bad:
        k, check = bad[0]
        raise VerificationFailed(f"stage {k} RTL differs from its QKeras stage: {check.mismatch()}; "
                                 f"vectors and outputs in {build.out_dir / 'rtl' / f'stage_{k}' / 'sim'}")


def rtl_io(build: Build) -> str:
    """How the open flow builds the stage cores, one kind for the whole pipeline: "stream" when IO_TYPE is
    io_stream or any stage is too large for a fully parallel core (hls_templates.convert.stage_io_type's
    rule, the one the HLS step uses), else "parallel"."""
    from hls_templates.convert import stage_io_type

    if build.options.io_type == "io_stream":
        return "stream"
    shapes = [tuple(int(d) for d in s.model.input_shape[1:]) for s in build.stages]
    return "stream" if any(stage_io_type(build.options.io_type, shape) == "io_stream" for shape in shapes) \
        else "parallel"


# A constant-weight da4ml kernel costs about this many LUTs per nonzero weight (measured on LeNet's conv1:
# 1,595 LUTs for 150 4-bit weights on 8-bit pixels): the planner's estimate when it weighs a kernel
# against an MVAU; the report gives Yosys' counts of what was built.
KERNEL_LUTS_PER_WEIGHT = 10.0


def build_stream_cores(build: Build) -> None:
    """Open flow, streaming: each stage's IR balanced to the input's frame rate (one pixel per cycle), or for
    a streaming design point to its target II at its stage-1 P with its fixed layer plans; built from the
    hardware library's primitives and checked against QKeras on the test set and random inputs."""
    import numpy as np

    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import PlanError, build_stream_stage, plan_stage
    from sim.stage.stream import port_tensors, stage_codes, verify_stream_stage

    opts, design = build.options, build.point.design if build.point is not None else None
    x = build.dataset.x_test
    target = None
    fmt, samples, cores = None, None, []
    p = design.parallelism[0] if design else 1
    for stage, record in zip(build.stages, build.stage_records):
        k = stage.index
        model = build.core_models[k - 1] if build.core_models else stage.model   # a point's own (headless) core
        has_logits = build.exit_configs[k - 1] is not None
        ir = fuse_requantisers(stage_ir(model, fmt, has_logits=has_logits, name=f"stage_{k}"))
        if target is None:   # the input-bound rate: stage 1's frame of pixels, one per cycle
            target = int(np.prod(ir.input_shape[:-1])) if len(ir.input_shape) == 3 else 1
        goal = design.target_ii[k - 1] if design else target
        try:
            plans = plan_stage(ir, goal, parallelism=p, overrides=design.folding.get(k) if design else None,
                               kernel_luts=lambda layer: KERNEL_LUTS_PER_WEIGHT * np.count_nonzero(layer.kernel))
        except PlanError as exc:
            raise FlowError(f"stage {k}: {exc}") from None
        with build.console.status(f"stage {k}: streaming core (P={p}, target II {goal}), then its RTL against "
                                  f"QKeras ({len(x)} test samples + {opts.rtl_random_vectors:,} random inputs)"):
            try:
                core = build_stream_stage(ir, plans, build.out_dir / "rtl" / f"stage_{k}", f"stage_{k}", parallelism=p)
            except PlanError as exc:   # a layer the streaming blocks cannot build yet: the user picks the cores
                raise FlowError(f"stage {k}: {exc}") from None
            if samples is None:
                samples = core.input_format.quantize(x).reshape((len(x),) + core.input_shape)
            check = verify_stream_stage(model, core, samples, opts.rtl_random_vectors,
                                        build.out_dir / "rtl" / f"stage_{k}" / "sim", simulator=opts.simulator, seed=k)
        record.rtl_bit_exact, record.rtl_samples = check.bit_exact, check.samples
        record.rtl_random_vectors, record.rtl_dir = check.random_vectors, str(build.out_dir / "rtl" / f"stage_{k}")
        record.rtl_io, record.rtl_ii_cycles = "stream", core.ii_cycles
        record.rtl_folding = {name: plan.to_dict() for name, plan in plans.items()}
        record.rtl_parallelism = p
        if not check.bit_exact:
            raise VerificationFailed(f"stage {k} RTL differs from its QKeras stage: {check.mismatch()}; "
                                     f"vectors and outputs in {build.out_dir / 'rtl' / f'stage_{k}' / 'sim'}")
        (build.out_dir / "rtl" / f"stage_{k}" / "stage.json").write_text(
            json.dumps(core.to_dict(), indent=2, allow_nan=False))
        cores.append(core)
        if core.forwarded is not None:
            samples = stage_codes(model, core.input_format, port_tensors(core), samples)[-1]
            fmt = core.forwarded.fmt
            p = core.forwarded_parallelism
    build.stage_rtls = cores
    built = ", ".join(f"stage {c.name[6:]} P {c.parallelism} II {c.ii_cycles}" for c in cores)
    if design:
        build.notes.append(f"stage cores streaming as design point {build.point.id} asks: stage 1 reads "
                           f"{design.parallelism[0]} pixels per beat, target II {list(design.target_ii)} cycles per "
                           f"frame; built: {built}")
    else:
        build.notes.append(f"stage cores streaming (one pixel per beat), every stage balanced to {target} cycles per "
                           f"frame, the input's rate: {built}")


def build_design_point_cores(build: Build) -> None:
    """A DSE point's cores (folded, headless or logits-only as it says), each streamed in cocotb over the
    test set and random inputs against the Keras model it implements."""
    import numpy as np

    from flows.dse.point import point_cores
    from sim.dse.folded import simulate_folded_stage
    from sim.stage.verify import qkeras_codes, random_codes

    opts, x = build.options, build.dataset.x_test
    with build.console.status("design point cores: da4ml RTL (folded where P < windows), then cocotb"):
        cores = point_cores(build.stages, build.point.design, build.out_dir / "rtl")
        first = cores[0].core
        samples = first.input_format.quantize(x).reshape((len(x),) + first.input.shape)
        for pc, record in zip(cores, build.stage_records):
            core = pc.core
            codes = np.concatenate([samples, random_codes(core.input_format, core.input.shape,
                                                          opts.rtl_random_vectors, seed=pc.stage)])
            want = qkeras_codes(pc.model, core, codes)
            sim = simulate_folded_stage(core, codes, want, build.out_dir / "sim" / f"stage_{pc.stage}",
                                        simulator=opts.simulator)
            record.rtl_bit_exact, record.rtl_samples = sim.mismatches == 0, len(samples)
            record.rtl_random_vectors, record.rtl_latency_cycles = opts.rtl_random_vectors, core.latency_cycles
            record.rtl_dir = str(Path(core.verilog_files[-1]).parent)
            record.outputs = (["exit_logits"] if pc.exit_kept else []) + \
                (["forwarded"] if core.forwarded is not None else [])
            if sim.mismatches:
                where = sim.first_mismatch.describe(len(samples)) if sim.first_mismatch else "?"
                raise VerificationFailed(f"stage {pc.stage} core of design {build.point.id} differs from its Keras "
                                         f"model: first at {where} ({sim.mismatches} of {sim.vectors} vectors "
                                         f"differ); see {build.out_dir / 'sim' / f'stage_{pc.stage}'}")
            if core.forwarded is not None:
                samples = want[-1][:len(samples)]
    build.stage_rtls = [pc.core for pc in cores]
    build.core_models = [pc.model for pc in cores]


def synthesise_open(build: Build) -> None:
    """Open flow: Yosys synth_xilinx of every stage core and exit unit, in parallel, into the resources block."""
    if build.flow != "open" or not build.stage_rtls:
        return
    import os
    from concurrent.futures import ThreadPoolExecutor

    from hardware.exit_unit.generate import write_unit
    from flows.timing import DelayFigures, MissingTimingData, estimate_netlist_file
    from flows.yosys import synth_xilinx

    family, out = build.board.family, build.out_dir / "yosys"
    kept = [(k, cfg) for k, cfg in enumerate(build.exit_configs, start=1) if cfg is not None]
    units = build.exit_units = [write_unit(cfg, "parallel", build.out_dir / "rtl" / f"exit_unit_{k}")
                                for k, cfg in kept]
    jobs = [("stage", k, rtl.verilog_files, rtl.top, None) for k, rtl in enumerate(build.stage_rtls, start=1)]
    jobs += [("exit_unit", k, u.files, u.top, None) for (k, _), u in zip(kept, units)]
    jobs += [("buffer", k, b.files, b.top, b.parameters) for k, b in conditional_buffers(build).items()]

    try:
        figures = DelayFigures.from_board(build.board)
    except MissingTimingData as exc:
        figures = None
        build.notes.append(f"no timing estimate: {exc}")

    def run(job):
        kind, k, files, top, params = job
        record = synth_xilinx(files, top, family=family, params=params, work_dir=out / f"{kind}_{k}").to_dict()
        if figures is not None:  # from the netlist just written: no second synthesis
            est = estimate_netlist_file(out / f"{kind}_{k}" / f"{top}.netlist.json", top, figures, record["lut_levels"])
            record["timing"] = {key: v for key, v in est.to_dict().items() if key != "method"}
        return kind, {"index": k, **record, **({"parameters": params} if params else {})}

    with build.console.status(f"Yosys synth_xilinx -family {family}: {len(jobs)} cores on {os.cpu_count()} cores"):
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            done = list(pool.map(run, jobs))
    stages = [r for kind, r in done if kind == "stage"]
    for record, rtl in zip(stages, build.stage_rtls):  # what the PR model needs beside the counts
        if hasattr(rtl, "input_beats"):    # streaming: bits per sample on each side, the measured II
            fwd = rtl.forwarded.bits * rtl.forwarded_beats if rtl.forwarded else 0
            record.update(ii_cycles=rtl.ii_cycles, in_width=rtl.in_width * rtl.input_beats,
                          out_width=(rtl.logits.bits if rtl.logits else 0) + fwd)
        else:
            record.update(latency_cycles=rtl.latency_cycles, in_width=rtl.in_width, out_width=rtl.out_width)
    exit_units = [r for kind, r in done if kind == "exit_unit"]
    streaming = any(hasattr(rtl, "input_beats") for rtl in build.stage_rtls)
    if build.point is None and not streaming:  # the fully parallel cores the DSE fits its model on
        write_core_records(build, stages, exit_units, out / "records")
    build.resources = resources_block(stages, exit_units, build.board,
                                      buffers=[r for kind, r in done if kind == "buffer"])
    build.notes += build.resources.get("timing", {}).get("warnings", [])


def write_core_records(build: Build, stages: list[dict], exit_units: list[dict], records_dir: Path) -> None:
    """Yosys records named by what each core is built from, for the DSE to read (flows.core_records)."""
    from flows.core_records import exit_unit_name, stage_core_name, write_record

    family = build.board.family
    for record, stage in zip(stages, build.stages):
        write_record(records_dir, stage_core_name(stage.index, stage.model, stage.input_format, family), record)
    for record in exit_units:
        k = record["index"]
        write_record(records_dir, exit_unit_name(k, build.exit_configs[k - 1], family), record)


def simulate_multi_exit_pipeline(build: Build) -> None:
    """Open flow: stage cores + exit units joined into one pipeline, the test set streamed through it."""
    if build.flow != "open" or not build.stage_rtls or not build.options.sim:
        return
    from sim.pipeline.simulate import simulate_build

    from sim.pipeline.simulate import DEFAULT_SCENARIOS, ScenarioError, check_scenarios

    chosen = build.options.pipeline_scenarios
    try:
        names = check_scenarios(DEFAULT_SCENARIOS if chosen is None else chosen)
    except ScenarioError as exc:
        raise FlowError(str(exc)) from None
    with build.console.status(f"multi-exit pipeline in cocotb: {', '.join(names)}"):
        try:
            result = simulate_build(build, simulator=build.options.simulator, params=pipeline_params(build),
                                    scenarios=names, split=build.options.sim_split)
        except ScenarioError as exc:
            raise FlowError(str(exc)) from None
    build.sim, build.sim_markdown = result.to_dict(), result.to_markdown()
    fault = result.first_fault()
    if fault:
        counts = ", ".join(f"{build.sim[k]} {k}" for k in ("mismatches", "lost", "duplicated"))
        raise VerificationFailed(f"pipeline simulation disagrees with the software model at {fault} "
                                 f"({counts} over all scenarios); records in {build.out_dir / 'sim'}")


def build_board_top(build: Build) -> None:
    """The AXI-wrapped top for the board: register map, driver, cocotb check over the test set, timing, Vivado Tcl."""
    if not build.options.board_top or not build.stage_rtls:
        if build.options.board_top:
            build.notes.append("no board top: it wraps the da4ml stage cores, which this build did not make "
                               "(RTL off)")
        return
    from flows.board_top import board_top_block

    with build.console.status("board top: AXI wrapper, register map, driver; cocotb over AXI, Yosys of the whole "
                              "design"):
        build.board_top = board_top_block(build, simulator=build.options.simulator,
                                           samples=build.options.board_samples)
    sim = build.board_top["sim"]
    build.console.print(f"  {build.board_top['summary']}")
    if (sim["mismatches"], sim["lost"], sim["duplicated"]) != (0, 0, 0) or not sim["counters_match_model"]:
        raise FlowError(f"the AXI-wrapped top disagrees with the software model ({build.board_top['summary']}); "
                        f"see {build.out_dir / 'board' / 'sim'}")


def evaluate_partial_reconfiguration(build: Build) -> None:
    """Stage-to-region mapping, partial bitstreams and schedules from the measured per-stage figures."""
    if not build.options.pr or build.resources is None:
        return
    if build.point is not None:
        build.notes.append("partial reconfiguration not evaluated for a design point: the DSE keeps every point "
                           "within the LUT budget, so it is all-resident (see the fully parallel build's report)")
        return
    from dataclasses import asdict

    from flows.pr.evaluate import pr_block
    from hardware.pr.static import StaticExitUnit

    inputs = {"board": build.board.name, "clock_mhz": build.board.clock_mhz, "resources": build.resources,
              "exits": [asdict(e) for e in build.evaluation.exits],
              "stages": [{"index": r.index, "input_shape": r.input_shape} for r in build.stage_records]}
    manifests = {k: rtl.verilog_files[0].parent / "stage.json" for k, rtl in enumerate(build.stage_rtls, start=1)}
    if any(hasattr(rtl, "input_beats") for rtl in build.stage_rtls):
        # the DFX wrapper packs a fully parallel core's one-word ports into DMA beats; streaming cores
        # have stream ports already, and their reconfigurable-module wrapper is not written yet
        manifests = {}
        build.notes.append("partial reconfiguration: region sizing and schedules from the streaming cores' "
                           "measured resources; the DFX project names placeholder stage sources (streaming "
                           "cores have no reconfigurable-module wrapper yet)")
    unit = StaticExitUnit.from_generated(build.exit_units[0]) if build.exit_units else None
    build.pr = pr_block(inputs, build.out_dir / "pr", deadline_s=build.options.deadline_s,
                        stage_manifests=manifests or None, exit_unit=unit, board=build.board)


def pipeline_params(build: Build):
    """The pipeline's parameters: the defaults, or a design point's FIFO depth and conditional-buffer frames."""
    from hardware.pipeline.generate import PipelineParams

    point, options = build.point, {}
    if point is not None and point.fifo_depth:
        options["fifo_depth"] = point.fifo_depth
    if point is not None and point.streaming and point.design.buffer_frames is not None:
        # one per boundary of the deployed stages; a dropped exit's boundary has no buffer
        options["buffer_frames"] = tuple(point.design.buffer_frames) or 2
    return PipelineParams(**options)


def conditional_buffers(build: Build) -> dict:
    """Exit k -> the conditional buffer (hardware/cond_buffer) the streaming pipeline puts after stage k."""
    from hardware.pipeline.generate import PipelineParams
    from hardware.pipeline.stream import conditional_buffer

    params = pipeline_params(build)
    return {k: conditional_buffer(rtl, params, k) for k, (rtl, cfg) in enumerate(zip(build.stage_rtls, build.exit_configs),
                                                                          start=1)
            if hasattr(rtl, "input_beats") and cfg is not None and rtl.forwarded is not None}


def resources_block(stages: list[dict], exit_units: list[dict], board: Board, buffers: list[dict] = ()) -> dict:
    """Per-core records, their sum, and utilisation against the board (same shape as the vendor flow's);
    ``buffers``: a streaming pipeline's conditional buffers."""
    keys = ("lut", "ff", "carry4", "dsp", "bram", "seconds", "lut_as_memory", "ramb18", "ramb36")
    parts = (*stages, *exit_units, *buffers)
    total = {k: sum(r.get(k, 0) for r in parts) for k in keys}
    total["lut_levels"] = max(r["lut_levels"] for r in parts)
    total["source"] = "yosys"
    capacity = dict(board.resources)
    used = {"lut": total["lut"], "ff": total["ff"], "dsp": total["dsp"], "bram36": total["bram"]}
    pct = {k: round(100.0 * used[k] / capacity[k], 2) for k in used}
    block = {"stages": stages, "exit_units": exit_units, "total": total, "capacity": capacity,
             "utilisation_pct": pct, "fits": all(v <= 100.0 for v in pct.values())}
    timed = [(f"stage {r['index']}", r["timing"]) for r in stages if r.get("timing")]
    timed += [(f"exit unit {r['index']}", r["timing"]) for r in exit_units if r.get("timing")]
    timed += [(f"conditional buffer {r['index']}", r["timing"]) for r in buffers or [] if r.get("timing")]
    if timed:
        from flows.timing import METHOD

        name, worst = min(timed, key=lambda item: item[1]["fmax_mhz"])
        total["fmax_mhz_estimate"] = worst["fmax_mhz"]
        block["timing"] = {
            "method": METHOD, "figures": f"boards/{board.name}.yaml timing: (speed grade "
            f"{board.extra.get('timing', {}).get('speed_grade', '?')})", "clock_mhz": board.clock_mhz,
            "slowest_core": name, "fmax_mhz_estimate": worst["fmax_mhz"], "critical_path_ns": worst["critical_path_ns"],
            "warnings": [w for w in (timing_warning_line(n, t, board.clock_mhz) for n, t in timed) if w]}
    if buffers:
        block["buffers"] = list(buffers)
    return block


def timing_warning_line(name: str, timing: dict, clock_mhz: float) -> str | None:
    if timing["fmax_mhz"] >= clock_mhz:
        return None
    return (f"{name}: estimated Fmax {timing['fmax_mhz']:.0f} MHz is below the {clock_mhz:g} MHz board clock "
            f"(critical path {timing['critical_path_ns']:.2f} ns: {timing['luts_on_path']} LUTs, "
            f"{timing['carry4_on_path']} CARRY4; an estimate before placement: check with Vivado)")


def vendor_synthesis(build: Build) -> None:
    """With Vitis HLS and Vivado on PATH: HLS synthesis, IP, block design, bitstream and their reports."""
    if build.flow != "vendor":
        return
    from hardware.exit_unit.generate import write_unit
    from flows.vendor.flow import vendor_build

    units = [write_unit(cfg, "parallel", build.out_dir / "rtl" / f"exit_unit_{k}")
             for k, cfg in enumerate(build.exit_configs, start=1)]
    build.resources = vendor_build(build.board, build.hls_models, units, build.out_dir / "vendor",
                                   backend=build.options.backend, cosim=build.options.cosim,
                                   progress=lambda title: build.console.print(f"  {title}"))


def compare_design_prediction(build: Build) -> None:
    """A DSE point's predicted figures beside what this build measured (Yosys, pipeline RTL)."""
    if build.point is None:
        return
    from flows.dse.point import measured_vs_predicted

    build.design = measured_vs_predicted(build.point, build.resources, build.sim, build.out_dir / "sim",
                                         build.board.clock_mhz)
    for flag in build.design["flags"]:
        build.console.print(f"  [red]design {build.point.id}: {flag}[/red]")


def write_outputs(build: Build) -> None:
    from flows.report import DatasetInfo, Overall, Report, tool_versions, write_report

    ev, cal, data = build.evaluation, build.calibration_eval, build.dataset
    report = Report(
        model=build.name, board=build.board.name, part=build.board.part, clock_mhz=build.board.clock_mhz,
        flow=build.flow,
        dataset=DatasetInfo(data.name, len(data.x_test), len(data.x_cal), len(data.x_train)),
        training=build.training, exits=ev.exits,
        overall=Overall(accuracy=ev.accuracy, final_exit_accuracy=ev.final_exit_accuracy, avg_macs=ev.avg_macs,
                        baseline_macs=ev.baseline_macs, accuracy_drop_target=build.training["accuracy_drop_target"],
                        calibration_accuracy=cal.accuracy, calibration_final_exit_accuracy=cal.final_exit_accuracy),
        stages=build.stage_records, tools=tool_versions(), notes=build.notes, seconds=build.seconds,
        sweep=build.sweep, resources=build.resources, sim=build.sim, pr=build.pr, design=build.design,
        board_top=build.board_top, model_prep=build.prep)
    report.sections = [build.sim_markdown] if build.sim_markdown else []
    if build.board_top:
        from flows.board_top import board_markdown

        report.sections.append(board_markdown(build.board_top, build.board.clock_mhz))
    build.report = report
    build.report_paths = write_report(report, build.out_dir)
    if build.board_top:  # the driver reads the calibration sweep and the PR schedule from it on the board
        import shutil

        shutil.copyfile(build.report_paths[0], build.out_dir / "board" / "report.json")


STEPS: list[tuple[str, Callable[[Build], None]]] = [
    ("load model, board and data", load_inputs),
    ("prepare the model (layer table, input quantiser, batch norms, exits)", prepare_model),
    ("train", train_model),
    ("split into stages", split_stages),
    ("calibrate exits", calibrate_exits),
    ("convert stages with hls4ml", convert_hls),
    ("stage cores in RTL (da4ml) and their cocotb check", build_stage_cores),
    ("open synthesis (Yosys)", synthesise_open),
    ("multi-exit pipeline simulation (cocotb)", simulate_multi_exit_pipeline),
    ("AXI-wrapped board top: register map, driver, cocotb over AXI", build_board_top),
    ("vendor synthesis and implementation", vendor_synthesis),
    ("partial reconfiguration", evaluate_partial_reconfiguration),
    ("design point: predicted vs measured", compare_design_prediction),
    ("write report", write_outputs),
]


def run_synth(options: SynthOptions, console=None) -> Build:
    from rich.console import Console

    options.build_root = Path(options.build_root).resolve()  # simulators run in other directories
    build = Build(options=options, console=console or Console())
    for title, step in STEPS:
        start = time.perf_counter()
        build.console.print(f"[bold]>[/bold] {title}")
        step(build)
        build.seconds[step.__name__] = round(time.perf_counter() - start, 2)
    return build
