"""`make exit-unit`: generate, verify in cocotb and cost every exit-unit variant.

Ordered steps, one record per unit: write the Verilog (``generate``), run the
cocotb suite (``verify.simulate``), synthesise with Yosys (``flows.yosys``),
then write ``cost.json`` and ``cost.md`` in the build folder.
"""
from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from hardware.exit_unit.generate import VARIANTS, GeneratedUnit, write_unit
from exit_unit.accuracy import confidence_error
from exit_unit.reference import POLICIES, ExitUnitConfig
from exit_unit.verify import exhaustive_vectors, random_vectors, simulate, threshold_batches
from frontend.fixedpoint import FixedFormat

MAIN_FORMAT = FixedFormat(16, 9)   # sfixed<16,7>: the example model's exit logits
SMALL_FORMAT = FixedFormat(4, 1)   # exhaustive configuration: 3 classes x 4-bit logits
FLOORS = {"margin": {"lut": 600, "dsp": 0, "bram": 0}, "max_prob": {"lut": 1500}}
MAX_LATENCY, MAX_LUT_LEVELS = 6, 12
SERIAL_VECTOR_DIVISOR = 5


@dataclass
class CostRecord:
    policy: str
    variant: str
    classes: int
    width: int
    frac: int
    top: str
    lut: int
    ff: int
    carry4: int
    dsp: int
    bram: float
    lut_levels: int
    latency_cycles: int
    ii: int
    vectors_checked: int
    mismatches: int
    exhaustive: bool
    simulator: str
    max_error_vs_float: float | None = None
    synth_seconds: float = 0.0
    sim_seconds: float = 0.0


def unit_configs() -> list[tuple[ExitUnitConfig, str, bool]]:
    """(config, variant, exhaustive) for every unit the flow builds."""
    out = []
    for policy in POLICIES:
        for variant in VARIANTS:
            out.append((ExitUnitConfig(10, MAIN_FORMAT, policy), variant, False))
    for policy in POLICIES:
        for variant in VARIANTS:
            out.append((ExitUnitConfig(3, SMALL_FORMAT, policy), variant, True))
    return out


def make_exit_unit(build_dir: Path = Path("build/exit_unit"), simulator: str = "verilator", vectors: int = 100_000,
                   quick: bool = False) -> Path:
    """Generate, verify and cost every unit; return the path of cost.json."""
    from rich.console import Console

    console = Console()
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        vectors = min(vectors, 2000)
    jobs = unit_configs()
    units: list[GeneratedUnit] = []
    for cfg, variant, _ in jobs:
        units.append(write_unit(cfg, variant, build_dir / "rtl"))
    console.print(f"[bold]exit unit[/]: generated {len(units)} units in {build_dir / 'rtl'}")

    from flows.yosys import synth_xilinx

    pool = ThreadPoolExecutor(max_workers=2)   # Yosys runs in subprocesses beside the simulations
    synths = {u.top: pool.submit(synth_xilinx, u.files, u.top, log_path=build_dir / "yosys" / f"{u.top}.log",
                                 work_dir=build_dir / "yosys" / u.top) for u in units}
    records = []
    for (cfg, variant, exhaustive), unit in zip(jobs, units):
        # serial units take C beats per sample: a tenth of the vectors costs the same simulation time
        count = vectors if variant == "parallel" else max(2000, vectors // SERIAL_VECTOR_DIVISOR)
        z = exhaustive_vectors(cfg) if exhaustive else random_vectors(cfg, count)
        vs = threshold_batches(cfg, z, batches=3 if exhaustive else 8, repeat=exhaustive)
        start = time.time()
        sim = simulate(unit, vs, build_dir / "sim" / unit.top, simulator=simulator, stall=0.3)
        sim_s = time.time() - start
        console.print(f"  {unit.top:40s} {sim.vectors_checked:7d} vectors, {sim.mismatches} mismatches "
                      f"({simulator}, {sim_s:.0f} s)")
        res = synths[unit.top].result()
        records.append(CostRecord(
            policy=cfg.policy, variant=variant, classes=cfg.classes, width=cfg.logit.width, frac=cfg.logit.frac,
            top=unit.top, lut=res.lut, ff=res.ff, carry4=res.carry4, dsp=res.dsp, bram=res.bram,
            lut_levels=res.lut_levels, latency_cycles=unit.latency_cycles, ii=unit.ii,
            vectors_checked=sim.vectors_checked, mismatches=sim.mismatches, exhaustive=exhaustive,
            simulator=simulator, max_error_vs_float=confidence_error(cfg, extra=z).max_error, synth_seconds=res.seconds,
            sim_seconds=round(sim_s, 1)))
    pool.shutdown()
    out = build_dir / "cost.json"
    out.write_text(json.dumps([asdict(r) for r in records], indent=1, allow_nan=False))
    (build_dir / "cost.md").write_text(cost_markdown(records))
    console.print(f"[bold]exit unit[/]: cost table in {out} and {build_dir / 'cost.md'}")
    return out


def floor_notes(r: CostRecord) -> list[str]:
    """Which floors of the issue a 10-class x 16-bit parallel record misses (empty: all met)."""
    missed = []
    if r.variant != "parallel" or r.classes != 10 or r.width != 16:
        return missed
    for key, limit in FLOORS.get(r.policy, {}).items():
        if getattr(r, key) > limit:
            missed.append(f"{key} {getattr(r, key)} > {limit}")
    if r.latency_cycles > MAX_LATENCY:
        missed.append(f"latency {r.latency_cycles} > {MAX_LATENCY}")
    if r.lut_levels > MAX_LUT_LEVELS:
        missed.append(f"LUT levels {r.lut_levels} > {MAX_LUT_LEVELS}")
    return missed


def cost_markdown(records: list[CostRecord]) -> str:
    head = ("| policy | variant | classes x bits | LUT | FF | CARRY4 | DSP | BRAM | LUT levels | latency | II "
            "| vectors | mismatches | max err vs float | floors |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    rows = []
    for r in records:
        floors = "" if r.variant != "parallel" or r.classes != 10 else ("; ".join(floor_notes(r)) or "met")
        err = "" if r.max_error_vs_float is None else f"{math.ceil(r.max_error_vs_float * 1e4) / 1e4:.4f}"  # a bound
        rows.append(f"| {r.policy} | {r.variant} | {r.classes} x {r.width}{' (exhaustive)' if r.exhaustive else ''} "
                    f"| {r.lut} | {r.ff} | {r.carry4} | {r.dsp} | {r.bram:g} | {r.lut_levels} | {r.latency_cycles} "
                    f"| {r.ii} | {r.vectors_checked} | {r.mismatches} | {err} | {floors} |")
    note = ("\nYosys `synth_xilinx -family xc7`; LUT levels = most LUTs on a path between registers "
            "(CARRY4/MUXF not counted). Latency in cycles from the (last) input beat to the decision. "
            "max err vs float: worst |confidence - float64 value| over the whole confidence range "
            "(exit_unit/accuracy.py; every input for the exhaustive units), rounded up.\n")
    return head + "\n".join(rows) + "\n" + note
