"""evaluate_pr: mapping choice, region estimate, schedules, break-even and outputs.

Steps, in order: board figures -> candidate mappings (region sized, capacity
checked) -> the objective (batched throughput) picks the mapping -> schedules of
the PR alternative (per-sample, batched, deadline-aware) and the all-resident
design -> batch sweep, break-even -> ``PrResult`` (``to_dict`` = the report's
``pr`` block). ``write_pr_outputs`` writes pr.json, pr_batch.png, dfx_project.tcl.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .inputs import (RESOURCES, ExitProfile, PrError, StageCost, device_capacity, power_spec, pr_inputs_from_report,
                     reconfig_spec)
from .region import Mapping, Region, candidate_mappings, fits, size_region, used_resources
from .schedule import SimResult, StageTiming, draw_exits, energy_per_sample, simulate

BREAK_EVEN_FRACTION = 0.8
RESIDENT_WINDOW = 64          # samples in flight in the all-resident pipeline (on-chip FIFOs)
DEFAULT_BATCH = 1024
BATCHES_PER_RUN = 4           # a simulated run holds at least this many batches
MAX_BATCH = 1 << 20           # largest batch tried when looking for the break-even point


@dataclass
class ScheduleRecord:
    name: str                          # per_sample | batched | deadline | all_resident
    batch_size: int
    throughput_samples_per_s: float
    mean_latency_s: float
    p99_latency_s: float
    reconfigs_per_1000: float
    energy_j_per_sample: float
    mapping: str = ""
    deadline_s: float | None = None


@dataclass
class PrResult:
    board: str
    part: str
    clock_mhz: float
    port: str
    port_bytes_per_s: float
    margin: float
    samples: int
    mapping: dict
    region: Region
    all_resident_fits: bool
    schedules: list[ScheduleRecord]
    sweep: list[dict]
    break_even_batch: int | None
    break_even_note: str
    capacity: dict[str, float]
    resident_throughput: float      # all-resident design (the break-even reference, even when it does not fit)
    deadline_s: float | None = None
    notes: list[str] = field(default_factory=list)
    stages: list[StageCost] = field(default_factory=list)

    @property
    def partial_bitstream_bytes(self) -> int:
        return self.region.bitstream_bytes

    @property
    def reconfig_seconds(self) -> float:
        return self.region.reconfig_s

    def schedule(self, name: str) -> ScheduleRecord | None:
        return next((s for s in self.schedules if s.name == name), None)

    def to_dict(self) -> dict:
        return {
            "board": self.board, "part": self.part, "clock_mhz": self.clock_mhz,
            "port": self.port, "port_bytes_per_s": self.port_bytes_per_s, "margin": self.margin,
            "mapping": self.mapping, "region": self.region.to_dict(),
            "partial_bitstream_bytes": self.partial_bitstream_bytes, "reconfig_seconds": self.reconfig_seconds,
            "all_resident_fits": self.all_resident_fits, "capacity": self.capacity,
            "schedules": [asdict(s) for s in self.schedules],
            "break_even_batch": self.break_even_batch, "break_even_fraction": BREAK_EVEN_FRACTION,
            "break_even_note": self.break_even_note, "deadline_s": self.deadline_s,
            "resident_throughput_samples_per_s": self.resident_throughput,
            "sweep": self.sweep, "samples": self.samples, "notes": self.notes,
            "stages": [asdict(s) for s in self.stages],
        }

    def summary_lines(self) -> list[str]:
        """Markdown lines for the report's PR section."""
        lines = [*self.notes,
                 f"PR mapping: {self.mapping['pr']['name']} (resident stages {self.mapping['pr']['static_stages'] or '-'}, "
                 f"time-shared region: stages {self.mapping['pr']['region_stages']}); region "
                 f"{self.region.columns['clb']} CLB / {self.region.columns['dsp']} DSP / {self.region.columns['bram']} "
                 f"BRAM columns x {self.region.height} clock region(s), {self.region.frames} frames, "
                 f"{self.partial_bitstream_bytes:,} B partial bitstream, {1e3 * self.reconfig_seconds:.3f} ms over "
                 f"{self.port.upper()}.",
                 "", "| schedule | batch | samples/s | mean latency | p99 latency | reconfigs/1000 "
                 "| energy/sample (modelled) |",
                 "|---|---|---|---|---|---|---|"]
        for s in self.schedules:
            lines.append(f"| {s.name} | {s.batch_size} | {s.throughput_samples_per_s:,.0f} | "
                         f"{_fmt_s(s.mean_latency_s)} | {_fmt_s(s.p99_latency_s)} | {s.reconfigs_per_1000:.1f} | "
                         f"{1e6 * s.energy_j_per_sample:.2f} uJ |")
        lines += ["", self.break_even_note]
        return lines


