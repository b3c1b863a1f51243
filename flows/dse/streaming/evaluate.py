"""Predict a streaming design: resources, throughput, latency, energy (modelled) and accuracy.

Every figure is a model figure, computed without building the design:

* resources: each deployed stage core from the fitted cost models of its primitives
  (flows/dse/stream_costs: the stage's blocks under the plan the planner makes for its target II),
  plus one exit unit per kept exit and one conditional buffer per boundary after a kept exit (their
  own Yosys runs, cached);
* II per stage: the slowest block's cycles per frame;
* throughput: the buffers as queues (queue.tandem_trace) with the split's samples in their real order,
  at the board's clock;
* latency of a sample: the stages it crosses (their fill-to-last-beat latency), the exit units on its
  way, and the cycles its frames waited for a buffer slot or a busy stage (the trace);
* energy (modelled, never measured): each core busy II cycles for every sample it handles at the
  board's ``power.w_per_klut`` estimate, plus ``power.pl_static_w`` over the throughput;
* accuracy: the split routed through the bit-exact exit-unit reference with the kept exits only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .design import StreamCandidate
from .queue import READ_FRACTION, md1k, tandem_trace


@dataclass(frozen=True)
class CoreFigures:
    """One core as the model sees it (a stage core at a plan, an exit unit, a buffer)."""

    lut: float
    ff: float
    bram: float = 0.0               # RAMB36 equivalents
    dsp: float = 0.0
    ii_cycles: float = 1.0
    latency_cycles: float = 0.0
    forwarded_beats: int = 0        # beats per forwarded frame (0: nothing forwarded)
    forwarded_bits: int = 0         # bits per forwarded beat
    forwarded_parallelism: int = 1  # pixels per forwarded beat (the next stage's input P)
    plans: dict = field(default_factory=dict)

    def resources(self) -> dict[str, float]:
        return {"lut": self.lut, "ff": self.ff, "bram": self.bram, "dsp": self.dsp}


RESOURCES = ("lut", "ff", "bram", "dsp")


@dataclass
class Routing:
    """The exit policy configs and the logit codes of each split (selection = calibration, and test)."""

    configs: dict[str, list]                    # policy -> ExitUnitConfig per exit
    codes: dict[str, list[np.ndarray]]          # split -> logit codes per exit
    labels: dict[str, np.ndarray]               # split -> labels
    _cache: dict = field(default_factory=dict)

    def route(self, design: StreamCandidate, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(stage each sample leaves at, whether its class is right), only the design's exits active."""
        from frontend.calibrate import route

        key = (split, design.exits, design.thresholds, design.policies)
        if key not in self._cache:
            configs = [self.configs[p][k - 1] for k, p in zip(design.exits, design.policies)]
            codes = [self.codes[split][k - 1] for k in design.exits]
            at, predicted = route(configs, codes, list(design.thresholds))
            self._cache[key] = (np.asarray(design.exits)[at - 1], predicted == self.labels[split])
        return self._cache[key]


