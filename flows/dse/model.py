"""Analytic model of an early-exit design: resources, throughput, latency, FIFO depth, energy, accuracy.

A design fixes which exits are kept, their threshold codes, the parallelism P
of every stage and the deployment mode. Per stage the model needs a
:class:`StageCost`: LUT/FF as a linear function of P fitted from Yosys runs at
>= 2 values of P (conv stages) or one fully parallel run (dense stages, P is
ignored), DSP/BRAM, the core's pipeline latency and the output pixels of each
of its convolutions. Samples reach stage k with the probability that they
did not leave at an earlier kept exit, taken from routing real data through
the bit-exact exit-unit reference (``frontend.calibrate.route``).

Formulas (hand-checked in tests/flows/test_dse_model.py):
- II_k = max over the stage's conv layers of ceil(pixels / P_k) (1 for a dense stage);
- throughput = f_clk / max_k(II_k * reach_k): stage k only has to keep up with the
  fraction of samples reaching it; the FIFO in front of it absorbs bursts;
- latency of stage k: the fully parallel core's latency at P = all windows, else the folded
  core's ``folded_latency_base + II_k`` (every step, then kernel, gather and rest; measured on
  the probe cores); a sample leaving at exit k has crossed stages 1..k, the exit unit of every
  kept exit up to k (``exit_latency_cycles`` each), k - 1 inter-stage FIFOs (``hop_cycles``) and
  the output (``output_cycles``); mean latency is the exit-rate weighted path latency plus the
  mean queueing wait of a queue simulation over the test order at the bottleneck rate;
- energy/sample (modelled, never measured) = dynamic + static: dynamic = sum_k reach_k *
  w_per_klut * LUT_k/1000 * II_k / f_clk (the core is busy II_k cycles for each sample it handles)
  + the exit units alike; static = pl_static_w / throughput. w_per_klut and pl_static_w are the
  estimates of the board file's ``power:`` block (with their sources); a board without them gets
  no energy figures (None), never another board's.
Modes: "anytime" (every kept exit active, the final exit kept), "subnet" (one exit k kept,
stages 1..k deployed), "budgeted" (as anytime without requiring the final exit:
stages up to the last kept exit, whose cumulative latency must meet the bound).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MODES = ("anytime", "subnet", "budgeted")


@dataclass(frozen=True)
class Design:
    exits: tuple[int, ...]        # 1-based exit indices kept, increasing
    thresholds: tuple[int, ...]   # one threshold code per kept exit (the last one always decides)
    parallelism: tuple[int, ...]  # P per stage (parallel windows of each conv; ignored by dense stages)
    mode: str = "anytime"
    policy: str | None = None     # exit policy of every kept exit (None: the model's calibrated one)

    def validate(self, n_exits: int) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {MODES}")
        if not self.exits or list(self.exits) != sorted(set(self.exits)) or not 1 <= self.exits[0] \
                or self.exits[-1] > n_exits:
            raise ValueError(f"exits {self.exits} must be increasing indices in 1..{n_exits}")
        if len(self.thresholds) != len(self.exits):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.exits)} kept exits; give one each")
        if len(self.parallelism) != n_exits or min(self.parallelism) < 1:
            raise ValueError(f"parallelism {self.parallelism} needs one P >= 1 per stage ({n_exits} stages)")
        if self.mode == "anytime" and self.exits[-1] != n_exits:
            raise ValueError(f"anytime mode keeps the final exit {n_exits}; exits {self.exits} do not")
        if self.mode == "subnet" and len(self.exits) != 1:
            raise ValueError(f"subnet mode deploys one exit; got exits {self.exits}")

    @property
    def deployed_stages(self) -> int:
        return self.exits[-1]

    def to_dict(self) -> dict:
        out = {"exits": list(self.exits), "thresholds": list(self.thresholds),
               "parallelism": list(self.parallelism), "mode": self.mode}
        return out if self.policy is None else {**out, "policy": self.policy}


def fit_linear(samples: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (a, b) of value = a + b * P from (P, value) samples; one sample gives b = 0."""
    ps = np.asarray([p for p, _ in samples], dtype=np.float64)
    vs = np.asarray([v for _, v in samples], dtype=np.float64)
    if len(samples) == 0:
        raise ValueError("no (P, value) samples to fit; synthesise the stage at one P at least")
    if len(np.unique(ps)) == 1:
        return float(vs.mean()), 0.0
    b, a = np.polyfit(ps, vs, 1)
    return float(a), float(b)


