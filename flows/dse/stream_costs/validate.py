"""Validation of the cost models on whole streaming stages: predicted vs Yosys resources, predicted II vs
the frame interval the stage RTL actually sustains.

    python -m flows.dse.stream_costs validate          # LeNet (examples/lenet.yaml), LENET_CASES
    python -m flows.dse.stream_costs validate --cases 1:784:1,2:3136:1 --sim

For every (stage, target II, P): plans from ``plan_stage_with_costs``, ``predict_stage``, then the
stage is built (``build_stream_stage``) and synthesised as a Yosys job (flows/dse/jobs.py, cached by
its Verilog). With ``simulate``, it is also played frame after frame through the stream harness
(sim/stage/stream, no idle input cycles, no output stalls): the steady-state frame interval is the
median spacing of the exit's logits beats after the first two frames, the latency the first frame's
first input beat to its last output beat. Results go to ``<out>/validation.json`` and ``validation.md``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontend.ir import StageIR
from hardware.stream_stage import build_stream_stage
from hardware.stream_stage.plan import LayerPlan

from ..jobs import SynthJob, run_jobs
from .costs import StreamCosts
from .planner import plan_stage_with_costs
from .predict import StagePrediction, predict_stage

FRAMES = 6
# (stage index, target II, P): stage 1 at the input rate with one, two and four pixels per beat, stage 2
# from the input rate to 8x slower, and read at the two pixels per beat stage 1 at P = 4 forwards
LENET_CASES = ((1, 784, 1), (1, 392, 2), (1, 196, 4), (2, 784, 1), (2, 1568, 1), (2, 3136, 1), (2, 6272, 1),
               (2, 1568, 2), (2, 3136, 2))


@dataclass
class Measured:
    yosys: dict
    interval_cycles: float | None
    latency_cycles: int | None
    sim_seconds: float | None


def plan_text(plans: dict[str, LayerPlan]) -> str:
    return ", ".join(f"{k}: {p.impl}" + (f" {p.simd}x{p.pe}" if p.impl == "mvau" else "") for k, p in plans.items())


def random_frames(ir: StageIR, frames: int, seed: int = 0) -> np.ndarray:
    """In-range input codes (the stages' timing does not depend on the values)."""
    fmt = ir.input_format
    rng = np.random.default_rng(seed)
    return rng.integers(fmt.min_code, fmt.max_code + 1, (frames, *ir.input_shape))


def measure_timing(st, ir: StageIR, build_dir: Path, simulator: str, frames: int = FRAMES) -> tuple[float, int, float]:
    """(steady-state frame interval, first frame's latency, wall seconds) of a built stage."""
    from sim.stage.stream import bench, frames_of

    tb = bench(st)
    expect = {p.prefix: frames for p in tb.outputs}
    x = random_frames(ir, frames)
    run = tb.run(build_dir, {"s_axis": frames_of(st, x)}, expect, name="timing", seed=1, simulator=simulator,
                 max_cycles=4 * frames * max(st.ii_cycles, st.input_beats) + 100_000)
    if run.timed_out:
        raise RuntimeError(f"{st.name}: the stage did not deliver {frames} frames in time (deadlock?)")
    port = "m_logits" if st.has_logits else "m_fwd"
    out = run.outputs[port]
    ends = out.accepted if port == "m_logits" else out.accepted[out.last]
    start = run.frame_accepted["s_axis"]
    last_out = max(int(o.accepted[o.last][0] if p.has_last else o.accepted[0])
                   for p, o in ((p, run.outputs[p.prefix]) for p in tb.outputs))
    interval = float(np.median(np.diff(ends[2:]))) if len(ends) > 3 else float(np.diff(ends).mean())
    return interval, last_out - int(start[0]) + 1, run.wall_seconds


def prepare_case(ir: StageIR, target: int, costs: StreamCosts, out_dir: Path, parallelism: int = 1):
    """(plans, prediction, built stage, its Yosys job, predict seconds) of one (stage, target II, P)."""
    t = time.perf_counter()
    plans = plan_stage_with_costs(ir, target, costs, parallelism)
    pred = predict_stage(ir, plans, parallelism, costs)
    predict_seconds = time.perf_counter() - t
    tag = f"{ir.name}_ii{target}_p{parallelism}"
    st = build_stream_stage(ir, plans, out_dir / "rtl" / tag, tag, parallelism=parallelism)
    built = [(b.instance, b.kind, b.cycles_per_frame) for b in st.blocks]
    modelled = [(b.instance, b.kind, b.cycles_per_frame) for b in pred.blocks]
    if built != modelled:
        raise AssertionError(f"bug: {tag} builds blocks {built}, the model's are {modelled}")
    return plans, pred, st, SynthJob(tuple(str(f) for f in st.verilog_files), st.top), predict_seconds


def _err(model: float, measured: float) -> float | None:
    return None if not measured else round(100.0 * (model - measured) / measured, 2)


def row(stage: str, target: int, parallelism: int, plans, pred: StagePrediction, m: Measured,
        predict_seconds: float) -> dict:
    y = m.yosys
    return {"stage": stage, "target_ii": target, "parallelism": parallelism, "plans": {k: v.to_dict() for k, v in plans.items()},
            "plan_text": plan_text(plans), "predicted": pred.to_dict(), "predict_seconds": round(predict_seconds, 2),
            "yosys": {k: y[k] for k in ("lut", "ff", "lut_as_memory", "carry4", "dsp", "bram", "ramb18", "ramb36",
                                        "lut_levels", "seconds")},
            "lut_error_pct": _err(pred.lut, y["lut"]), "ff_error_pct": _err(pred.ff, y["ff"]),
            "bram_error_pct": _err(pred.bram, y["bram"]),
            "measured_interval_cycles": m.interval_cycles, "measured_latency_cycles": m.latency_cycles,
            "interval_error_pct": _err(pred.ii_cycles, m.interval_cycles) if m.interval_cycles else None,
            "sim_seconds": m.sim_seconds, "source": {"predicted": pred.source, "yosys": "yosys synth_xilinx",
                                                     "interval": "sim/stream harness (RTL)"}}


def markdown(rows: list[dict]) -> str:
    lines = ["| stage | target II | P | plan | LUT model | LUT Yosys | LUT error | FF model | FF Yosys | FF error "
             "| BRAM36 model / Yosys | DSP model / Yosys | II model | interval RTL | latency estimate / RTL |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|"]
    for r in rows:
        p, y = r["predicted"], r["yosys"]
        interval = f"{r['measured_interval_cycles']:g}" if r["measured_interval_cycles"] is not None else "-"
        latency = r["measured_latency_cycles"] if r["measured_latency_cycles"] is not None else "-"
        lines.append(f"| {r['stage']} | {r['target_ii']:,} | {r['parallelism']} | {r['plan_text']} | {p['lut']:,.0f} | "
                     f"{y['lut']:,} | {r['lut_error_pct']:+.1f} % | {p['ff']:,.0f} | {y['ff']:,} | "
                     f"{r['ff_error_pct']:+.1f} % | {p['bram']:g} / {y['bram']:g} | {p['dsp']} / {y['dsp']} | "
                     f"{p['ii_cycles']:,} | {interval} | {p['latency_cycles']:,} / {latency} |")
    return "\n".join(lines) + "\n"


def validate(irs: list[StageIR], costs: StreamCosts, out_dir: Path, cases=LENET_CASES, client=None,
             simulator: str = "icarus", simulate: bool = False, progress=print) -> list[dict]:
    """Every (stage index, target II, P) case predicted, built, synthesised (all Yosys jobs at once, on
    ``client``, cached) and compared; rows also written to validation.json / validation.md."""
    out_dir = Path(out_dir)
    prepared = []
    for index, target, parallelism in cases:
        ir = irs[index - 1]
        plans, pred, st, job, seconds = prepare_case(ir, target, costs, out_dir, parallelism)
        progress(f"{ir.name} II {target} P {parallelism}: {plan_text(plans)}; model LUT {pred.lut:.0f} "
                 f"({seconds:.1f} s to plan and predict)")
        prepared.append((ir, target, parallelism, plans, pred, st, job, seconds))
    report = run_jobs([c[6] for c in prepared], out_dir / "yosys", client,
                      tick=lambda done, total: progress(f"stages synthesised: {done}/{total}"))
    rows = []
    for ir, target, parallelism, plans, pred, st, job, seconds in prepared:
        record = report.results[job.key()]
        if record.get("error"):
            raise RuntimeError(f"{st.name}: Yosys failed: {record['error']}")
        interval = latency = sim_seconds = None
        if simulate:
            interval, latency, sim_seconds = measure_timing(st, ir, out_dir / "sim" / st.name, simulator)
        rows.append(row(ir.name, target, parallelism, plans, pred, Measured(record, interval, latency, sim_seconds),
                        seconds))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "validation.json").write_text(json.dumps(rows, indent=1, allow_nan=False))
    (out_dir / "validation.md").write_text(markdown(rows))
    return rows
