"""Measured validation: design points built by the normal flow, exactly as ``make synth DESIGN=`` builds
them, one Dask job each, and their measured figures set beside the prediction.

A build runs the flow's command line in its own process (``python -m flows synth --design <point>``):
stage cores from the point's plans, each checked bit-exact against QKeras, Yosys on every core, the
multi-exit pipeline RTL over the test set in its real order (and, past two or more exits, in a bursty
order) on Verilator with
SAIF energy (modelled from the toggles). The measured record is cached under a content key of the
point file, the model file, the flow's code and RTL library, and the tool versions, so a rerun with
nothing changed reads it back and an interrupted run resumes with the builds it had not finished.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# what `make synth DESIGN=` runs: the flow without the DSE's own search and cost fits (nothing the build imports;
# a change there changes the point file, which the key covers)
FLOW_CODE = ("flows/*.py", "flows/dse/*.py", "flows/pr/**/*.py", "flows/vendor/**/*.py", "frontend/**/*.py",
             "hls_templates/**/*.py", "exit_unit/**/*.py")
SCENARIOS = "nominal,bursty"
# a design with one exit has no conditional buffer, so the order of its hard samples changes nothing: its
# bursty run measured nothing (the LeNet baseline's took 2 of its build's 8 minutes)
SINGLE_EXIT_SCENARIOS = "nominal"
# random inputs per stage core besides the test set (the flow's default: 10,000): the stage-core checks of the
# LeNet point with stage 2 at II 25,088 took 645 s of its build, about two thirds of it (by frame count) the
# 2,000 random frames it had then
RANDOM_VECTORS = 500


# what a point file says that the build does not read: the DSE's predictions (keying on them rebuilt all four
# LeNet points on a rerun, when the fits read back rounded from their cache moved the predictions' last digits)
NOT_BUILT_FROM = ("predicted", "predicted_test", "selected_on")


def scenarios_for(point: dict) -> str:
    """The pipeline scenarios a point's build simulates: the bursty order only where exits route samples."""
    return SCENARIOS if len(point["design"]["exits"]) > 1 else SINGLE_EXIT_SCENARIOS


def _point(point_file: Path) -> dict:
    import yaml

    return yaml.safe_load(Path(point_file).read_text())


def point_key(point_file: Path, model_file: Path) -> str:
    from flows.content_key import HARDWARE_LIBRARY, SIMULATION_CODE, ContentKey

    point = {k: v for k, v in _point(point_file).items() if k not in NOT_BUILT_FROM}
    return (ContentKey("dse streaming point build").text("point", point)
            .file(model_file, "model").code(HARDWARE_LIBRARY + SIMULATION_CODE + FLOW_CODE)
            .text("options", {"scenarios": scenarios_for(point), "random": RANDOM_VECTORS})
            .tools("yosys", "verilator", "da4ml", "tensorflow", "qkeras", "numpy").hexdigest())


def _measured(report: dict) -> dict:
    """The figures a point is judged on, from its report.json."""
    total = report["resources"]["total"]
    sim = report["sim"]
    ee = sim["early_exit"]
    bursty = (sim.get("scenarios") or {}).get("bursty") or {}
    exits = {str(e["index"]): {"samples": e["samples"], "latency_cycles": e["latency_cycles"]["mean"]}
             for e in sim["exits"]}
    return {"lut": total["lut"], "ff": total["ff"], "bram": total["bram"], "dsp": total["dsp"],
            "throughput_samples_per_s": ee["throughput_samples_per_s"],
            "throughput_bursty_samples_per_s": (bursty["throughput_samples_per_cycle"] * report["clock_mhz"] * 1e6
                                                if bursty.get("throughput_samples_per_cycle") else None),
            "mean_latency_cycles": ee["mean_latency_cycles"], "exits": exits,
            "energy_nj_per_sample": ee.get("energy_nj_per_sample"), "energy_basis": ee.get("energy_basis"),
            "accuracy_test": ee.get("accuracy", report["overall"]["accuracy"]),
            "mismatches": sim["mismatches"], "lost": sim["lost"], "duplicated": sim["duplicated"],
            "stages_bit_exact": all(s.get("rtl_bit_exact") for s in report["stages"]),
            "fmax_mhz_estimate": total.get("fmax_mhz_estimate"), "source": "make synth DESIGN= (Yosys, pipeline RTL)"}