@dataclass(frozen=True)
class StageCost:
    """Hardware figures of one stage as functions of its parallelism P."""

    conv_pixels: tuple[int, ...]          # output pixels of each conv layer (empty: dense-only stage)
    lut: tuple[float, float]              # (a, b): LUT(P) = a + b * P
    ff: tuple[float, float]
    base_latency_cycles: int              # cycles from the first input to the first output window
    dsp: float = 0.0
    bram: float = 0.0
    head_lut: float = 0.0                 # LUTs of the exit head removed when this exit is dropped
    head_ff: float = 0.0
    full_lut: float | None = None         # measured fully parallel core, used at P = all windows
    full_ff: float | None = None
    folded_latency_base: int | None = None  # folded core latency - II (constant in P), from the probes

    @property
    def max_parallelism(self) -> int:
        """P giving II = 1 (every window of the largest conv in parallel); 1 for a dense stage."""
        return max(self.conv_pixels, default=1)

    def ii(self, p: int) -> int:
        if not self.conv_pixels:
            return 1
        return max(math.ceil(n / min(p, n)) for n in self.conv_pixels)

    def effective_p(self, p: int) -> int:
        return min(p, self.max_parallelism) if self.conv_pixels else 1

    def _at(self, p: int, fit: tuple[float, float], full: float | None) -> float:
        q = self.effective_p(p)
        if full is not None and q == self.max_parallelism:
            return full
        return fit[0] + fit[1] * q

    def luts(self, p: int) -> float:
        return self._at(p, self.lut, self.full_lut)

    def ffs(self, p: int) -> float:
        return self._at(p, self.ff, self.full_ff)

    def latency(self, p: int) -> int:
        folded = self.conv_pixels and self.effective_p(p) < self.max_parallelism
        if folded and self.folded_latency_base is not None:
            return self.folded_latency_base + self.ii(p)
        return self.base_latency_cycles + self.ii(p) - 1


@dataclass(frozen=True)
class Platform:
    """Board figures the model needs (from boards/<name>.yaml)."""

    clock_mhz: float
    exit_unit_lut: float
    exit_unit_ff: float
    exit_latency_cycles: int
    w_per_klut: float | None = None     # power.w_per_klut (estimate); None: no energy figures
    pl_static_w: float | None = None    # power.pl_static_w (estimate); None: no energy figures
    hop_cycles: int = 0       # the FIFO between two stages (pipeline RTL, measured)
    output_cycles: int = 0    # exit router + output FIFO (pipeline RTL, measured)
    energy_sources: tuple[tuple[str, str], ...] = ()   # (figure, its source in the board file)

    @property
    def has_energy(self) -> bool:
        return self.w_per_klut is not None and self.pl_static_w is not None

    @classmethod
    def from_board(cls, board, exit_unit_lut: float, exit_unit_ff: float, exit_latency_cycles: int,
                   hop_cycles: int = 0, output_cycles: int = 0) -> Platform:
        """The board's clock and, when its ``power:`` block has them, w_per_klut and pl_static_w."""
        power = board.extra.get("power") or {}
        figures = {k: power[k] for k in ENERGY_FIGURES if isinstance(power.get(k), dict) and "value" in power[k]}
        if len(figures) < len(ENERGY_FIGURES):
            figures = {}
        w_per_klut, pl_static_w = (float(figures[k]["value"]) if figures else None for k in ENERGY_FIGURES)
        sources = tuple((f"power.{k}", str(figures[k].get("source", ""))) for k in figures)
        return cls(float(board.clock_mhz), exit_unit_lut, exit_unit_ff, exit_latency_cycles, w_per_klut,
                   pl_static_w, hop_cycles, output_cycles, sources)


ENERGY_FIGURES = ("w_per_klut", "pl_static_w")   # what the model's energy needs from the board's power: block