def _fmt_s(t: float) -> str:
    return f"{1e3 * t:.3f} ms" if t >= 1e-3 else f"{1e6 * t:.2f} us"


def stage_timings(stages: list[StageCost], mapping: Mapping, clock_hz: float, dma_bytes_per_s: float,
                  dma_setup_s: float) -> list[StageTiming]:
    """Per-stage timing. In a PR mapping every stage run streams its inputs from DDR and its
    forwarded tensors back (one DMA run, ``dma_setup_s``); all resident, only stage 1 reads DDR
    and the stages are chained on chip in one continuous stream."""
    out = []
    for s in stages:
        core_ii, core_lat = s.ii_cycles / clock_hz, s.latency_cycles / clock_hz
        if mapping.is_pr:
            io = max(s.in_bytes, s.out_bytes) / dma_bytes_per_s
            out.append(StageTiming(core_lat + s.in_bytes / dma_bytes_per_s, max(core_ii, io), dma_setup_s))
        elif s.index == 1:
            out.append(StageTiming(core_lat + s.in_bytes / dma_bytes_per_s, max(core_ii, s.in_bytes / dma_bytes_per_s)))
        else:
            out.append(StageTiming(core_lat, core_ii))
    return out


class _Model:
    """Everything a simulation needs for one board and one set of stages."""

    def __init__(self, stages, exit_units, rates, samples, seed, board, clock_mhz, margin, spec, power):
        self.stages, self.exit_units, self.rates, self.samples, self.seed = stages, exit_units, rates, samples, seed
        self.exits = draw_exits(rates, samples, seed)
        self.board, self.clock_hz, self.margin, self.spec, self.power = board, clock_mhz * 1e6, margin, spec, power
        eu = {e.index: e.resources() for e in exit_units}
        self.stage_w = []
        for s in stages:
            res = {r: s.resources()[r] + eu.get(s.index, {}).get(r, 0) for r in RESOURCES}
            self.stage_w.append(power.dynamic_w(res, clock_mhz))
        self.static_w = power.pl_static_w + power.ps_w

    def exits_for(self, batch: int) -> np.ndarray:
        """At least `samples` samples and at least BATCHES_PER_RUN batches, so big batches are not one-offs."""
        n = max(self.samples, BATCHES_PER_RUN * batch)
        if n > self.exits.size:
            self.exits = draw_exits(self.rates, n, self.seed)
        return self.exits[:n]

    def timings(self, mapping: Mapping) -> list[StageTiming]:
        return stage_timings(self.stages, mapping, self.clock_hz, self.spec.dma_bytes_per_s, self.spec.dma_setup_s)

    def run(self, mapping: Mapping, region: Region | None, batch: int, per_sample: bool = False) -> SimResult:
        timings = self.timings(mapping)
        if not mapping.is_pr:
            return simulate(self.exits_for(1), timings, [None] * len(self.stages), 1, RESIDENT_WINDOW, 0.0,
                            pipelined=True)
        region_of = [mapping.region_of(s.index) for s in self.stages]
        window = 1 if per_sample or not mapping.static_stages else 2
        return simulate(self.exits_for(batch), timings, region_of, batch, window, region.reconfig_s)

    def record(self, name: str, mapping: Mapping, batch: int, sim: SimResult, deadline=None) -> ScheduleRecord:
        energy = energy_per_sample(sim, self.static_w, self.stage_w, self.power.reconfig_w)
        return ScheduleRecord(name=name, batch_size=batch, throughput_samples_per_s=sim.throughput,
                              mean_latency_s=sim.mean_latency, p99_latency_s=sim.p99_latency,
                              reconfigs_per_1000=sim.reconfigs_per_1000, energy_j_per_sample=energy,
                              mapping=mapping.name, deadline_s=deadline)


