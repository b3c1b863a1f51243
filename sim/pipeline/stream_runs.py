"""The scenarios of a streaming multi-exit pipeline, played by the HDL-driven harness (sim/stream).

A streaming pipeline takes a sample as a frame of hundreds of beats, so its scenarios cannot go
through tb_pipeline.py's per-beat Python drivers: the harness plays the frames from a file, holds
the threshold registers and ``exits_enable`` still, applies idle input and back-pressure from HDL,
and logs every handshake. Each run's records are written in tb_pipeline.py's format (``<name>.npz``
with ``accepted``, ``source_idle``, ``words``, ``first_valid``, ``handshake``; ``<name>.json`` with
``cycles`` and ``wall_seconds``), so ``simulate.analyse`` checks both kinds of pipeline alike.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from hardware.pipeline.generate import PipelineRtl
from sim.stream.harness import Port, StreamBench

MEASURED = ("early_exit", "exits_off")            # the runs whose switching activity is recorded (SAIF)
DA4ML_PRIMITIVES = ("shift_adder", "negative", "mux", "multiplier", "lookup_table")


def result_count(rtl: PipelineRtl) -> str:
    """Verilog expression: how many results an output beat carries (its lanes' valid bits)."""
    bits = [f"{{7'd0, m_axis_tdata[{i * rtl.lane_width + rtl.fields['valid'][0]}]}}" for i in range(rtl.lanes)]
    return " + ".join(bits)


def statics_of(rtl: PipelineRtl, scenario: dict) -> dict[str, int]:
    """The pipeline's static inputs for one scenario: exits_enable and, when the scenario writes them, the
    threshold registers (held written for the whole run; else they keep their reset values)."""
    values = {"exits_enable": int(scenario["exits_enable"])}
    write = scenario.get("write_thresholds", True)
    for k, code in enumerate(scenario["thresholds"], start=1):
        if code is not None:
            values[f"thr{k}_we"] = int(write)
            values[f"thr{k}_data"] = int(code) if write else 0
    return values


def run_stream_scenarios(rtl: PipelineRtl, first_core, x_codes: np.ndarray, scenarios: list[dict], sim_dir: Path,
                         record_dir: Path, simulator: str) -> tuple[list[float], dict[str, str], list]:
    """Run every scenario on one simulator build; (wall seconds per run, SAIF per measured scenario, the
    scenario groups each run played, as simulate_pipeline expects)."""
    from sim.stage.stream import frames_of

    n = len(x_codes)
    frames = frames_of(first_core, x_codes)
    widths = {"exits_enable": 1}
    for k, w in enumerate(rtl.threshold_widths, start=1):
        if w is not None:
            widths.update({f"thr{k}_we": 1, f"thr{k}_data": w})
    bench = StreamBench(rtl.top, list(rtl.files), inputs=[Port("s_axis", rtl.in_width)],
                        outputs=[Port("m_axis", rtl.out_width, has_last=False, count=result_count(rtl))],
                        statics=widths, untraced=tuple(f"*_{p}.v" for p in DA4ML_PRIMITIVES))
    verilator = simulator == "verilator"
    build_args = ["--trace-saif"] if verilator else []
    budget = 100 * n * max(rtl.frame_beats, 1) + 200_000   # a watchdog, far above any scenario's need
    totals, saif, runs = [], {}, []
    for sc in scenarios:
        test_args = []
        if verilator and sc["name"] in MEASURED:
            saif[sc["name"]] = str(sim_dir / f"{sc['name']}.saif")
            test_args = ["--trace-file", saif[sc["name"]]]
        start = time.perf_counter()
        played = frames if sc.get("order") is None else [frames[i] for i in sc["order"]]
        run = bench.run(sim_dir / "pipeline_stream", {"s_axis": played}, {"m_axis": n}, name=sc["name"],
                        idle={"s_axis": float(sc.get("in_pause", 0.0))}, stall={"m_axis": float(sc["out_pause"])},
                        statics=statics_of(rtl, sc), seed=int(sc.get("seed", 0)) + 1, simulator=simulator,
                        max_cycles=budget, build_args=build_args, test_args=test_args, waves=verilator)
        out = run.outputs["m_axis"]
        accepted = run.frame_accepted["s_axis"]
        first = int(accepted[0]) if accepted.size else 0
        last = int(out.accepted[-1]) if out.accepted.size else first
        np.savez(record_dir / f"{sc['name']}.npz", accepted=accepted,
                 source_idle=run.source_idle["s_axis"][run.source_idle["s_axis"] < last],
                 words=np.array([str(w) for w in out.data]), first_valid=out.first_valid, handshake=out.accepted)
        (record_dir / f"{sc['name']}.json").write_text(json.dumps(
            {"cycles": last - first + 1, "wall_seconds": run.wall_seconds, "timed_out": run.timed_out},
            allow_nan=False))
        totals.append(time.perf_counter() - start)   # the first also builds the simulator
        runs.append(([sc], sc["name"] if sc["name"] in saif else None))
    return totals, saif, runs
