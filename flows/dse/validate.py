"""Build and measure selected DSE points: Yosys resources and pipeline RTL simulation.

Each point is built by ``point.point_cores``, as ``make synth DESIGN=`` builds it:
a stage whose P is below its window count gets its first conv folded, a stage
whose exit is dropped is built without its head (and gets no exit unit), and a
subnet's last stage outputs its logits only. Distinct cores are generated once.

Measured per point:
- lut, ff, dsp, bram: sum of the Yosys records of its stage cores and kept exit units (a fully
  parallel stage core with its head is the flow's own, whose record ``make synth`` wrote; every
  other core is synthesised here as a Dask job, cached by content);
- every core the flow did not check is streamed alone over the test set in cocotb, bit-exact
  against the Keras model it implements;
- throughput, mean latency, accuracy, energy: the multi-exit pipeline RTL (sim/pipeline) from
  these cores, streaming the test set in its real order (Verilator by default); throughput is
  the rate at which the pipeline accepted samples (first to last accept), the steady-state
  figure the model predicts; the whole-run rate with drain is recorded beside it; energy is
  modelled, not measured: the run's SAIF toggle counts and cycles times the board file's
  estimated coefficients, on the cores' Yosys records (Icarus writes no SAIF: null there).
Errors compare these with ``predicted_test``, the model with the same (test) split routed.

Every result is cached under a content key (flows/content_key.py) of all it depends on: the
Verilog of the cores and exit units, the inputs and expected outputs, the design, the board,
the resources the energy uses, the simulator and its version, and the code (RTL library and
generators, testbenches, runner, energy model, this module): a stale entry is never read.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flows.content_key import HARDWARE_LIBRARY, SIMULATION_CODE, ContentKey

from .point import TOLERANCES, acceptance_rate, prediction_errors


def validate_points(points: list[dict], stages, ctx, flow_full: list[dict], flow_units: dict[str, list[dict]],
                    x_test: np.ndarray, out: Path, rtl_dir: Path, cache_dir: Path, client, board,
                    say: Callable[[str], None] = lambda m: None,
                    tick: Callable[[int, int, str | None], None] = lambda done, total, best: None,
                    simulator: str = "verilator") -> dict:
    """Fill ``point['measured']`` for each point; returns the validation summary for front.json.

    tick(points measured, points, best measured throughput so far) for a progress bar."""
    from sim.dse.folded import simulate_folded_stage
    from sim.stage.verify import qkeras_codes

    from .jobs import SynthJob, run_jobs
    from .model import Design
    from .point import point_cores

    memo: dict = {}
    built = {pt["id"]: point_cores(stages, _design(pt, Design), rtl_dir, memo) for pt in points}
    own = {tag: pc for tag, pc in memo.items() if pc.folded or not pc.exit_kept or pc.model is not
           stages[pc.stage - 1].model}  # cores the flow did not build, synthesise and check itself
    inputs = _stage_input_codes(stages, x_test)
    jobs = {tag: SynthJob(tuple(str(f) for f in pc.core.verilog_files), pc.core.top, board.family)
            for tag, pc in memo.items()}  # content keys of every core; only `own` ones are synthesised
    sims, hits = {}, []
    for tag, pc in sorted(own.items()):
        codes = inputs[pc.stage - 1]
        want = qkeras_codes(pc.model, pc.core, codes)

        def stream(pc=pc, codes=codes, want=want, tag=tag) -> dict:
            say(f"core {tag}: stream the test set through it in cocotb")
            r = simulate_folded_stage(pc.core, codes, want, out / "sim" / tag, simulator=CORE_SIMULATOR)
            return {"mismatches": r.mismatches, "cycles": r.cycles, "vectors": r.vectors}

        key = core_stream_key(pc.core.verilog_files, codes, want)
        sims[tag] = _cached(cache_dir / "sims" / f"{key}.json", stream,
                            keep=lambda r: r["mismatches"] == 0, hits=hits)
    say(f"Yosys of {len(jobs)} stage cores on Dask")
    report = run_jobs([jobs[tag] for tag in own], cache_dir, client,
                      tick=lambda done, total: say(f"Yosys {done}/{total}") if done == total else None)
    failed = {tag: report.results[jobs[tag].key()]["error"] for tag in own
              if report.results[jobs[tag].key()].get("error")}
    if failed:
        tag, error = next(iter(failed.items()))
        raise RuntimeError(f"Yosys of core {tag} failed twice: {error}")
    summary = {"points": [], "lut_tolerance": TOLERANCES["lut"],
               "throughput_tolerance": TOLERANCES["throughput_samples_per_s"],
               "yosys_jobs": {"evaluated": report.evaluated, "cached": report.cached},
               "stage_sims": sims,
               "pipeline_simulator": simulator,
               "not_measured": [] if simulator == "verilator" else ["energy_nj_per_sample (Icarus, no SAIF)"]}
    f_hz = ctx.platform.clock_mhz * 1e6
    tag_of = {id(pc): tag for tag, pc in memo.items()}
    best = None
    tick(0, len(points), None)
    for done, pt in enumerate(points, start=1):
        cores = built[pt["id"]]
        recs, iis = [], []
        for pc in cores:
            tag = tag_of[id(pc)]
            if tag in own:
                recs.append(report.results[jobs[tag].key()])
                iis.append((sims[tag]["cycles"] - pc.core.latency_cycles) / sims[tag]["vectors"])
            else:
                recs.append(flow_full[pc.stage - 1])
                iis.append(1.0)
        synthesised = {f"stage_{pc.stage}": rec for pc, rec in zip(cores, recs)}
        units = flow_units[ctx.for_policy(pt.get("policy")).policy]  # Yosys records of this policy's units
        synthesised.update({f"exit_unit_{k}": units[k - 1] for k in pt["exits"]})
        measured = {key: float(sum(r[key] for r in synthesised.values())) for key in ("lut", "ff", "dsp", "bram")}
        fifo = pt.get("fifo_depth") or 4
        pipe_dir = out / "pipeline" / pt["id"]

        def run_pipeline(pt=pt, cores=cores, pipe_dir=pipe_dir, fifo=fifo, synthesised=synthesised) -> dict:
            say(f"pipeline RTL of point {pt['id']} over the test set ({simulator})")
            pipe = _simulate_pipeline(pt, stages, cores, ctx, x_test, pipe_dir, board, fifo, synthesised,
                                      simulator)
            run = pipe.scenarios["early_exit"]
            rate = acceptance_rate(pipe_dir / "sim" / "pipeline_records" / "early_exit.npz")
            return {"throughput_samples_per_s": float((rate or run.throughput) * f_hz),
                    "run_throughput_samples_per_s": float(run.whole_run_throughput * f_hz),  # fill and drain included
                    "mean_latency_cycles": float(run.mean_latency),
                    "energy_nj_per_sample": float(run.energy.per_sample_nj) if run.energy else None,  # modelled
                    "energy_parts_nj_per_sample": run.energy.per_sample_parts_nj() if run.energy else None,
                    "accuracy": float(run.accuracy),
                    "pipeline": {"mismatches": pipe.mismatches, "lost": pipe.lost, "duplicated": pipe.duplicated,
                                 "cycles": run.cycles, "samples": run.samples}}

        key = pipeline_key(pt, cores, ctx, x_test, board, fifo, synthesised, simulator, rtl_dir / "exit_units")
        ran = _cached(cache_dir / "pipelines" / f"{key}.json", run_pipeline,
                      keep=lambda r: not any(r["pipeline"][k] for k in ("mismatches", "lost", "duplicated")),
                      hits=hits)
        pipe = ran["pipeline"]
        measured.update({k: ran[k] for k in ("throughput_samples_per_s", "mean_latency_cycles",
                                             "energy_nj_per_sample", "energy_parts_nj_per_sample", "accuracy")})
        measured["split"] = "test"
        pt["measured"] = measured
        # like with like: the model with the test split routed, the split the pipeline streamed
        compared = "predicted_test" if pt.get("predicted_test") else "predicted"
        errors, flags = prediction_errors(pt[compared], measured)
        record = {"id": pt["id"], "compared_with": compared, "measured_stage_ii": iis, "fifo_depth": fifo,
                  "samples": len(x_test),
                  "run_throughput_samples_per_s": ran["run_throughput_samples_per_s"], "pipeline": pipe,
                  "lut_error": errors.get("lut"), "throughput_error": errors.get("throughput_samples_per_s"),
                  "latency_error": errors.get("mean_latency_cycles"), "flags": flags}
        if pipe["mismatches"] or pipe["lost"] or pipe["duplicated"]:
            record["flags"].append(f"pipeline RTL disagrees with the model's routing ({record['pipeline']})")
        summary["points"].append(record)
        for flag in record["flags"]:
            say(f"[red]point {pt['id']}: {flag}[/red]")
        if best is None or measured["throughput_samples_per_s"] > best[0]:
            best = (measured["throughput_samples_per_s"], f"{pt['id']}: {best_text(measured)}")
        tick(done, len(points), best[1])
    summary["simulations"] = {"run": len(sims) + len(points) - len(hits), "cached": len(hits)}
    return summary


CORE_SIMULATOR = "icarus"   # a core streamed alone: a small build, no SAIF needed

# what a simulation result depends on besides its inputs: the RTL library and generators, the testbenches,
# runner and energy model (sim/), the exit-unit reference, and this module and point.py (they make the record)
VALIDATION_CODE = (*HARDWARE_LIBRARY, *SIMULATION_CODE, "flows/dse/validate.py", "flows/dse/point.py")


def _simulation_key(purpose: str, simulator: str) -> ContentKey:
    return (ContentKey(purpose).text("simulator", simulator).tools(simulator, "cocotb", "cocotbext-axi")
            .code(VALIDATION_CODE))


def core_stream_key(verilog_files: list, codes: np.ndarray, want: list[np.ndarray]) -> str:
    """Content key of one core streamed alone: its Verilog, the input codes, the expected outputs, the
    simulator and the code (``VALIDATION_CODE``)."""
    key = _simulation_key("stage core stream", CORE_SIMULATOR).files(verilog_files).array("inputs", codes)
    for i, w in enumerate(want):
        key.array(f"expected {i}", w)
    return key.hexdigest()


def pipeline_key(pt: dict, cores: list, ctx, x_test: np.ndarray, board, fifo: int, synthesised: dict[str, dict],
                 simulator: str, unit_dir: Path) -> str:
    """Content key of one point's pipeline run: the design, the Verilog of its stage cores and exit units,
    the resources its energy uses, the board (clock, energy and power figures with their sources), the
    test stream (inputs, logit codes, labels), the simulator and the code (``VALIDATION_CODE``)."""
    from dataclasses import asdict

    from hardware.exit_unit.generate import write_unit

    from .model import Design

    policy = ctx.for_policy(pt.get("policy"))
    key = _simulation_key("pipeline run", simulator).text("design", _design(pt, Design).to_dict())
    key.text("fifo depth", fifo).text("board", asdict(board)).text("resources", synthesised)
    for pc in cores:
        key.files(pc.core.verilog_files)
    for k in pt["exits"]:  # the units simulate_pipeline generates for the kept exits
        key.text(f"exit {k} config", repr(policy.configs[k - 1]))
        key.files(write_unit(policy.configs[k - 1], "parallel", unit_dir / policy.policy / f"exit_{k}").files)
    key.array("x_test", x_test).array("labels", ctx.test_y)
    for k in pt["exits"]:
        key.array(f"test codes {k}", ctx.test_codes[k - 1][:len(x_test)])
    return key.hexdigest()


def _cached(path: Path, compute: Callable[[], dict], keep: Callable[[dict], bool], hits: list) -> dict:
    """compute() once per content key: a rerun with nothing changed reads the result back (and appends
    the path to ``hits``). Results ``keep`` rejects (a mismatch) are not stored: a rerun measures again."""
    if path.is_file():
        hits.append(path.name)
        return json.loads(path.read_text())
    value = compute()
    if keep(value):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, indent=1, allow_nan=False))
        tmp.replace(path)
    return value


def best_text(measured: dict) -> str:
    return (f"{measured['throughput_samples_per_s'] / 1e6:.1f} M samples/s measured, "
            f"{measured['lut']:,.0f} LUT, test accuracy {measured['accuracy']:.4f}")


def _design(pt: dict, design_cls):
    return design_cls(tuple(pt["exits"]), tuple(pt["thresholds"]), tuple(pt["parallelism"]), pt["mode"],
                      pt.get("policy"))


def _stage_input_codes(stages, x: np.ndarray) -> list[np.ndarray]:
    """Input codes of every stage on ``x``, chaining the QKeras stage models."""
    from hardware.stage.trace import input_format_of

    fmt = input_format_of(stages[0].model)
    codes = [fmt.quantize(x).reshape((len(x),) + tuple(int(d) for d in stages[0].model.input_shape[1:]))]
    for k, stage in enumerate(stages[:-1]):
        forwarded = stage.model.predict(fmt.to_real(codes[-1]).astype(np.float32), verbose=0, batch_size=512)[-1]
        fmt = stages[k + 1].input_format
        codes.append(fmt.to_codes(forwarded))
    return codes


def _simulate_pipeline(pt: dict, stages, cores: list, ctx, x_test: np.ndarray, out_dir: Path, board,
                       fifo_depth: int, synthesised: dict[str, dict], simulator: str):
    """The multi-exit pipeline RTL of this point's cores over the test set; a dropped exit has no unit."""
    from hardware.pipeline.generate import PipelineParams
    from sim.pipeline.simulate import simulate_pipeline

    n = len(x_test)
    kept = set(pt["exits"])
    depth = len(cores)
    codes = [ctx.test_codes[k - 1][:n] if k in kept else None for k in range(1, depth + 1)]
    policy_configs = ctx.for_policy(pt.get("policy")).configs
    configs = [policy_configs[k - 1] if k in kept else None for k in range(1, depth + 1)]
    thresholds = [pt["thresholds"][pt["exits"].index(k)] if k in kept else None for k in range(1, depth + 1)]
    return simulate_pipeline([pc.model for pc in cores], configs, thresholds, x_test, out_dir, board,
                             input_format=stages[0].input_format, logit_codes=codes,
                             stage_rtls=[pc.core for pc in cores], cores=synthesised, simulator=simulator,
                             extremes=False,
                             labels=ctx.test_y[:n], params=PipelineParams(fifo_depth=fifo_depth))