def _check_inputs(stages: list[StageCost], rates: ExitProfile) -> None:
    if len(stages) < 2:
        raise PrError(f"partial reconfiguration needs at least 2 stages to time-share a region, got {len(stages)}")
    if len(rates.rates) != len(stages):
        raise PrError(f"{len(rates.rates)} exit rates for {len(stages)} stages; give one rate per exit")
    if [s.index for s in stages] != list(range(1, len(stages) + 1)):
        raise PrError(f"stage indices {[s.index for s in stages]} must be 1..{len(stages)} in order")
    for s in stages:
        if s.latency_cycles <= 0 or s.ii_cycles <= 0:
            raise PrError(f"stage {s.index}: latency_cycles and ii_cycles must be positive")


def evaluate_pr(stages: list[StageCost], exit_units: list[StageCost], exit_rates: ExitProfile | list[float], board,
                clock_mhz: float | None = None, deadline_s: float | None = None, margin: float = 0.2,
                batch_sizes: list[int] | None = None, samples: int = 20000, batch_size: int = DEFAULT_BATCH,
                capacity_fraction: float = 1.0, region_budget: dict[str, float] | None = None,
                seed: int = 0, capacity: dict[str, float] | None = None) -> PrResult:
    """Evaluate the PR alternative (and the all-resident design) of a multi-exit network on a board.

    capacity_fraction < 1 shrinks the device (to exercise the PR path when all stages fit); > 1 models a
    hypothetical larger device of the same family (same frame and column figures), noted in the result;
    region_budget caps the reconfigurable region's resources ({lut, ff, dsp, bram}); capacity replaces
    some of the device's resources outright (e.g. a DSE's LUT budget: {"lut": 6650}).
    """
    rates = exit_rates if isinstance(exit_rates, ExitProfile) else ExitProfile(tuple(exit_rates))
    _check_inputs(stages, rates)
    spec, power = reconfig_spec(board), power_spec(board)
    clock_mhz = float(clock_mhz or board.clock_mhz)
    if not 0 < capacity_fraction <= 10:
        raise PrError(f"capacity_fraction {capacity_fraction} must be in (0, 10]")
    if deadline_s is not None and not deadline_s > 0:
        raise PrError(f"latency bound {deadline_s} s is impossible; give a positive p99 bound in seconds")
    capacity = {**{r: v * capacity_fraction for r, v in device_capacity(board).items()}, **(capacity or {})}
    batch_sizes = sorted(set(batch_sizes or [2 ** i for i in range(17)]) | {1, batch_size})
    if batch_sizes[0] < 1 or batch_sizes[-1] > MAX_BATCH:
        raise PrError(f"batch sizes must be in 1..{MAX_BATCH}; got {batch_sizes[0]}..{batch_sizes[-1]}")
    model = _Model(stages, exit_units, rates, samples, seed, board, clock_mhz, margin, spec, power)

    candidates, budget_misses, unplaceable = [], [], []
    for m in candidate_mappings(len(stages)):
        region = None
        if m.is_pr:
            try:
                region = size_region([s for s in stages if s.index in m.region_stages], spec, margin,
                                     width_scale=max(1.0, capacity_fraction))
            except PrError as exc:
                unplaceable.append(str(exc))
                continue
        if region is not None and region_budget:
            over = {r: (region.need[r], region_budget[r]) for r in region_budget if region.need[r] > region_budget[r]}
            if over:
                budget_misses.append((m, over))
                continue
        used = used_resources(m, stages, exit_units, spec, region)
        ok = fits(used, capacity)
        sim = model.run(m, region, batch_size) if ok else None
        candidates.append({"mapping": m, "region": region, "used": used, "fits": ok, "sim": sim})
    pr_fit = [c for c in candidates if c["mapping"].is_pr and c["fits"]]
    if not pr_fit:
        if budget_misses and not any(c["mapping"].is_pr for c in candidates):
            m, over = budget_misses[0]
            worst = ", ".join(f"{r} {need:g} > {cap:g}" for r, (need, cap) in over.items())
            raise PrError(f"region budget is smaller than the largest stage it must hold ({worst}, with "
                          f"{100 * margin:g} % margin); enlarge the region budget or split that stage")
        prs = [c for c in candidates if c["mapping"].is_pr]
        if not prs:
            big = max(stages, key=lambda s: s.lut)
            raise PrError(f"no partial-reconfiguration mapping fits {board.part}: {unplaceable[0]}; the largest "
                          f"stage (stage {big.index}) alone has {big.lut:,} LUT. Use a larger device, or smaller "
                          "stage cores (e.g. HLS with a higher reuse factor)")
        best = min(prs, key=lambda c: max(c["used"][r] / capacity[r] for r in RESOURCES))
        over = ", ".join(f"{r} {best['used'][r]:,.0f} > {capacity[r]:,.0f}" for r in RESOURCES
                         if best["used"][r] > capacity[r])
        big = max(stages, key=lambda s: s.lut)
        raise PrError(f"no partial-reconfiguration mapping fits {board.part}: the smallest, {best['mapping'].name} "
                      f"(region for stages {list(best['mapping'].region_stages)} sized for "
                      f"{best['region'].need['lut']:,.0f} LUT with {100 * margin:g} % margin, plus the static design "
                      f"and exit units), needs {over}; the largest stage (stage {big.index}) alone has {big.lut:,} LUT. "
                      "Use a larger device, or smaller stage cores (e.g. HLS with a higher reuse factor)")
    pr = max(pr_fit, key=lambda c: c["sim"].throughput)
    resident = candidates[0]
    fitting = [c for c in candidates if c["fits"]]
    chosen = max(fitting, key=lambda c: c["sim"].throughput)
    m, region = pr["mapping"], pr["region"]

    notes = []
    if capacity_fraction != 1:
        notes.append(f"Capacity-constrained what-if: device resources scaled to {100 * capacity_fraction:g} % of the "
                     f"{board.part} ({', '.join(f'{r} {capacity[r]:,.0f}' for r in RESOURCES)}).")
    if resident["fits"]:
        util = max(resident["used"][r] / capacity[r] for r in RESOURCES)
        notes.append(f"All {len(stages)} stages fit the {board.part} at once (at most {100 * util:.1f} % of a "
                     f"resource{'' if capacity_fraction == 1 else ' of the scaled capacity'}); "
                     "the all-resident design is the better choice, and the PR alternative is evaluated below "
                     "for comparison.")
    else:
        notes.append(f"Not all stages fit the {board.part}"
                     f"{'' if capacity_fraction == 1 else f' at {100 * capacity_fraction:g} % capacity'}; "
                     f"the {chosen['mapping'].name} mapping is chosen (highest throughput of those that fit).")

    per_sample = model.record("per_sample", m, 1, model.run(m, region, 1, per_sample=True))
    batched = model.record("batched", m, batch_size, pr["sim"])
    sweep_sims = {b: (pr["sim"] if b == batch_size else model.run(m, region, b)) for b in batch_sizes}
    sweep = [{"batch_size": b, "throughput_samples_per_s": s.throughput, "mean_latency_s": s.mean_latency,
              "p99_latency_s": s.p99_latency, "reconfigs_per_1000": s.reconfigs_per_1000} for b, s in sweep_sims.items()]
    schedules = [per_sample, batched]
    if deadline_s is not None:
        schedules.append(_deadline(model, m, region, sweep_sims, deadline_s))
    resident_sim = resident["sim"] or model.run(resident["mapping"], None, 1)
    ar = model.record("all_resident", resident["mapping"], 1, resident_sim)
    if resident["fits"]:
        schedules.append(ar)
    else:
        notes.append("The all-resident design does not fit; its throughput below is only the reference for "
                     "the break-even batch.")
    be_batch, be_note = _break_even(model, m, region, sweep_sims, ar.throughput_samples_per_s)
    mapping = {"chosen": chosen["mapping"].to_dict(), "pr": m.to_dict(), "all_resident_fits": resident["fits"],
               "candidates": [{**c["mapping"].to_dict(), "fits": c["fits"], "used": c["used"],
                               "throughput_samples_per_s": c["sim"].throughput if c["sim"] else None}
                              for c in candidates]}
    return PrResult(board=board.name, part=board.part, clock_mhz=clock_mhz, port=spec.port,
                    port_bytes_per_s=spec.port_bytes_per_s, margin=margin, samples=samples, mapping=mapping,
                    region=region, all_resident_fits=resident["fits"], schedules=schedules, sweep=sweep,
                    break_even_batch=be_batch, break_even_note=be_note, capacity=capacity,
                    resident_throughput=ar.throughput_samples_per_s, deadline_s=deadline_s,
                    notes=notes, stages=list(stages))