@dataclass
class StreamModel:
    """Everything the prediction needs about one model on one board.

    stage_core(k, headless, logits_only, p_in, target_ii) -> CoreFigures of stage k (1-based);
    exit_unit(policy, k) -> CoreFigures of exit k's unit under a policy;
    cond_buffer(width_bits, frame_beats, frames) -> (CoreFigures, frames it holds);
    decision_cycles(policy, k): exit k's unit latency (the frame waits in the buffer for it).
    """

    n_exits: int
    frame_pixels: int
    clock_mhz: float
    routing: Routing
    stage_core: Callable[..., CoreFigures]
    exit_unit: Callable[[str, int], CoreFigures]
    cond_buffer: Callable[[int, int, int], tuple[CoreFigures, int]]
    decision_cycles: Callable[[str, int], int]
    w_per_klut: float | None = None
    pl_static_w: float | None = None
    _cores: dict = field(default_factory=dict)

    def cores(self, d: StreamCandidate) -> list[CoreFigures]:
        """The deployed stage cores, stage 1 first (each one's input P is what the one before forwards)."""
        out, p = [], d.parallelism
        for k in range(1, d.deployed + 1):
            key = (k, k not in d.exits, k == d.deployed < self.n_exits, p, d.stage_ii[k - 1])
            if key not in self._cores:
                self._cores[key] = self.stage_core(k, key[1], key[2], p, d.stage_ii[k - 1])
            core = self._cores[key]
            out.append(core)
            p = core.forwarded_parallelism
        return out

    def predict(self, d: StreamCandidate, split: str = "selection", order=None,
                read_fraction: float = READ_FRACTION) -> dict:
        """``order``: a function of the exit stages giving the play order of the split's samples (the pipeline
        RTL's bursty scenario); None: their order in the split. ``read_fraction``: the queue model's one
        constant (queue.READ_FRACTION), varied only to show how much a figure depends on it."""
        cores = self.cores(d)
        exit_stage, correct = self.routing.route(d, split)
        if order is not None:
            play = order(exit_stage)
            exit_stage, correct = exit_stage[play], correct[play]
        units = {k: self.exit_unit(p, k) for k, p in zip(d.exits, d.policies)}
        policy_of = dict(zip(d.exits, d.policies))
        buffers, frames = [], []
        for k in range(1, d.deployed):
            if k in d.exits:
                c = cores[k - 1]
                buf, held = self.cond_buffer(c.forwarded_bits, c.forwarded_beats, d.buffer_frames[k - 1])
                buffers.append(buf)
                frames.append(held)
            else:
                frames.append(0)
        parts = cores + list(units.values()) + buffers
        res = {r: float(sum(getattr(c, r) for c in parts)) for r in RESOURCES}
        iis = [c.ii_cycles for c in cores]
        decisions = [self.decision_cycles(policy_of[k], k) if k in d.exits else 0 for k in range(1, d.deployed + 1)]
        trace = tandem_trace(exit_stage, iis, frames, decisions, read_fraction=read_fraction)
        f_hz = self.clock_mhz * 1e6
        throughput = trace.samples_per_cycle * f_hz
        reach = [float(np.mean(exit_stage >= k)) for k in range(1, d.deployed + 1)]
        # path latency without waiting + the cycles the trace says the sample waited
        path = np.cumsum([c.latency_cycles + (units[k].latency_cycles if k in units else 0)
                          for k, c in enumerate(cores, start=1)])
        unhindered = np.cumsum([ii + dec for ii, dec in zip(iis, decisions)])
        waited = (trace.result_cycles - trace.start_cycles) - unhindered[exit_stage - 1]
        latency = path[exit_stage - 1] + np.maximum(waited, 0.0)
        per_exit = {int(k): {"rate": float(np.mean(exit_stage == k)),
                             "latency_cycles": float(np.mean(latency[exit_stage == k])) if np.any(exit_stage == k)
                             else None} for k in d.exits}
        q = reach[1] if d.deployed > 1 else 0.0
        queue = None
        if d.deployed > 1 and frames[0]:
            m = md1k(q, iis[0], iis[1], frames[0])
            queue = {"model": "M/D/1/K (analytic, ATHEENA's; order-free, and a dropped frame frees its slot at once, "
                              "unlike cond_buffer.v's in-order RAM)", "q": q, "buffer_frames_held": frames[0],
                     "blocking": m.blocking, "stage2_utilisation": m.utilisation,
                     "throughput_samples_per_s": m.samples_per_cycle * f_hz,
                     "trace_blocked_fraction": trace.blocked_fraction, "trace_max_waiting": trace.max_waiting}
        out = {**res, "ii_cycles": iis, "buffer_frames_held": frames, "throughput_samples_per_s": throughput,
               "mean_latency_cycles": float(np.mean(latency)), "exits": per_exit, "reach": reach,
               "accuracy": float(np.mean(correct)), "queue": queue,
               "stage_lut": [c.lut for c in cores], "plans": [c.plans for c in cores],
               "energy_nj_per_sample": self._energy(cores, units, reach, throughput)}
        return out

    def _energy(self, cores, units, reach, throughput) -> float | None:
        """Modelled: w_per_klut x kLUT of each core x its busy time per sample + static / throughput."""
        if self.w_per_klut is None or self.pl_static_w is None:
            return None
        f_hz = self.clock_mhz * 1e6
        dynamic = sum(r * self.w_per_klut * c.lut / 1000 * c.ii_cycles / f_hz for r, c in zip(reach, cores))
        dynamic += sum(reach[k - 1] * self.w_per_klut * u.lut / 1000 * max(u.ii_cycles, 1) / f_hz
                       for k, u in units.items())
        return (dynamic + self.pl_static_w / throughput) * 1e9
