"""simulate_pipeline: build the multi-exit pipeline RTL, stream a data set through it, measure.

Steps, in order: stage cores (hardware/stage) and exit units (exit_unit) ->
pipeline top (generate.py) -> expected decisions from the software model
(QKeras logit codes + ``frontend.calibrate.route``) -> one simulator build,
then one simulator run per scenario (tb_pipeline.py) -> checks, latency and
throughput per scenario -> energy modelled from each measured run's SAIF (energy.py).

Scenarios: ``early_exit`` and ``exits_off`` (measured: no output back-pressure,
so latency is the hardware's, not the sink's; each writes a SAIF), and the
checks ``all_exit_1`` and ``all_to_end`` (threshold extremes, written into the
registers), then ``back_pressure`` (random output stalls) and ``idle_input``
(the source idles at random). The exit units' threshold registers reset to the
given thresholds (THRESHOLD_INIT), so every scenario that runs at those
thresholds writes none: they run on the reset values, also after the extremes
wrote others. Every scenario is checked sample by sample against the software
model.

Throughput: ``throughput.steady_state`` over the handshake record, fill and
drain cut and the source's idle cycles not counted; the whole-run figure
(samples over the cycles from the first input to the last result) is kept
beside it under its own name. Sample ids wrap modulo 2**id_width; results are
matched to samples by the most recent sample accepted with that id, which is
exact while fewer than 2**id_width samples are in flight (``max_in_flight``).

Dropped exits: ``exit_configs[k-1]`` and ``thresholds[k-1]`` None (stage k's
model then ``frontend.stages.headless_model``): stage k has no exit unit, the
software model routes over the kept exits only, and exit indices stay stage
positions throughout (results, ``exits``, energy groups).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .energy import (EnergyCoefficients, MissingEnergyData, RunEnergy, energy_basis, energy_sentence, fifo_estimate,
                     run_energy)
from hardware.pipeline.generate import PipelineParams, PipelineRtl, write_pipeline
from .saif import read_saif
from .throughput import TRIM, SteadyState, steady_state

TB_DIR = Path(__file__).resolve().parent
MEASURED = ("early_exit", "exits_off")
# what PIPELINE_SCENARIOS= may name: nominal is the test set in its order at the given thresholds
# (records: early_exit), extremes the two threshold extremes, bursty the samples that reach a later
# stage played in bursts (bursty_order); default: every scenario but bursty, as before it existed
SCENARIO_NAMES = ("nominal", "exits_off", "extremes", "back_pressure", "idle_input", "bursty")
DEFAULT_SCENARIOS = ("nominal", "exits_off", "extremes", "back_pressure", "idle_input")
BURST = 8      # samples per burst of the bursty scenario
SIM_SPLITS = ("test", "calibration")   # the data splits a build's pipeline run may stream


class ScenarioError(ValueError):
    """A pipeline scenario list that names an unknown scenario; the message lists the names."""


def check_scenarios(names) -> tuple[str, ...]:
    """PIPELINE_SCENARIOS as a tuple of known names (nominal always runs: every figure is measured on it)."""
    names = tuple(n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip())
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown:
        raise ScenarioError(f"unknown pipeline scenario(s) {', '.join(unknown)}; use a comma list of "
                            f"{', '.join(SCENARIO_NAMES)}, e.g. PIPELINE_SCENARIOS=nominal,bursty")
    return tuple(n for n in SCENARIO_NAMES if n in names or n == "nominal")


def bursty_order(expected_exit: np.ndarray, burst: int = BURST) -> np.ndarray:
    """A play order of the samples in which those that go past exit 1 come ``burst`` at a time, the
    others spread evenly between the bursts (each kind keeps its test order): a queue's worst case
    at the same exit rates as the test set's order."""
    hard = np.flatnonzero(np.asarray(expected_exit) > 1)
    easy = np.flatnonzero(np.asarray(expected_exit) <= 1)
    if not len(hard) or not len(easy):
        return np.arange(len(expected_exit))
    bursts = -(-len(hard) // burst)
    cuts = np.linspace(0, len(easy), bursts + 1).round().astype(int)
    order = []
    for b in range(bursts):
        order += list(hard[b * burst:(b + 1) * burst]) + list(easy[cuts[b]:cuts[b + 1]])
    return np.asarray(order, dtype=np.int64)
DA4ML_PRIMITIVES = ("shift_adder", "negative", "mux", "multiplier", "lookup_table")


@dataclass
class ScenarioResult:
    name: str
    samples: int
    mismatches: int
    lost: int
    duplicated: int
    out_of_order: int           # results whose sample precedes an earlier result's (allowed unless reorder)
    cycles: int                 # first input accepted to last result taken, inclusive
    wall_seconds: float
    exit_at: np.ndarray         # per sample, 0 if lost
    latency: np.ndarray         # per sample, cycles from input accepted to result valid (-1 if lost)
    expected_exit: np.ndarray
    predicted: np.ndarray       # per sample, the class the hardware returned (-1 if lost)
    result_id: np.ndarray       # per sample, the id field its result carried (-1 if lost)
    max_in_flight: int          # most samples accepted and not yet delivered at once
    steady: SteadyState | None  # None with fewer than 2 samples
    energy: RunEnergy | None = None
    accuracy: float | None = None  # against the labels, when given
    first_fault: str | None = None  # the first sample that differs, was lost or came twice, on one line
    thresholds_written: bool = False  # False: the run used the registers' reset values (THRESHOLD_INIT)

    @property
    def mean_latency(self) -> float:
        ok = self.latency >= 0
        return float(self.latency[ok].mean()) if ok.any() else float("nan")

    @property
    def throughput(self) -> float | None:
        """Steady-state samples per cycle the input accepted (throughput.steady_state)."""
        return self.steady.samples_per_cycle if self.steady else None

    @property
    def whole_run_throughput(self) -> float:
        """Samples over the whole run's cycles, fill and drain included."""
        return self.samples / self.cycles if self.cycles else 0.0

    def to_dict(self, clock_hz: float | None = None) -> dict:
        d = {"mean_latency_cycles": self.mean_latency, "throughput_samples_per_cycle": self.throughput,
             "exit_throughput_samples_per_cycle": self.steady.to_dict()["exit_samples_per_cycle"]
             if self.steady else None,
             "throughput_window": self.steady.to_dict() if self.steady else None,
             "whole_run_samples_per_cycle": self.whole_run_throughput,
             "energy_nj_per_sample": self.energy.per_sample_nj if self.energy else None,
             "energy_parts_nj_per_sample": self.energy.per_sample_parts_nj() if self.energy else None,
             "energy_basis": ENERGY_BASIS if self.energy else None,
             "cycles": self.cycles, "accuracy": self.accuracy}
        if clock_hz:
            d["throughput_samples_per_s"] = None if self.throughput is None else self.throughput * clock_hz
        return d


@dataclass
class SimResult:
    """The ``sim`` block of report.json (``to_dict``) and its Markdown (``to_markdown``)."""

    simulator: str
    samples: int
    clock_mhz: float
    scenarios: dict[str, ScenarioResult]
    exits: list[dict]
    saif: dict[str, str]
    sim_seconds: float
    build_seconds: float
    rtl: PipelineRtl
    notes: list[str] = field(default_factory=list)
    energy_model: dict | None = None    # energy.energy_basis: modelled, how, coefficients' sources
    split: str = "test"                 # the data split streamed (SIM_SPLITS)

    @property
    def mismatches(self) -> int:
        return sum(s.mismatches for s in self.scenarios.values())

    @property
    def lost(self) -> int:
        return sum(s.lost for s in self.scenarios.values())

    @property
    def duplicated(self) -> int:
        return sum(s.duplicated for s in self.scenarios.values())

    @property
    def speedup(self) -> float | None:
        """Exits-off over early-exit mean latency (None when exits_off was not run)."""
        off = self.scenarios.get("exits_off")
        return off.mean_latency / self.scenarios["early_exit"].mean_latency if off else None

    def first_fault(self) -> str | None:
        """The first scenario's first differing, lost or duplicated sample, on one line (None: none)."""
        return next((f"scenario {name}: {s.first_fault}" for name, s in self.scenarios.items() if s.first_fault),
                    None)

    @property
    def throughput_ratio(self) -> float | None:
        """Steady-state throughput with early exits over exits off (1.0 when both take a sample per cycle)."""
        off = self.scenarios.get("exits_off")
        on, off = self.scenarios["early_exit"].throughput, off.throughput if off else None
        return on / off if on is not None and off else None

    @property
    def samples_per_second(self) -> float:
        wall = sum(s.wall_seconds for s in self.scenarios.values())
        return sum(s.samples for s in self.scenarios.values()) / wall if wall else 0.0

    def to_dict(self) -> dict:
        on, off = self.scenarios["early_exit"], self.scenarios.get("exits_off")
        hz = self.clock_mhz * 1e6
        return {
            "simulator": self.simulator, "samples": self.samples, "split": self.split, "mismatches": self.mismatches,
            "lost": self.lost, "duplicated": self.duplicated, "exits": self.exits,
            "early_exit": on.to_dict(hz), "exits_off": off.to_dict(hz) if off else None,
            "speedup": self.speedup, "throughput_ratio": self.throughput_ratio,
            "throughput_definition": THROUGHPUT_DEFINITION, "saif": self.saif,
            "energy_model": self.energy_model,
            "sim_seconds": self.sim_seconds, "build_seconds": self.build_seconds,
            "sim_samples_per_second": self.samples_per_second,
            "scenarios": {n: {"samples": s.samples, "mismatches": s.mismatches, "lost": s.lost,
                              "duplicated": s.duplicated, "out_of_order": s.out_of_order, "cycles": s.cycles,
                              "mean_latency_cycles": s.mean_latency, "throughput_samples_per_cycle": s.throughput,
                              "whole_run_samples_per_cycle": s.whole_run_throughput,
                              "max_in_flight": s.max_in_flight, "thresholds_written": s.thresholds_written}
                          for n, s in self.scenarios.items()},
            "pipeline": self.rtl.to_dict(), "notes": self.notes,
        }

    def to_markdown(self) -> str:
        d = self.to_dict()
        on, off = d["early_exit"], d["exits_off"]

        def nj(v, fmt=".2f"):
            return "-" if v is None else format(v, fmt)

        lines = ["## Pipeline simulation", "",
                 f"{self.samples} samples of the {self.split} split on {self.simulator}; {d['mismatches']} "
                 f"mismatches against "
                 f"the software model, {d['lost']} lost, {d['duplicated']} duplicated (all scenarios: "
                 f"{', '.join(self.scenarios)}).", "",
                 "| exit | samples | latency min | mean | max (cycles) | energy nJ/sample (modelled) |",
                 "|---:|---:|---:|---:|---:|---:|"]
        for e in self.exits:
            lat = e["latency_cycles"]
            lines.append(f"| {e['index']} | {e['samples']} | {nj(lat['min'], 'd')} | {nj(lat['mean'], '.1f')} | "
                         f"{nj(lat['max'], 'd')} | {nj(e['energy_nj'])} |")
        lines += ["", "| | mean latency (cycles) | throughput, steady state (samples/cycle) | per exit | "
                  "samples/s | whole run (samples/cycle) | nJ/sample (modelled) | cycles | accuracy |",
                  "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
        for name, r in (("early exits", on), ("exits off", off)):
            if r is None:
                continue
            per_exit = ", ".join(f"{k}: {v:.3f}" for k, v in (r["exit_throughput_samples_per_cycle"] or {}).items()
                                 if v) or "-"
            lines.append(f"| {name} | {r['mean_latency_cycles']:.2f} | {nj(r['throughput_samples_per_cycle'], '.3f')} | "
                         f"{per_exit} | {nj(r['throughput_samples_per_s'], '.3g')} | "
                         f"{r['whole_run_samples_per_cycle']:.3f} | {nj(r['energy_nj_per_sample'])} | {r['cycles']} | "
                         f"{nj(r['accuracy'], '.4f')} |")
        ratio = d["throughput_ratio"]
        speedup = "not run (exits_off is not in PIPELINE_SCENARIOS)" if d["speedup"] is None else \
            f"**{d['speedup']:.2f}x**"
        lines += ["", f"Speedup (exits-off / early-exit mean latency): {speedup}; steady-state "
                  f"throughput ratio {nj(ratio, '.3f')}. {THROUGHPUT_DEFINITION} Simulation {d['sim_seconds']:.1f} s "
                  f"({d['sim_samples_per_second']:.0f} samples/s), build {d['build_seconds']:.1f} s.", "",
                  "| scenario | mismatches | lost | duplicated | steady state (samples/cycle) | whole run | "
                  "mean latency |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, sc in d["scenarios"].items():
            lines.append(f"| {name} | {sc['mismatches']} | {sc['lost']} | {sc['duplicated']} | "
                         f"{nj(sc['throughput_samples_per_cycle'], '.3f')} | {sc['whole_run_samples_per_cycle']:.3f} | "
                         f"{sc['mean_latency_cycles']:.2f} |")
        if self.energy_model:
            lines += ["", f"Energy is {energy_sentence(self.energy_model)}"]
        if self.saif:
            lines += ["", f"SAIF (Vivado: `read_saif -strip_path {self.rtl.top} <file>`, then `report_power`): "
                      + ", ".join(f"`{p}`" for p in self.saif.values())]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


THROUGHPUT_DEFINITION = ("Throughput: samples the input accepted per cycle in steady state, the first and last "
                         f"{TRIM:.0%} of the samples cut and the source's idle cycles not counted "
                         "(sim/pipeline/throughput.py); whole run: samples over the cycles from the first input "
                         "to the last result, fill and drain included.")
ENERGY_BASIS = "modelled: SAIF toggles x estimated coefficients (see sim.energy_model)"


# ---------------------------------------------------------------- software model
def route_kept(configs: list, codes: list, thresholds: list) -> tuple[np.ndarray, np.ndarray]:
    """``frontend.calibrate.route`` over the kept exits (config not None); exit index = stage position."""
    from frontend.calibrate import route

    kept = [k for k, cfg in enumerate(configs) if cfg is not None]
    exit_at, predicted = route([configs[k] for k in kept], [codes[k] for k in kept], [thresholds[k] for k in kept])
    return np.asarray(kept)[exit_at - 1] + 1, predicted


def is_streaming(cores: list) -> bool:
    """Whether the stage cores are streaming cores (hardware/stream_stage): frames of beats, not one word."""
    from hardware.stream_stage import StreamStage

    kinds = {isinstance(c, StreamStage) for c in cores}
    if len(kinds) != 1:
        raise ValueError("a pipeline joins either fully parallel or streaming stage cores, not both; build every "
                         "stage streaming (IO_TYPE=io_stream)")
    return kinds.pop()


def core_input_shape(core) -> tuple[int, ...]:
    """The shape of one input sample of a stage core (whole tensor), streaming or fully parallel."""
    return tuple(core.input_shape) if hasattr(core, "input_beats") else tuple(core.input.shape)


def core_codes(model, core, x_codes: np.ndarray) -> list[np.ndarray]:
    """The QKeras stage's outputs on input codes, as codes of the core's ports (logits, forwarded)."""
    if hasattr(core, "input_beats"):
        from sim.stage.stream import port_tensors, stage_codes

        return stage_codes(model, core.input_format, port_tensors(core), x_codes)
    from sim.stage.verify import qkeras_codes

    return qkeras_codes(model, core, x_codes)


def expected_route(stage_models: list, stage_rtls: list, configs: list, x_codes: np.ndarray,
                   thresholds: list) -> tuple[np.ndarray, np.ndarray, list]:
    """(exit 1..N, class, logit codes per stage) from the QKeras stages and the exit-unit reference.

    A headless stage (config None) has no logit codes (None in the list)."""
    codes, x = [], x_codes
    for model, rtl, cfg in zip(stage_models, stage_rtls, configs):
        outs = core_codes(model, rtl, x)
        codes.append(None if cfg is None else outs[0].reshape(len(x_codes), -1))
        x = outs[-1]
    exit_at, predicted = route_kept(configs, codes, thresholds)
    return exit_at, predicted, codes


def extreme_thresholds(configs: list, codes: list, thresholds: list) -> dict[str, list]:
    """Threshold codes that let every sample out at the first kept exit ("all_exit_1"), and none before the
    last exit ("all_to_end"). Dropped exits (config None) keep a None threshold."""
    def pick(cfg, z, want: bool) -> int:
        from exit_unit.reference import confidence
        conf = confidence(cfg, z)
        fmt = cfg.confidence_format
        for code in (fmt.min_code, fmt.max_code):
            if (cfg.exits(conf, code) == want).all():
                return int(code)
        return int(fmt.max_code if cfg.higher_is_confident == want else fmt.min_code)

    first = next(k for k, cfg in enumerate(configs) if cfg is not None)
    all_first = list(thresholds)
    all_first[first] = pick(configs[first], codes[first], True)
    all_end = [None if c is None else pick(c, z, False) for c, z in zip(configs[:-1], codes)] + thresholds[-1:]
    return {"all_exit_1": all_first, "all_to_end": all_end}


# ---------------------------------------------------------------- analysis
def sample_index(ids: np.ndarray, seen_at: np.ndarray, accepted: np.ndarray, id_width: int) -> np.ndarray:
    """Sample index of each result: the latest sample accepted before the result appeared whose index is
    its id modulo 2**id_width (-1 when none is); exact while fewer than 2**id_width are in flight."""
    span = 1 << id_width
    before = np.searchsorted(accepted, seen_at, side="left")  # samples accepted strictly before
    last = before - 1 - ids
    return np.where((ids < span) & (last >= 0), ids + (np.maximum(last, 0) // span) * span, -1)


def analyse(name: str, record_dir: Path, rtl: PipelineRtl, expected_exit: np.ndarray,
            expected_class: np.ndarray) -> ScenarioResult:
    rec = np.load(record_dir / f"{name}.npz")
    meta = json.loads((record_dir / f"{name}.json").read_text())
    n = len(expected_exit)
    fields, firsts, taken = [], [], []
    for beat, first, hand in zip(rec["words"], rec["first_valid"], rec["handshake"]):
        for f in rtl.decode(int(beat)):
            fields.append(f)
            firsts.append(int(first))
            taken.append(int(hand))
    accepted = rec["accepted"].astype(np.int64)
    ids = np.array([f["id"] for f in fields], dtype=np.int64)
    index = sample_index(ids, np.array(firsts, dtype=np.int64), accepted, rtl.params.id_width)
    exit_at = np.zeros(n, dtype=np.int64)
    cls = np.full(n, -1, dtype=np.int64)
    latency = np.full(n, -1, dtype=np.int64)
    result_id = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=np.int64)
    out_of_order, top, extra = 0, -1, 0
    for f, first, i in zip(fields, firsts, index):
        if i < 0 or i >= n or seen[i]:
            extra += 1  # a second result for a sample, or an id never issued
            if 0 <= i < n:
                seen[i] += 1
            continue
        seen[i] = 1
        exit_at[i], cls[i], result_id[i] = f["exit"], f["class"], f["id"]
        latency[i] = first - int(accepted[i])
        out_of_order += i < top
        top = max(top, i)
    received = seen > 0
    differs = received & ((exit_at != expected_exit) | (cls != expected_class))
    mismatches = int(np.sum(differs))
    taken_at = np.array(taken, dtype=np.int64)
    # in flight when sample j is accepted: j + 1 accepted so far minus the results taken before that cycle
    in_flight = np.arange(1, len(accepted) + 1) - np.searchsorted(np.sort(taken_at), accepted, side="left")
    steady = None
    if len(accepted) >= 2:
        left_at = np.zeros(len(accepted), dtype=np.int64)  # exit per accepted sample, 0 if it never left
        left_at[:min(n, len(accepted))] = exit_at[:len(accepted)]
        steady = steady_state(accepted, left_at, rec["source_idle"])
    return ScenarioResult(name, n, mismatches, int(np.sum(~received)), int(extra), int(out_of_order),
                          int(meta["cycles"]), float(meta["wall_seconds"]), exit_at, latency, expected_exit, cls,
                          result_id, int(in_flight.max(initial=0)), steady,
                          first_fault=_first_fault(differs, received, seen, exit_at, cls, expected_exit,
                                                   expected_class, extra))


def _first_fault(differs, received, seen, exit_at, cls, expected_exit, expected_class, extra) -> str | None:
    """The first sample (by id) whose result differs, or that was lost or came twice, with its fields."""
    faults = np.flatnonzero(differs | ~received | (seen > 1))
    if faults.size == 0:
        return f"{extra} result(s) with a sample id never issued" if extra else None
    i = int(faults[0])
    if not received[i]:
        return f"sample {i} never left the pipeline (expected at exit {expected_exit[i]}, class {expected_class[i]})"
    if not differs[i]:
        return f"sample {i} left the pipeline {seen[i]} times"
    fields = [f"{field} expected {want}, got {got}" for field, want, got in
              (("exit", expected_exit[i], exit_at[i]), ("class", expected_class[i], cls[i])) if want != got]
    return f"sample {i}: " + ", ".join(fields)


def estimate_resources(rtl: PipelineRtl, stage_rtls: list, units: list,
                       cores: dict[str, dict] | None = None) -> dict[str, dict]:
    """Resources per energy group: the cores (``cores``, e.g. Yosys records keyed stage_k / exit_unit_k,
    else estimates: da4ml's LUT cost model + register bits for stage cores, a register/LUT count for exit
    units) plus the pipeline's own FIFOs (LUTRAM estimates)."""
    cores = cores or {}
    out = {}
    idw = rtl.params.id_width

    def add(*parts: dict) -> dict:
        return {key: sum(p.get(key, 0) for p in parts) for key in ("lut", "ff", "dsp", "bram")}

    if is_streaming(stage_rtls):
        return _stream_resources(rtl, stage_rtls, units, cores, add)
    for k, (st, eu) in enumerate(zip(stage_rtls, units), start=1):  # eu None: exit k dropped
        shell_depth = 1 << max(1, (st.latency_cycles + 1).bit_length())
        core = cores.get(f"stage_{k}") or add({"lut": st.lut_estimate, "ff": st.register_bits + st.latency_cycles},
                                              fifo_estimate(st.out_width, shell_depth))
        parts = [core, fifo_estimate(idw, shell_depth)]
        if k > 1:
            parts.append(fifo_estimate(stage_rtls[k - 2].forwarded.bits + idw, rtl.params.fifo_depth))
        out[f"stage_{k}"] = add(*parts)
        if eu is None:
            continue
        fw = st.forwarded.bits if st.forwarded else 1
        side = fifo_estimate(fw + idw, 1 << max(1, eu.latency_cycles.bit_length()))
        out[f"exit_unit_{k}"] = add(cores.get(f"exit_unit_{k}") or _exit_unit_estimate(eu), side)
    lane = rtl.lane_width
    if rtl.params.reorder:  # N write ports: the slots are flip-flops, read through a mux
        slots = 1 << rtl.params.reorder_slots_log2
        out["output"] = {"lut": slots * lane // 4 + slots, "ff": slots * (lane + 1) + 2 * idw, "dsp": 0, "bram": 0}
    else:
        out["output"] = fifo_estimate(rtl.out_width, rtl.params.output_fifo_depth)
    return out


def _stream_resources(rtl: PipelineRtl, stage_rtls: list, units: list, cores: dict[str, dict], add) -> dict:
    """estimate_resources of a streaming pipeline: the Yosys records of its cores and conditional buffers
    (cores_from_resources_block; a streaming core has no cheap stand-in) plus its id and side FIFOs."""
    from hardware.pipeline.stream import IDS_DEPTH

    missing = [f"stage_{k}" for k in range(1, len(stage_rtls) + 1) if f"stage_{k}" not in cores]
    if missing:
        raise MissingEnergyData(f"no Yosys records of the streaming cores {', '.join(missing)}: the energy model "
                                "of a streaming pipeline weighs toggles by measured resources (make synth gives them)")
    idw, out = rtl.params.id_width, {}
    for k, eu in enumerate(units, start=1):
        out[f"stage_{k}"] = add(cores[f"stage_{k}"], fifo_estimate(idw, IDS_DEPTH))
        if eu is not None:
            side = fifo_estimate(idw, 1 << max(1, eu.latency_cycles.bit_length()))
            out[f"exit_unit_{k}"] = add(cores.get(f"exit_unit_{k}") or _exit_unit_estimate(eu), side)
    out["output"] = fifo_estimate(rtl.out_width, rtl.params.output_fifo_depth)
    return out


def cores_from_resources_block(block: dict | None) -> dict[str, dict]:
    """{stage_k, exit_unit_k: counts} from the flow's resources block (flows.synth.resources_block)."""
    if not block:
        return {}
    out = {}
    for kind in ("stages", "exit_units"):
        for r in block.get(kind, []):
            name = f"{'stage' if kind == 'stages' else 'exit_unit'}_{r['index']}"
            out[name] = {key: r.get(key, 0) for key in ("lut", "ff", "dsp", "bram")}
    for r in block.get("buffers", []):   # a streaming pipeline's conditional buffer k belongs to exit k's group
        group = out.setdefault(f"exit_unit_{r['index']}", {"lut": 0, "ff": 0, "dsp": 0, "bram": 0})
        for key in ("lut", "ff", "dsp", "bram"):
            group[key] += r.get(key, 0)
    return out


def _exit_unit_estimate(eu) -> dict:
    """Cheap stand-in when no Yosys record is given: pipeline registers ~ latency x logit bits."""
    c = eu.cfg
    return {"lut": 12 * c.classes * c.logit.width // 4, "ff": eu.latency_cycles * c.classes * c.logit.width // 2,
            "dsp": 1 if c.policy == "entropy" else 0, "bram": 0}


# ---------------------------------------------------------------- the run
def build_rtl(stage_models: list, configs: list, rtl_dir: Path, input_format=None, stage_rtls: list | None = None,
              params: PipelineParams = PipelineParams(), thresholds: list | None = None):
    """Stage cores (unless given), parallel exit units and the pipeline top under ``rtl_dir``.

    configs[k-1] None: exit k is dropped, stage_models[k-1] is headless and gets no exit unit.
    thresholds: the codes the threshold registers reset to (None: each unit's never-exit default)."""
    from hardware.exit_unit.generate import write_unit
    from hardware.stage import build_stage_rtl

    rtl_dir = Path(rtl_dir)
    if stage_rtls is None:
        stage_rtls, prev = [], None
        for k, (model, cfg) in enumerate(zip(stage_models, configs), start=1):
            fmt = prev.forwarded.fmt if prev else input_format
            prev = build_stage_rtl(model, fmt, rtl_dir / f"stage_{k}", f"stage_{k}", has_logits=cfg is not None)
            stage_rtls.append(prev)
    units = [None if cfg is None else write_unit(cfg, "parallel", rtl_dir / "exit_units") for cfg in configs]
    if is_streaming(stage_rtls):
        from hardware.pipeline.stream import write_stream_pipeline

        return write_stream_pipeline(stage_rtls, units, rtl_dir, params, thresholds), stage_rtls, units
    return write_pipeline(stage_rtls, units, rtl_dir, params, thresholds), stage_rtls, units


def simulate_pipeline(stage_models: list, exit_configs: list, thresholds: list, x: np.ndarray, out_dir: Path,
                      board, *, input_format=None, logit_codes: list | None = None,
                      stage_rtls: list | None = None, cores: dict[str, dict] | None = None,
                      simulator: str = "verilator", samples: int | None = None, seed: int = 0,
                      back_pressure: float = 0.3, idle_input: float = 0.3, extremes: bool = True,
                      labels: np.ndarray | None = None, params: PipelineParams = PipelineParams(),
                      write_thresholds: bool = False, scenarios=None) -> SimResult:
    """Build the pipeline for these stages and exit units and stream ``x`` (real inputs) through it.

    out_dir: ``build/<model>/<board>``: RTL goes to ``rtl/pipeline/``, simulator
    output and SAIF files to ``sim/``. board: a ``boards.Board`` (clock, energy
    coefficients). exit_configs[k-1], thresholds[k-1]: None where exit k is dropped
    (stage_models[k-1] is then its headless model, frontend.stages.headless_model);
    the final exit is always kept. logit_codes: per stage, the exits' logit codes on
    ``x`` from the whole QKeras model, as the calibration saw them (default: from
    the stage models); entries of dropped exits are ignored (pass None).
    cores: resources of the cores ({stage_k, exit_unit_k} -> lut/ff/dsp/bram), e.g. the
    flow's Yosys records (cores_from_resources_block); else estimates.
    labels: true classes of x; adds the hardware's accuracy with exits on and off.
    back_pressure, idle_input: probability of an output stall / a source idle cycle in the scenarios of
    those names (0 leaves the scenario out). The exit units reset to ``thresholds``; scenarios at those
    thresholds write no register unless ``write_thresholds``. scenarios: names of SCENARIO_NAMES to run
    (a list or a comma string; None: DEFAULT_SCENARIOS; nominal always runs); bursty: streaming cores only.
    Raises ValueError on inconsistent inputs.
    """
    from exit_unit.reference import decide

    if len(stage_models) != len(exit_configs) or len(thresholds) != len(exit_configs):
        raise ValueError(f"{len(stage_models)} stages, {len(exit_configs)} exit configs and {len(thresholds)} "
                         "thresholds: give one of each per stage (None where the exit is dropped)")
    if exit_configs[-1] is None:
        raise ValueError(f"exit {len(exit_configs)} has no config: the final exit is always kept")
    for k, (cfg, thr) in enumerate(zip(exit_configs, thresholds), start=1):
        if (cfg is None) != (thr is None):
            raise ValueError(f"exit {k} has a {'threshold' if cfg is None else 'config'} but no "
                             f"{'config' if cfg is None else 'threshold'}; give both, or None for both to drop it")
    if logit_codes is not None and len(logit_codes) != len(exit_configs):
        raise ValueError(f"{len(logit_codes)} logit code arrays for {len(exit_configs)} stages; give one per stage "
                         "(None where the exit is dropped)")
    if simulator not in ("verilator", "icarus"):
        raise ValueError(f"unknown simulator {simulator!r}; use verilator or icarus")
    wanted = check_scenarios(DEFAULT_SCENARIOS if scenarios is None else scenarios)
    x = np.asarray(x)[:samples] if samples else np.asarray(x)
    n = len(x)
    if n == 0:
        raise ValueError("no samples to simulate; pass a non-empty x (or samples > 0)")
    out_dir = Path(out_dir).resolve()
    rtl, stage_rtls, units = build_rtl(stage_models, exit_configs, out_dir / "rtl" / "pipeline", input_format,
                                       stage_rtls, params, thresholds)
    streaming = is_streaming(stage_rtls)
    x_codes = stage_rtls[0].input_format.quantize(x).reshape((n,) + core_input_shape(stage_rtls[0]))
    exit_on, class_on, codes = expected_route(stage_models, stage_rtls, exit_configs, x_codes, thresholds)
    if logit_codes is not None:
        given = [None if c is None else np.asarray(g)[:n] for g, c in zip(logit_codes, codes)]
        if any(c is not None and not np.array_equal(g, c) for g, c in zip(given, codes)):
            raise ValueError("the stage models' logit codes differ from the given whole-model codes; "
                             "the stages are not a split of that model")
        exit_on, class_on = route_kept(exit_configs, given, thresholds)
    nstages = len(exit_configs)
    kept = [k for k, cfg in enumerate(exit_configs, start=1) if cfg is not None]
    expected = {"early_exit": (exit_on, class_on),
                "exits_off": (np.full(n, nstages), decide(exit_configs[-1], codes[-1], thresholds[-1]).cls),
                "back_pressure": (exit_on, class_on), "idle_input": (exit_on, class_on)}
    scenarios = [{"name": "early_exit", "exits_enable": True, "thresholds": thresholds, "out_pause": 0.0}]
    if "exits_off" in wanted:
        scenarios.append({"name": "exits_off", "exits_enable": False, "thresholds": thresholds, "out_pause": 0.0})
    if "bursty" in wanted:
        if not streaming:
            raise ScenarioError("the bursty scenario plays frames in a new order, which only the streaming "
                                "pipeline's harness does; drop bursty from PIPELINE_SCENARIOS for these cores")
        order = bursty_order(exit_on)
        scenarios.append({"name": "bursty", "exits_enable": True, "thresholds": thresholds, "out_pause": 0.0,
                          "order": order})
        expected["bursty"] = (exit_on[order], class_on[order])
    if extremes and "extremes" in wanted:
        for name, thr in extreme_thresholds(exit_configs, codes, list(thresholds)).items():
            scenarios.append({"name": name, "exits_enable": True, "thresholds": thr, "out_pause": 0.0})
            expected[name] = route_kept(exit_configs, codes, thr)
    # after the extremes wrote their registers: back at the reset values (no write) under stalls
    if back_pressure > 0 and "back_pressure" in wanted:
        scenarios.append({"name": "back_pressure", "exits_enable": True, "thresholds": thresholds,
                          "out_pause": back_pressure, "seed": seed})
    if idle_input > 0 and "idle_input" in wanted:
        scenarios.append({"name": "idle_input", "exits_enable": True, "thresholds": thresholds,
                          "out_pause": 0.0, "in_pause": idle_input, "seed": seed + 2})
    for sc in scenarios:
        sc["write_thresholds"] = write_thresholds or list(sc["thresholds"]) != list(thresholds)

    sim_dir = out_dir / "sim"
    record_dir = sim_dir / "pipeline_records"
    record_dir.mkdir(parents=True, exist_ok=True)
    if streaming:
        from sim.pipeline.stream_runs import run_stream_scenarios

        totals, saif, runs = run_stream_scenarios(rtl, stage_rtls[0], x_codes, scenarios, sim_dir, record_dir,
                                                  simulator)
    else:
        totals, saif, runs = _run_cocotb_scenarios(rtl, stage_rtls, x_codes, scenarios, sim_dir, record_dir,
                                                   simulator)
    results = {sc["name"]: analyse(sc["name"], record_dir, rtl, *expected[sc["name"]]) for sc in scenarios}
    for sc in scenarios:
        results[sc["name"]].thresholds_written = sc["write_thresholds"]
    if labels is not None:
        y = np.asarray(labels)[:n]
        for sc in scenarios:
            r = results[sc["name"]]
            r.accuracy = float(np.mean(r.predicted == y[sc.get("order", slice(None))]))
    first_walls = sum(results[sc["name"]].wall_seconds for sc in runs[0][0])
    build_seconds = totals[0] - first_walls
    sim_seconds = sum(totals) - build_seconds

    notes = []
    crowded = [r.name for r in results.values() if r.max_in_flight >= 1 << params.id_width]
    if crowded:
        notes.append(f"{', '.join(crowded)}: as many samples in flight as the 2**{params.id_width} sample ids, so "
                     "results could not be matched to samples unambiguously; raise PipelineParams.id_width")
    coeffs = energy_model = None
    if saif:
        try:
            coeffs = EnergyCoefficients.from_board(board)
        except MissingEnergyData as exc:  # a board without figures still gets latency and throughput
            notes.append(f"no energy figures: {exc}")
    res = None
    if coeffs is not None:
        try:
            res = estimate_resources(rtl, stage_rtls, units, cores)
        except MissingEnergyData as exc:
            notes.append(f"no energy figures: {exc}")
    if res is not None:
        notes.append("energy (modelled): toggles from the SAIF of each simulated run; core resources "
                     + ("from the caller's synthesis records" if cores else "estimated (da4ml cost model)")
                     + ", pipeline FIFOs estimated (LUTRAM)"
                     + f"; coefficients from boards/{board.name}.yaml energy:/power: (estimates)")
        for name in (m for m in MEASURED if m in saif):
            act = read_saif(Path(saif[name]))
            top_path = act.find("u_stage1").rsplit("/", 1)[0]
            r = results[name]
            results[name].energy = run_energy(act, top_path, rtl.module_groups, res, coeffs, n, r.cycles)
        energy_model = energy_basis(coeffs, board.name)
    elif not saif:
        notes.append(f"no energy figures: {simulator} runs write no SAIF (use verilator)")
    on = results["early_exit"]
    reached = {}
    for k in range(1, nstages + 1):
        reached[f"stage_{k}"] = reached[f"exit_unit_{k}"] = int(np.sum(exit_on >= k))
    per_exit = on.energy.per_exit_nj(reached, nstages) if on.energy else [None] * nstages
    exits = []
    for k in kept:
        here = (on.exit_at == k) & (on.latency >= 0)
        lat = on.latency[here]
        exits.append({"index": k, "samples": int(here.sum()),
                      "latency_cycles": {"min": int(lat.min()) if lat.size else None,
                                         "mean": float(lat.mean()) if lat.size else None,
                                         "max": int(lat.max()) if lat.size else None},
                      "energy_nj": per_exit[k - 1] if here.any() else None,
                      "energy_basis": ENERGY_BASIS if on.energy and here.any() else None})
    return SimResult(simulator, n, board.clock_mhz, results, exits, saif, sim_seconds, build_seconds, rtl, notes,
                     energy_model)


def _run_cocotb_scenarios(rtl: PipelineRtl, stage_rtls: list, x_codes: np.ndarray, scenarios: list[dict],
                          sim_dir: Path, record_dir: Path, simulator: str) -> tuple[list, dict, list]:
    """A fully parallel pipeline (one beat per sample) through tb_pipeline.py: (wall seconds per simulator
    call, SAIF file per measured scenario, the scenario groups each call ran)."""
    from sim.runner import run_cocotb
    from sim.stage.run import VERILATOR_CXX_OPT, _verilator_cxx_opt

    from hardware.stage import pack
    words = pack([stage_rtls[0].input], [x_codes])
    nbytes = (rtl.in_width + 7) // 8
    vectors = record_dir / "vectors.npz"
    np.savez(vectors, inputs=np.array([np.frombuffer(w.to_bytes(nbytes, "little"), dtype=np.uint8) for w in words]))
    for sc in scenarios:  # None: a dropped exit, no threshold register to write
        sc["thresholds"] = [None if t is None else int(t) for t in sc["thresholds"]]
    sources, build_args, saif = list(rtl.files), [], {}
    if simulator == "verilator":
        control = sim_dir / "public_ports.vlt"
        # the da4ml primitives (one instance per adder) are not traced: their outputs are nets of the
        # core_stage modules anyway, and tracing their ports would multiply the SAIF size and sim time
        untraced = "".join(f'tracing_off -file "*_{p}.v"\n' for p in DA4ML_PRIMITIVES)
        control.write_text(f'`verilator_config\npublic_flat_rw -module "{rtl.top}" -var "*"\n{untraced}')
        sources.insert(0, control)  # only the top ports need VPI access; the runner reads the language from the last
        build_args = ["--no-public-flat-rw", "--trace-saif"]
        runs = [([sc], sc["name"]) for sc in scenarios if sc["name"] in MEASURED]
        runs.append(([sc for sc in scenarios if sc["name"] not in MEASURED], None))
    else:
        runs = [(scenarios, None)]
    build_dir = sim_dir / f"pipeline_{simulator}"
    totals = []
    # folded stages take `steps` cycles per sample; the bench's watchdog must outlast the slowest
    cycles_per_sample = max([20] + [2 * getattr(r, "steps", 1) + 4 for r in stage_rtls])
    with _verilator_cxx_opt(VERILATOR_CXX_OPT):
        for i, (group, saif_name) in enumerate(runs):
            spec = record_dir / f"scenarios_{i}.json"
            spec.write_text(json.dumps(group))
            test_args = []
            if saif_name:
                saif[saif_name] = str(sim_dir / f"{saif_name}.saif")
                test_args = ["--trace-file", saif[saif_name]]
            start = time.perf_counter()
            run_cocotb(sources, rtl.top, "tb_pipeline", TB_DIR, build_dir, simulator=simulator,
                       extra_env={"TB_VECTORS": vectors, "TB_SCENARIOS": spec, "TB_OUT_DIR": record_dir,
                                  "TB_CYCLES_PER_SAMPLE": str(cycles_per_sample), "TB_LANES": rtl.lanes,
                                  "TB_LANE_BITS": rtl.lane_width},
                       waves=simulator == "verilator", build_args=build_args, test_args=test_args, build=i == 0)
            totals.append(time.perf_counter() - start)

    return totals, saif, runs


def simulate_build(build, simulator: str = "verilator", samples: int | None = None, split: str = "test",
                   **options) -> SimResult:
    """simulate_pipeline on a flows.synth Build: its stages (and stage cores and Yosys records when the
    flow made them), exit configs, thresholds, a data split (SIM_SPLITS; the test split unless asked) and
    board.

    RTL goes to ``<build.out_dir>/rtl/pipeline``, SAIF to ``<build.out_dir>/sim``.
    """
    from frontend.calibrate import logit_codes

    if split not in SIM_SPLITS:
        raise ValueError(f"split {split!r}: not one of {SIM_SPLITS}")
    data = build.dataset
    x_all, y_all = (data.x_test, data.y_test) if split == "test" else (data.x_cal, data.y_cal)
    x = x_all[:samples] if samples else x_all
    y = y_all[:len(x)]
    codes = logit_codes(build.model, build.stages, x)
    models = getattr(build, "core_models", None) or [s.model for s in build.stages]  # a DSE point's own cores
    result = simulate_pipeline(models, build.exit_configs, build.thresholds, x,
                               build.out_dir, build.board, input_format=build.stages[0].input_format,
                               logit_codes=codes, stage_rtls=getattr(build, "stage_rtls", None) or None,
                               cores=cores_from_resources_block(getattr(build, "resources", None)),
                               simulator=simulator, labels=y, **options)
    result.split = split
    return result
