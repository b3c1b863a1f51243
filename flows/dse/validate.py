"""Build and measure selected DSE points: Yosys resources and per-stage RTL simulation.

For each point, every deployed stage whose P is below its window count is
built as a folded stage (flows/stage_rtl/folded.py: folded conv -> gather ->
fully parallel rest) and synthesised (Dask jobs, cached); stages at P = all
windows are the flow's fully parallel cores, whose Yosys records and cocotb
II = 1 check ``make synth`` already made. Exit units: the flow's records.

Measured per point:
- lut, ff, dsp, bram: sum of the Yosys records of its stage cores and kept exit units;
- throughput: clock / max_k(II_k * reach_k) with II_k measured by streaming the test set
  back to back through each folded stage in cocotb ((cycles - latency) / samples), and
  reach_k from routing the stage outputs the simulation produced;
- accuracy: routing of the simulated stages' logits (the flow's bit-exact cores elsewhere).
Not measured: latency and energy (null), the multi-stage pipeline RTL with folded
stages (sim/pipeline is not wired to folded stages yet).
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
                    x_test: np.ndarray, out: Path, rtl_dir: Path, cache_dir: Path, client, family: str,
                    say: Callable[[str], None] = lambda m: None) -> dict:
    """Fill ``point['measured']`` for each point; returns the validation summary for front.json."""
    from sim.dse.folded import simulate_folded_stage

    from .costs import folded_stage_core
    from .jobs import SynthJob, run_jobs

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
    jobs = {kp: SynthJob(tuple(str(f) for f in c.verilog_files), c.top, family) for kp, c in folded.items()}
    say(f"Yosys of {len(jobs)} folded stage cores on Dask")
    report = run_jobs(list(jobs.values()), cache_dir, client)
    summary = {"points": [], "lut_tolerance": LUT_TOLERANCE, "throughput_tolerance": THROUGHPUT_TOLERANCE,
               "yosys_jobs": {"evaluated": report.evaluated, "cached": report.cached},
               "stage_sims": {f"{k}:{p}": {"mismatches": s.mismatches, "cycles": s.cycles, "vectors": s.vectors}
                              for (k, p), s in sims.items()},
               "not_measured": ["mean_latency_cycles", "energy_nj_per_sample", "multi-stage pipeline RTL"]}
    f_hz = ctx.platform.clock_mhz * 1e6
    for pt in points:
        n = pt["exits"][-1]
        recs, iis, codes = [], [], [list(c) for c in ctx.test_codes]
        for k, p in enumerate(pt["parallelism"][:n], start=1):
            if (k, p) in folded:
                rec = report.results[jobs[(k, p)].key()]
                if rec.get("error"):
                    raise RuntimeError(f"Yosys of folded stage {k} at P={p} failed twice: {rec['error']}")
                sim = sims[(k, p)]
                iis.append((sim.cycles - folded[(k, p)].latency_cycles) / sim.vectors)
                codes[k - 1] = sim.outputs[0]
            else:
                rec = flow_full[k - 1]
                iis.append(1.0)
            recs.append(rec)
        recs += [flow_units[k - 1] for k in pt["exits"]]
        from .model import Design, reach, route_kept

        design = Design(tuple(pt["exits"]), tuple(pt["thresholds"]), tuple(pt["parallelism"]), pt["mode"])
        exit_stage, predicted = route_kept(ctx.configs, [np.asarray(c) for c in codes], design)
        r = reach(exit_stage, n)
        measured = {"lut": float(sum(x["lut"] for x in recs)), "ff": float(sum(x["ff"] for x in recs)),
                    "dsp": float(sum(x["dsp"] for x in recs)), "bram": float(sum(x["bram"] for x in recs)),
                    "throughput_samples_per_s": float(f_hz / max(ii * rk for ii, rk in zip(iis, r))),
                    "mean_latency_cycles": None, "energy_nj_per_sample": None,
                    "accuracy": float(np.mean(predicted == ctx.test_y))}
        pt["measured"] = measured
        pred = pt["predicted"]
        lut_err = measured["lut"] / pred["lut"] - 1.0
        thr_err = measured["throughput_samples_per_s"] / pred["throughput_samples_per_s"] - 1.0
        flags = [f"LUT off by {100 * lut_err:+.1f}% (limit {100 * LUT_TOLERANCE:.0f}%)"] if abs(lut_err) > LUT_TOLERANCE \
            else []
        if abs(thr_err) > THROUGHPUT_TOLERANCE:
            flags.append(f"throughput off by {100 * thr_err:+.1f}% (limit {100 * THROUGHPUT_TOLERANCE:.0f}%)")
        summary["points"].append({"id": pt["id"], "lut_error": lut_err, "throughput_error": thr_err,
                                  "measured_ii": iis, "flags": flags})
        for flag in flags:
            say(f"[red]point {pt['id']}: model {flag}[/red]")
    return summary