def simulated_cycles(pick: dict, test_samples: int = 1000) -> float:
    """Cycles a point's build simulates, by its prediction (what orders the builds): every stage core
    checked on test + random frames at its II, then the pipeline's scenarios over the test set (cycles
    per sample at 100 MHz: only the order of the builds depends on it)."""
    pred = pick.get("predicted_test") or pick["predicted"]
    per_sample = 100e6 / pred["throughput_samples_per_s"]
    runs = 2 if len(pick.get("exits") or pick["design"].exits) > 1 else 1
    return (test_samples + RANDOM_VECTORS) * sum(pred["ii_cycles"]) + runs * test_samples * per_sample


def longest_first(todo: dict[str, dict]) -> list[str]:
    """The keys of the picks to build, the one that simulates most cycles first."""
    return sorted(todo, key=lambda key: -simulated_cycles(todo[key]))


def build_point(point_file: str, model_file: str, board: str, build_root: str, report_path: str,
                log_path: str) -> dict:
    """One point through the flow's command line (a Dask job): its measured record, or the error."""
    cmd = [sys.executable, "-m", "flows", "synth", "--design", point_file, "--model", model_file, "--board", board,
           "--build-root", build_root, "--no-hls", "--no-pr", "--no-board-top", "--rtl-random", str(RANDOM_VECTORS),
           "--pipeline-scenarios", scenarios_for(_point(Path(point_file)))]
    with open(log_path, "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[3])
    if done.returncode != 0:
        tail = Path(log_path).read_text().strip().splitlines()[-3:]
        return {"error": f"make synth DESIGN={point_file} failed (exit {done.returncode}): {' | '.join(tail)}",
                "log": log_path}
    return {**_measured(json.loads(Path(report_path).read_text())), "report": report_path, "log": log_path}


def validate(picks: list[dict], model_file: Path, board: str, build_root: Path, out: Path, client, say,
             tick) -> dict:
    """Build and measure every pick (``point_file`` and ``id`` set); each pick gets ``measured`` and
    ``errors_pct`` (predicted on the test split vs measured)."""
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    todo, cached = {}, 0
    for p in picks:
        key = point_key(Path(p["point_file"]), model_file)
        path = cache / f"point-{key}.json"
        if path.is_file():
            p["measured"] = json.loads(path.read_text())
            cached += 1
        else:
            todo[key] = p
    say(f"validation: {len(picks)} points, {cached} from the cache, {len(todo)} to build with make synth DESIGN=")
    tick("validate", cached, len(picks), None)
    model_root = build_root / Path(model_file).stem / board
    jobs = {}
    for key, p in todo.items():
        args = (p["point_file"], str(model_file), board, str(build_root),
                str(model_root / "designs" / p["id"] / "report.json"), str(out / "logs" / f"{p['id']}.log"))
        (out / "logs").mkdir(parents=True, exist_ok=True)
        jobs[key] = args
    if jobs:
        from dask.distributed import as_completed

        # longest first, so the slowest build does not start last on a free worker: submitted in that order
        # too, since the first submissions start on idle workers before the later ones (and their priority)
        # reach the scheduler
        futures = {client.submit(build_point, *jobs[key], key=f"point-{key}", pure=False,
                                 priority=int(simulated_cycles(todo[key]) // 1000)): key
                   for key in longest_first(todo)}
        done = cached
        for future in as_completed(futures):
            key = futures[future]
            record = future.result()
            todo[key]["measured"] = record
            if not record.get("error"):
                tmp = cache / f"point-{key}.tmp"
                tmp.write_text(json.dumps(record, indent=1, allow_nan=False))
                tmp.replace(cache / f"point-{key}.json")
            done += 1
            tick("validate", done, len(picks), None)
    for p in picks:
        m, pred = p.get("measured") or {}, p.get("predicted_test") or {}
        if m.get("error") or not m:
            p["errors_pct"] = None
            continue
        p["errors_pct"] = {k: 100.0 * (pred[k] - m[k]) / m[k]
                           for k in ("lut", "throughput_samples_per_s", "throughput_bursty_samples_per_s")
                           if pred.get(k) is not None and m.get(k)}
    return {"built": len(todo), "cached": cached, "scenarios": f"{SCENARIOS} ({SINGLE_EXIT_SCENARIOS} for a single-exit design: no buffer)",
            "random_vectors_per_stage": RANDOM_VECTORS}