def _deadline(model: _Model, m: Mapping, region: Region, sims: dict[int, SimResult], bound: float) -> ScheduleRecord:
    ok = {b: s for b, s in sims.items() if s.p99_latency <= bound}
    if not ok:
        best_b = min(sims, key=lambda b: sims[b].p99_latency)
        raise PrError(f"no batch size meets the p99 latency bound {bound:g} s: the lowest p99 is "
                      f"{sims[best_b].p99_latency:.3g} s (batch {best_b}); raise the bound to at least that")
    b = max(ok, key=lambda b: ok[b].throughput)
    return model.record("deadline", m, b, ok[b], deadline=bound)


def _break_even(model: _Model, m: Mapping, region: Region, sims: dict[int, SimResult], resident_tp: float,
                ) -> tuple[int | None, str]:
    """Smallest batch from which the PR design reaches BREAK_EVEN_FRACTION of the all-resident throughput.

    Looked up in the sweep; past it, the steady-state estimate B >= r*R / (tau - rho) (r reconfigurations
    of R seconds per batch, rho seconds of region work per sample, tau = 1 / target) is simulated.
    """
    target = BREAK_EVEN_FRACTION * resident_tp
    pct = f"{100 * BREAK_EVEN_FRACTION:g} %"
    sizes = sorted(sims)
    hit = next((b for b in sizes if sims[b].throughput >= target), None)
    lo = max([b for b in sizes if hit is None or b < hit], default=0)
    beyond = ""
    if hit is None:
        rho, sigma, r = _steady_state(model, m)
        tau = 1.0 / target
        why = (f"the time-shared region needs {1e9 * rho:.1f} ns of work per sample (its stages run one after "
               f"another, each through DDR){'' if not m.static_stages else f' and the resident stages {1e9 * sigma:.1f} ns'}, "
               f"while the all-resident pipeline overlaps all stages on chip at {1e9 / resident_tp:.1f} ns per sample; "
               f"{pct} of it allows {1e9 * tau:.1f} ns")
        if rho >= tau or sigma > tau:
            return None, (f"The PR design never reaches {pct} of the all-resident throughput ({resident_tp:,.0f} "
                          f"samples/s), whatever the batch size: {why}, so even with reconfiguration fully amortised "
                          f"it stays at {100 * tau / max(rho, sigma) * BREAK_EVEN_FRACTION:.1f} % of it.")
        estimate = math.ceil(r * region.reconfig_s / (tau - rho))
        b = max(estimate, lo + 1)
        while b <= MAX_BATCH and model.run(m, region, b).throughput < target:
            lo, b = b, 2 * b
        if b > MAX_BATCH:
            return None, (f"The PR design does not reach {pct} of the all-resident throughput ({resident_tp:,.0f} "
                          f"samples/s) up to batch {MAX_BATCH:,}: {why}; the steady-state estimate was batch "
                          f"{estimate:,}.")
        hit, beyond = b, f" (beyond the plotted sweep; steady-state estimate {estimate:,})"
    while hit - lo > 1:                           # refine between the last miss and the first hit
        mid = (lo + hit) // 2
        if model.run(m, region, mid).throughput >= target:
            hit = mid
        else:
            lo = mid
    return hit, (f"From batch {hit:,} the PR design reaches {pct} of the all-resident throughput "
                 f"({resident_tp:,.0f} samples/s){beyond}.")


