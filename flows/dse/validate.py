"""Build and measure selected DSE points: Yosys resources and per-stage RTL simulation.

For each point, every deployed stage whose P is below its window count is
built as a folded stage (flows/stage_rtl/folded.py: folded conv -> gather ->
fully parallel rest) and synthesised (Dask jobs, cached); stages at P = all
windows are the flow's fully parallel cores, whose Yosys records and cocotb
II = 1 check ``make synth`` already made. Exit units: the flow's records.

Measured per point:
- lut, ff, dsp, bram: sum of the Yosys records of its stage cores and kept exit units;
- every folded stage streamed alone over the test set in cocotb, bit-exact against QKeras;
- throughput, mean latency, accuracy: the multi-exit pipeline RTL (sim/pipeline) built from
  these stage cores, streaming the test set in its real order (Icarus); throughput is the
  rate at which the pipeline accepted samples (first to last accept), the steady-state
  figure the model predicts; the whole-run rate with drain is recorded beside it.
A subnet point's last stage is wrapped to output its logits only (folded.exit_only).
Not measured: energy (null; the SAIF energy model needs Verilator).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

LUT_TOLERANCE = 0.15
THROUGHPUT_TOLERANCE = 0.10


def stage_io_codes(stages, x: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """(input codes, [output reals]) of every stage on ``x``, chaining the QKeras stage models."""
    from flows.stage_rtl.trace import input_format_of

    fmt = input_format_of(stages[0].model)
    codes = fmt.quantize(x)
    chain = []
    for k, stage in enumerate(stages):
        real = fmt.to_real(codes).astype(np.float32)
        outs = stage.model.predict(real, verbose=0, batch_size=512)
        outs = outs if isinstance(outs, list) else [outs]
        chain.append((codes, outs))
        if k + 1 < len(stages):
            fmt = stages[k + 1].input_format
            codes = fmt.to_codes(outs[-1])
    return chain


def validate_points(points: list[dict], stages, costs, ctx, flow_full: list[dict], flow_units: list[dict],
                    x_test: np.ndarray, out: Path, rtl_dir: Path, cache_dir: Path, client, board,
                    say: Callable[[str], None] = lambda m: None) -> dict:
    """Fill ``point['measured']`` for each point; returns the validation summary for front.json."""
    from sim.dse.folded import simulate_folded_stage

    from .costs import folded_stage_core
    from .jobs import SynthJob, run_jobs
    from .model import Design

    chain = stage_io_codes(stages, x_test)
    needed = sorted({(k, p) for pt in points for k, p in enumerate(pt["parallelism"][:pt["exits"][-1]], start=1)
                     if costs[k - 1].conv_pixels and p < costs[k - 1].max_parallelism})
    folded, sims = {}, {}
    for k, p in needed:
        say(f"folded stage {k} at P={p}: generate and simulate the test set")
        core = folded_stage_core(stages, k, p, rtl_dir)
        x_codes, outs = chain[k - 1]
        expected = [t.fmt.to_codes(o) for t, o in zip(core.outputs, outs)]
        sims[(k, p)] = simulate_folded_stage(core, x_codes, expected, out / "sim" / f"stage{k}_p{p}")
        folded[(k, p)] = core
    jobs = {kp: SynthJob(tuple(str(f) for f in c.verilog_files), c.top, board.family) for kp, c in folded.items()}
    say(f"Yosys of {len(jobs)} folded stage cores on Dask")
    report = run_jobs(list(jobs.values()), cache_dir, client)
    summary = {"points": [], "lut_tolerance": LUT_TOLERANCE, "throughput_tolerance": THROUGHPUT_TOLERANCE,
               "yosys_jobs": {"evaluated": report.evaluated, "cached": report.cached},
               "stage_sims": {f"{k}:{p}": {"mismatches": s.mismatches, "cycles": s.cycles, "vectors": s.vectors}
                              for (k, p), s in sims.items()},
               "not_measured": ["energy_nj_per_sample (Icarus, no SAIF)"]}
    f_hz = ctx.platform.clock_mhz * 1e6
    full_cores: dict[int, object] = {}
    for pt in points:
        n = pt["exits"][-1]
        recs, iis, cores = [], [], []
        for k, p in enumerate(pt["parallelism"][:n], start=1):
            if (k, p) in folded:
                rec = report.results[jobs[(k, p)].key()]
                if rec.get("error"):
                    raise RuntimeError(f"Yosys of folded stage {k} at P={p} failed twice: {rec['error']}")
                sim = sims[(k, p)]
                iis.append((sim.cycles - folded[(k, p)].latency_cycles) / sim.vectors)
                cores.append(folded[(k, p)])
            else:
                rec = flow_full[k - 1]
                iis.append(1.0)
                cores.append(_full_core(full_cores, stages, k, rtl_dir))
            recs.append(rec)
        recs += [flow_units[k - 1] for k in pt["exits"]]
        measured = {"lut": float(sum(x["lut"] for x in recs)), "ff": float(sum(x["ff"] for x in recs)),
                    "dsp": float(sum(x["dsp"] for x in recs)), "bram": float(sum(x["bram"] for x in recs)),
                    "throughput_samples_per_s": None, "mean_latency_cycles": None, "energy_nj_per_sample": None,
                    "accuracy": None}
        record = {"id": pt["id"], "measured_stage_ii": iis, "flags": [], "pipeline": None}
        say(f"pipeline RTL of point {pt['id']} over the test set (Icarus)")
        if n < len(stages):  # subnet: exit n is the final exit, its stage's forwarded tensor is dropped
            from flows.stage_rtl.folded import exit_only

            cores[-1] = exit_only(cores[-1], Path(rtl_dir) / "exit_only")
        design = Design(tuple(pt["exits"]), tuple(pt["thresholds"]), tuple(pt["parallelism"]), pt["mode"])
        depths = ctx.predict(design, with_fifo=True).fifo_depths
        fifo = _pow2_at_least(max(4, max(depths[1:], default=0) + 2))
        samples = len(x_test)
        record.update(fifo_depth=fifo, model_fifo_depths=list(depths), samples=samples)
        pipe = _simulate_pipeline(pt, stages[:n], cores, ctx, x_test[:samples], out / "pipeline" / pt["id"], board,
                                  fifo)
        run = pipe.scenarios["early_exit"]
        accept_rate = _acceptance_rate(out / "pipeline" / pt["id"] / "sim" / "pipeline_records" / "early_exit.npz")
        record["run_throughput_samples_per_s"] = float(run.throughput * f_hz)  # fill and drain included
        measured.update(throughput_samples_per_s=float((accept_rate or run.throughput) * f_hz),
                        mean_latency_cycles=float(run.mean_latency), accuracy=float(run.accuracy))
        record["pipeline"] = {"mismatches": pipe.mismatches, "lost": pipe.lost, "duplicated": pipe.duplicated,
                              "cycles": run.cycles, "samples": run.samples}
        if pipe.mismatches or pipe.lost or pipe.duplicated:
            record["flags"].append(f"pipeline RTL disagrees with the model's routing ({record['pipeline']})")
        pt["measured"] = measured
        pred = pt["predicted"]
        record["lut_error"] = measured["lut"] / pred["lut"] - 1.0
        if abs(record["lut_error"]) > LUT_TOLERANCE:
            record["flags"].append(f"LUT off by {100 * record['lut_error']:+.1f}% (limit {100 * LUT_TOLERANCE:.0f}%)")
        record["throughput_error"] = None
        if measured["throughput_samples_per_s"] is not None:
            err = measured["throughput_samples_per_s"] / pred["throughput_samples_per_s"] - 1.0
            record["throughput_error"] = err
            record["latency_error"] = measured["mean_latency_cycles"] / pred["mean_latency_cycles"] - 1.0
            if abs(err) > THROUGHPUT_TOLERANCE:
                record["flags"].append(f"throughput off by {100 * err:+.1f}% "
                                       f"(limit {100 * THROUGHPUT_TOLERANCE:.0f}%)")
        summary["points"].append(record)
        for flag in record["flags"]:
            say(f"[red]point {pt['id']}: {flag}[/red]")
    return summary


def _acceptance_rate(record: Path) -> float | None:
    """Samples per cycle the pipeline's input took, first to last accept (steady state, no drain)."""
    if not record.is_file():
        return None
    accepted = np.load(record)["accepted"]
    return (len(accepted) - 1) / float(accepted[-1] - accepted[0]) if len(accepted) > 1 else None