def route_kept(configs, codes: list[np.ndarray], design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(1-based exit index in the full model, predicted class) per sample, only the kept exits active."""
    from frontend.calibrate import route

    kept = [k - 1 for k in design.exits]
    at, predicted = route([configs[k] for k in kept], [codes[k] for k in kept], list(design.thresholds))
    return np.asarray(design.exits)[at - 1], predicted


def reach(exit_stage: np.ndarray, n_stages: int) -> np.ndarray:
    """Fraction of samples that enter each stage 1..n_stages (they leave at stage >= k)."""
    exit_stage = np.asarray(exit_stage)
    return np.asarray([(exit_stage >= k).mean() for k in range(1, n_stages + 1)], dtype=np.float64)


def queues(exit_stage: np.ndarray, iis: Sequence[int], input_interval: float) -> tuple[list[int], float]:
    """(largest queue in front of each stage, mean wait per sample in cycles) when samples arrive every
    ``input_interval`` cycles in the given order (stage k serves one sample per II_k cycles; entry 0 is
    the input FIFO). FIFOs are taken as deep enough: the queues say how deep that is."""
    arrivals = np.arange(len(exit_stage), dtype=np.float64) * input_interval
    depths = []
    wait = np.zeros(len(exit_stage))
    alive = np.ones(len(exit_stage), dtype=bool)
    for k, ii in enumerate(iis, start=1):
        alive &= np.asarray(exit_stage) >= k
        t_in = arrivals[alive]
        start = np.empty_like(t_in)
        free = -np.inf
        for i, t in enumerate(t_in):
            start[i] = max(t, free)
            free = start[i] + ii
        # queue just after each arrival j: j + 1 arrived minus those already started
        waiting = np.arange(1, len(t_in) + 1) - np.searchsorted(start, t_in, side="right")
        depths.append(int(waiting.max(initial=0)))
        wait[alive] += start - t_in
        arrivals = arrivals.copy()
        arrivals[alive] = start + ii  # the sample moves on when its last window is out
    return depths, float(wait.mean()) if len(wait) else 0.0



@dataclass(frozen=True)
class Prediction:
    lut: float
    ff: float
    dsp: float
    bram: float
    throughput_samples_per_s: float
    mean_latency_cycles: float
    max_latency_cycles: int
    energy_nj_per_sample: float | None        # modelled: dynamic + static; None without the board's figures
    accuracy: float
    ii: tuple[int, ...]
    reach: tuple[float, ...]
    exit_rates: tuple[float, ...]
    fifo_depths: tuple[int, ...]
    energy_dynamic_nj_per_sample: float | None = None   # busy cycles x power.w_per_klut (estimate)
    energy_static_nj_per_sample: float | None = None    # power.pl_static_w (estimate) / throughput

    def metrics(self) -> dict:
        keys = ("lut", "ff", "dsp", "bram", "throughput_samples_per_s", "mean_latency_cycles",
                "energy_nj_per_sample", "energy_dynamic_nj_per_sample", "energy_static_nj_per_sample", "accuracy")
        return {k: None if getattr(self, k) is None else float(getattr(self, k)) for k in keys}


def predict(design: Design, stages: Sequence[StageCost], platform: Platform, exit_stage: np.ndarray,
            correct: np.ndarray, with_fifo: bool = False) -> Prediction:
    """Model figures of ``design``; ``exit_stage``/``correct`` per sample come from :func:`route_kept`."""
    design.validate(len(stages))
    n = design.deployed_stages
    used = stages[:n]
    ps = design.parallelism[:n]
    iis = [s.ii(p) for s, p in zip(used, ps)]
    r = reach(exit_stage, n)
    f_hz = platform.clock_mhz * 1e6
    bottleneck = max(ii * rk for ii, rk in zip(iis, r))
    throughput = f_hz / bottleneck
    kept = set(design.exits)
    lut = sum(s.luts(p) - (0 if k in kept or k == n else s.head_lut) for k, (s, p) in enumerate(zip(used, ps), 1))
    ff = sum(s.ffs(p) - (0 if k in kept or k == n else s.head_ff) for k, (s, p) in enumerate(zip(used, ps), 1))
    lut += platform.exit_unit_lut * len(design.exits)
    ff += platform.exit_unit_ff * len(design.exits)
    path, t = [], 0
    for k, (s, p) in enumerate(zip(used, ps), start=1):
        t += s.latency(p) + (platform.hop_cycles if k > 1 else 0)
        t += platform.exit_latency_cycles if k in kept else 0
        path.append(t + platform.output_cycles)
    rates = np.asarray([(np.asarray(exit_stage) == k).mean() for k in range(1, n + 1)])
    depths, mean_wait = queues(exit_stage, iis, bottleneck)
    mean_latency = float(np.dot(rates, path)) + mean_wait
    dynamic = static = energy = None
    if platform.has_energy:
        busy_nj = [platform.w_per_klut * s.luts(p) / 1000.0 * ii / f_hz * 1e9 for s, p, ii in zip(used, ps, iis)]
        exit_nj = platform.w_per_klut * platform.exit_unit_lut / 1000.0 / f_hz * 1e9
        dynamic = float(np.dot(r, busy_nj)) + exit_nj * float(sum(r[k - 1] for k in design.exits))
        static = platform.pl_static_w / throughput * 1e9
        energy = dynamic + static
    depths = depths if with_fifo else []
    return Prediction(
        lut=float(lut), ff=float(ff), dsp=float(sum(s.dsp for s in used)), bram=float(sum(s.bram for s in used)),
        throughput_samples_per_s=float(throughput), mean_latency_cycles=mean_latency,
        max_latency_cycles=int(path[-1]), energy_nj_per_sample=energy, accuracy=float(np.mean(correct)),
        ii=tuple(iis), reach=tuple(float(x) for x in r), exit_rates=tuple(float(x) for x in rates),
        fifo_depths=tuple(depths), energy_dynamic_nj_per_sample=dynamic, energy_static_nj_per_sample=static)