def _steady_state(model: _Model, m: Mapping) -> tuple[float, float, int]:
    """(region seconds per sample, busiest resident stage seconds per sample, reconfigurations per batch)."""
    timings = model.timings(m)
    reach = [model.rates.reach(s.index) for s in model.stages]
    rho = sum(r * t.interval_s for r, t, s in zip(reach, timings, model.stages) if s.index in m.region_stages)
    sigma = max([r * t.interval_s for r, t, s in zip(reach, timings, model.stages) if s.index in m.static_stages],
                default=0.0)
    if not m.static_stages:                     # nothing overlaps: one resource does everything
        rho, sigma = rho, 0.0
    return rho, sigma, len(m.region_stages)


# ---- outputs ----------------------------------------------------------------------

def plot_batch_sweep(result: PrResult, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = [r["batch_size"] for r in result.sweep]
    tp = [r["throughput_samples_per_s"] for r in result.sweep]
    p99 = [r["p99_latency_s"] for r in result.sweep]
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.plot(b, tp, "o-", color="tab:blue", label="PR throughput")
    ref = result.resident_throughput
    if ref:
        ax.axhline(ref, color="tab:green", ls="--",
                   label="all resident" + ("" if result.all_resident_fits else " (does not fit; reference)"))
        ax.axhline(BREAK_EVEN_FRACTION * ref, color="tab:green", ls=":", label=f"{100 * BREAK_EVEN_FRACTION:g} % of all resident")
    if result.break_even_batch:
        ax.axvline(result.break_even_batch, color="k", ls="-.", lw=1, label=f"break-even batch {result.break_even_batch}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size (samples)")
    ax.set_ylabel("throughput (samples/s)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(b, p99, "s-", color="tab:red", label="PR p99 latency")
    if result.deadline_s:
        ax2.axhline(result.deadline_s, color="tab:red", ls=":", label="p99 bound")
    ax2.set_yscale("log")
    ax2.set_ylabel("p99 latency (s)", color="tab:red")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    fig.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower center", ncol=3, frameon=False)
    ax.set_title(f"{result.board}: {result.mapping['pr']['name']} mapping, reconfiguration "
                 f"{1e3 * result.reconfig_seconds:.2f} ms ({result.port.upper()})", fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


SOURCES_FILE = "dfx_sources.json"   # what dfx_project.tcl beside it was built from


def write_pr_outputs(result: PrResult, out_dir: Path, stage_manifests: dict[int, Path | dict] | None = None,
                     exit_unit=None, run_vivado: bool = False) -> dict[str, Path]:
    """Write pr.json, pr_batch.png and dfx_project.tcl (+ the wrapper RTL and dfx_sources.json, what the
    project was built from) into out_dir; return the paths.

    stage_manifests: {stage index: hardware/stage ``stage.json``}; each region stage's core is then
    wrapped as a reconfigurable module (rtl/stage_<k>/stage_rm_<k>.v), each resident one as a static
    module (rtl/stage_<k>/stage_res_<k>.v). Without them the Tcl names those files as placeholders. exit_unit:
    a ``hardware.pr.static.StaticExitUnit`` (one generated exit unit shared by the region's stages; its
    decision is appended to every result). A project with placeholders never replaces one built from real
    sources: it goes to out_dir/placeholders/ instead (``paths["tcl"]`` says where).
    run_vivado: run the Tcl with ``vivado -mode batch`` when vivado is on PATH.
    """
    from hardware.pr.rm import rm_sources_from_manifests
    from .tcl import write_dfx_project

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    needed = result.mapping["pr"]["static_stages"] + result.mapping["pr"]["region_stages"]
    if stage_manifests:
        absent = [k for k in needed if k not in stage_manifests]
        if absent:
            raise PrError(f"no stage RTL manifest for stage(s) {sorted(absent)}; pass stage.json of every stage")
    complete = bool(stage_manifests) and exit_unit is not None
    dfx_dir = out_dir if complete or _replaceable(out_dir) else out_dir / "placeholders"
    if dfx_dir != out_dir:
        result.notes.append(f"the DFX project of these figures names placeholder sources (no stage RTL manifests or "
                            f"exit unit given), so it went to {dfx_dir}; {out_dir / 'dfx_project.tcl'}, built from "
                            "the real stage RTL, is kept")
    stage_sources = None
    if stage_manifests:
        stage_sources = rm_sources_from_manifests({k: stage_manifests[k] for k in needed}, dfx_dir / "rtl",
                                                  resident=tuple(result.mapping["pr"]["static_stages"]))
    paths = {"json": out_dir / "pr.json", "plot": out_dir / "pr_batch.png"}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    plot_batch_sweep(result, paths["plot"])
    paths["tcl"] = write_dfx_project(result, dfx_dir, stage_sources=stage_sources, exit_unit=exit_unit,
                                     run_vivado=run_vivado)
    paths["sources"] = dfx_dir / SOURCES_FILE
    paths["sources"].write_text(json.dumps(_sources_record(stage_manifests, exit_unit, complete), indent=2) + "\n")
    tmp.replace(paths["json"])
    return paths


def _replaceable(out_dir: Path) -> bool:
    """Whether a project with placeholders may go into out_dir: none there yet, or one with placeholders too
    (a dfx_project.tcl without a record of its sources counts as built from real ones)."""
    if not (out_dir / "dfx_project.tcl").is_file():
        return True
    record = out_dir / SOURCES_FILE
    return record.is_file() and not json.loads(record.read_text()).get("complete")


def _sources_record(stage_manifests: dict | None, exit_unit, complete: bool) -> dict:
    unit = None
    if exit_unit is not None:
        unit = {**asdict(exit_unit), "files": [str(f) for f in exit_unit.files]}
    return {"complete": complete,
            "stage_manifests": {str(k): (v if isinstance(v, dict) else str(v))
                                for k, v in (stage_manifests or {}).items()},
            "exit_unit": unit}


def synth_sources(out_dir: Path, report: dict) -> tuple[dict[int, Path | dict] | None, object]:
    """(stage manifests, StaticExitUnit) that `make synth` built the DFX project from, for `make pr` to reuse:
    from out_dir/dfx_sources.json, else the stage manifests beside the report's stage RTL (``rtl_dir``).
    Entries whose files are gone are left out (None when nothing is left)."""
    from hardware.pr.static import StaticExitUnit

    record_path = Path(out_dir) / SOURCES_FILE
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    manifests: dict[int, Path | dict] = {}
    for k, m in (record.get("stage_manifests") or {}).items():
        if isinstance(m, dict) or Path(m).is_file():
            manifests[int(k)] = m if isinstance(m, dict) else Path(m)
    if not manifests:
        for stage in report.get("stages") or []:
            manifest = Path(stage.get("rtl_dir") or "") / "stage.json"
            if stage.get("rtl_dir") and manifest.is_file():
                manifests[int(stage["index"])] = manifest
    unit = record.get("exit_unit")
    exit_unit = None
    if unit and all(Path(f).is_file() for f in unit["files"]):
        exit_unit = StaticExitUnit(**{**unit, "files": [Path(f) for f in unit["files"]]})
    return manifests or None, exit_unit


def pr_block(report: dict, out_dir: str | Path, deadline_s: float | None = None,
             stage_manifests: dict[int, Path | dict] | None = None, exit_unit=None, **options) -> dict:
    """The report's ``pr`` block from a report dict (writing the outputs into out_dir).

    When PR cannot be evaluated (no resources yet, nothing fits, impossible bound) the block is
    ``{"error": <the one-line reason>}`` so the report still says why.
    """
    from boards import load_board

    try:
        stages, exit_units, rates, board_name = pr_inputs_from_report(report)
        board = options.pop("board", None) or load_board(board_name or "pynq-z2")
        result = evaluate_pr(stages, exit_units, rates, board, clock_mhz=report.get("clock_mhz"),
                             deadline_s=deadline_s, **options)
        paths = write_pr_outputs(result, Path(out_dir), stage_manifests=stage_manifests, exit_unit=exit_unit)
    except PrError as exc:
        return {"error": str(exc)}
    return {**result.to_dict(), "files": {k: str(v) for k, v in paths.items()}}


def make_pr(report_json_path: str | Path, out_dir: str | Path, deadline_s: float | None = None,
            capacity_fraction: float = 1.0, region_budget: dict[str, float] | None = None,
            margin: float = 0.2, board=None, stage_manifests: dict[int, Path | dict] | None = None,
            exit_unit=None) -> PrResult:
    """CLI entry: read report.json (after `make synth`), evaluate PR, write the outputs into out_dir.

    Without stage_manifests / exit_unit, the stage RTL and exit unit `make synth` built the DFX project
    from are reused (``synth_sources``), so the project stays as complete as synth wrote it."""
    from boards import load_board

    path = Path(report_json_path)
    if not path.is_file():
        raise PrError(f"{path} does not exist; run `make synth BOARD=...` first")
    try:
        report = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PrError(f"{path} is not a report.json (not JSON); rerun `make synth BOARD=...`") from None
    stages, exit_units, rates, board_name = pr_inputs_from_report(report)
    board = board or load_board(board_name or "pynq-z2")
    result = evaluate_pr(stages, exit_units, rates, board, clock_mhz=report.get("clock_mhz"), deadline_s=deadline_s,
                         margin=margin, capacity_fraction=capacity_fraction, region_budget=region_budget)
    reused_manifests, reused_unit = synth_sources(Path(out_dir), report)
    write_pr_outputs(result, Path(out_dir), stage_manifests=stage_manifests or reused_manifests,
                     exit_unit=exit_unit or reused_unit)
    return result