def _pow2_at_least(n: int) -> int:
    return 1 << max(1, (n - 1).bit_length())


# sim/pipeline/tb_pipeline.py waits at most 20 cycles per sample + 2000 for the results
def _full_core(cache: dict, stages, k: int, rtl_dir: Path):
    """The fully parallel stage core (as the flow builds it), generated once per run."""
    from flows.stage_rtl import build_stage_rtl

    if k not in cache:
        st = stages[k - 1]
        cache[k] = build_stage_rtl(st.model, st.input_format, Path(rtl_dir) / f"full_s{k}", f"dse_full_s{k}")
    return cache[k]


def _simulate_pipeline(pt: dict, stages, cores: list, ctx, x_test: np.ndarray, out_dir: Path, board,
                       fifo_depth: int):
    """The multi-exit pipeline RTL with these stage cores over the test set in order; a dropped exit's unit
    is set never to fire (same routing; its few cycles of decision latency stay in the measurement)."""
    from sim.pipeline.generate import PipelineParams
    from sim.pipeline.simulate import extreme_thresholds, simulate_pipeline

    n, depth = len(x_test), len(stages)
    codes = [c[:n] for c in ctx.test_codes[:depth]]
    configs = ctx.configs[:depth]
    never = extreme_thresholds(configs, codes, [0] * depth)["all_to_end"] if depth > 1 else [0]
    thresholds = [pt["thresholds"][pt["exits"].index(k)] if k in pt["exits"] else never[k - 1]
                  for k in range(1, depth + 1)]
    return simulate_pipeline([s.model for s in stages], configs, thresholds, x_test, out_dir, board,
                             input_format=stages[0].input_format, logit_codes=codes, stage_rtls=cores,
                             simulator="icarus", extremes=False, labels=ctx.test_y[:n],
                             params=PipelineParams(fifo_depth=fifo_depth))
