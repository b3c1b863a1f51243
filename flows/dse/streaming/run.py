"""The DSE of a model built from streaming stage cores (``make dse`` on e.g. examples/lenet.yaml).

Steps: the flow's front end (cached training, splits, calibration) -> cost models of the streaming
primitives fitted to Yosys probes, exit units and conditional buffers synthesised (Dask jobs, cached)
-> threshold candidates per kept-exit subset and policy (calibration split) -> every design of the space
predicted on the calibration split -> at the LUT budget: the chosen adaptive design, the no-exit
baseline (the same search, final exit alone) and the best subnet; the front; a sweep over budgets ->
partial reconfiguration at the smallest budget where the best design does not fit -> the chosen
design, two other front points and the baseline built with ``make synth DESIGN=`` and measured ->
front.json, dse.md, front.png, points/<id>.yaml.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

from .design import StreamCandidate
from .inputs import POLICIES
from .queue import READ_FRACTION, READ_FRACTION_BASIS
from .search import (ACCURACY_POINTS, ENUMERATE_LIMIT, SELECTION_SPLIT, Space, best, budget_sweep, evaluate_space,
                     pareto, within)

SWEEP_DROPS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
BUDGET_FRACTIONS = (0.125, 0.1875, 0.25, 0.375, 0.5)     # of the device's LUTs, for the README front
PARALLELISMS = (1, 2, 4)
READ_FRACTION_SWEEP = (0.25, 0.5, 0.75)   # values of the queue's constant front.json shows predictions at
VALIDATE_RATE = 0.25          # front points built for validation run at least this fraction of the chosen rate


def design_id(d: StreamCandidate) -> str:
    return hashlib.sha1(json.dumps(d.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def threshold_sets(routing, n: int, exit_macs, policies=POLICIES, last_unit_policy=None) -> dict:
    """(exits, policies) -> threshold codes calibrated on the calibration split, one per accuracy-drop target.

    Every deciding exit takes each policy in turn. The last kept exit decides nothing (every sample that
    reaches it leaves there) and its unit only gives the class, so it runs ``last_unit_policy(k)``, the
    policy whose unit for exit k is cheapest (default: the first deciding exit's, else ``policies[0]``).
    """
    from frontend.calibrate import calibrate

    sets = {}
    subsets = [s + (n,) for r in range(n) for s in itertools.combinations(range(1, n), r)] + [(k,) for k in range(1, n)]
    codes, y = routing.codes["selection"], routing.labels["selection"]
    for exits in subsets:
        deciding = exits[:-1]
        for pols in itertools.product(policies, repeat=len(deciding)):
            last = last_unit_policy(exits[-1]) if last_unit_policy else (pols[0] if pols else policies[0])
            chosen = (*pols, last)
            configs = [routing.configs[p][k - 1] for k, p in zip(exits, chosen)]
            found = []
            for drop in SWEEP_DROPS:
                thr = tuple(int(t) for t in calibrate(configs, [codes[k - 1] for k in exits], y,
                                                      [exit_macs[k - 1] for k in exits], drop))
                if thr not in found:
                    found.append(thr)
            sets[(exits, chosen)] = found
    return sets


def cheapest_unit_policy(smodel, policies=POLICIES):
    """k -> the policy whose exit-unit core for exit k has the fewest LUTs (the model's own cost figures)."""
    return lambda k: min(policies, key=lambda p: (smodel.exit_unit(p, k).lut, p))


def _with_test(model, p: dict) -> dict:
    d = p["design"]
    p["predicted_test"] = model.predict(d, "test")
    p["accuracy_test"] = p["predicted_test"]["accuracy"]
    if len(d.exits) > 1:   # the order the pipeline RTL's bursty scenario plays: hard samples 8 at a time
        from sim.pipeline.simulate import bursty_order

        for split, key in (("test", "predicted_test"), ("selection", "predicted")):
            bursty = model.predict(d, split, order=bursty_order)
            p[key]["throughput_bursty_samples_per_s"] = bursty["throughput_samples_per_s"]
    return p


def read_fraction_sensitivity(model, picks) -> dict:
    """id -> READ_FRACTION value -> the calibration split's predicted throughput (its order and the bursty one)
    of each pick with a buffer: how much a prediction leans on the queue model's one constant."""
    from sim.pipeline.simulate import bursty_order

    out = {}
    for p in picks:
        d = p["design"]
        if len(d.exits) > 1 and any(d.buffer_frames):
            rate = lambda f, order=None: model.predict(  # noqa: E731
                d, "selection", order=order, read_fraction=f)["throughput_samples_per_s"]
            out[design_id(d)] = {f"{f:g}": {"nominal": rate(f), "bursty": rate(f, bursty_order)}
                                 for f in READ_FRACTION_SWEEP}
    return out


def _row(p: dict | None) -> dict | None:
    if p is None:
        return None
    out = {"id": design_id(p["design"]), "mode": p["mode"], **p["design"].to_dict(), "predicted_on": SELECTION_SPLIT,
           "predicted": p["predicted"], "accuracy_selection": p["accuracy_selection"]}
    for key in ("predicted_test", "accuracy_test", "on_front", "measured", "errors_pct", "point_file", "role"):
        if key in p:
            out[key] = p[key]
    return out


def _point_doc(p: dict, model: str, board: str, n_exits: int, model_options: dict) -> dict:
    """The point file ``make synth DESIGN=`` builds (flows/dse/point.py, ``io: stream``)."""
    d: StreamCandidate = p["design"]
    policy = d.policies[0] if len(set(d.policies)) == 1 else list(d.policies)   # one for all, or one per kept exit
    design = {"io": "stream", "exits": list(d.exits), "thresholds": list(d.thresholds), "parallelism": [d.parallelism],
              "target_ii": list(d.stage_ii),
              "folding": {f"stage_{k}": plans for k, plans in enumerate(p["predicted"]["plans"], start=1)},
              "mode": "subnet" if d.mode(n_exits) == "subnet" else "anytime", "policy": policy}
    if any(d.buffer_frames):
        design["buffer_frames"] = [f or 1 for f in d.buffer_frames]
    doc = {"id": design_id(d), "model": model, "board": board, "policy": policy, "design": design,
           "selected_on": SELECTION_SPLIT, "predicted": _summary(p["predicted"]),
           "predicted_test": _summary(p.get("predicted_test") or p["predicted"])}
    if model_options:
        doc["model_options"] = dict(model_options)
    return doc


def _summary(pred: dict) -> dict:
    keys = ("lut", "ff", "bram", "dsp", "throughput_samples_per_s", "mean_latency_cycles", "accuracy",
            "energy_nj_per_sample", "ii_cycles", "throughput_bursty_samples_per_s")
    return {k: pred[k] for k in keys if k in pred}


def read_back_point(p: dict) -> dict:
    """A point as the search made it, from its JSON in the search cache: the design object again, and the
    per-exit figures keyed by exit number (JSON keys are strings; partial reconfiguration looked the
    rates up by number and, on a rerun, sent every sample to the last stage)."""
    out = {**p, "design": StreamCandidate.from_dict(p["design"])}
    for split in ("predicted", "predicted_test"):
        if split in out and isinstance(out[split].get("exits"), dict):
            out[split] = {**out[split], "exits": {int(k): v for k, v in out[split]["exits"].items()}}
    return out


def _search(smodel, designs, key: str, cache: Path, say, tick, feasible) -> tuple[list[dict], dict, bool]:
    """Every design predicted on the selection split, or read back when the prediction's inputs (cost fits,
    exit units, logit codes, board, code: inputs.build_model's key) and the space are unchanged."""
    from flows.content_key import ContentKey

    space_key = ContentKey("streaming dse search").text("inputs", key).text("designs", [d.to_dict() for d in designs])
    path = cache / f"search-{space_key.hexdigest()}.json"
    if path.is_file():
        say(f"search: {len(designs):,} designs, predictions read back from {path.name} (nothing changed)")
        doc = json.loads(path.read_text())
        return [read_back_point(p) for p in doc["points"]], doc["refused"], True
    say(f"search: {len(designs):,} designs predicted on the {SELECTION_SPLIT} split")
    points, refused = evaluate_space(smodel, designs, tick=lambda done, total, lead: tick("model", done, total, lead),
                                     feasible=feasible)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"points": [{**p, "design": p["design"].to_dict()} for p in points], "refused": refused},
                              allow_nan=False, default=_plain))
    tmp.replace(path)
    return points, refused, False


def run_streaming_dse(build, model: str, board: str, lut_budget: int | None, client, say, tick, validate: bool,
                      start: float, model_options: dict) -> Path:
    import yaml

    from .inputs import build_model
    from .pr import pr_decision
    from .report import plot_front, write_markdown

    out = build.out_dir / "dse"
    out.mkdir(parents=True, exist_ok=True)
    smodel, made = build_model(build, out, client, say, tick)
    n = len(build.stages)
    say("threshold candidates per kept-exit subset and policy (calibration split)")
    from frontend.macs import cumulative_exit_macs

    sets = threshold_sets(smodel.routing, n, cumulative_exit_macs(build.stages),
                          last_unit_policy=cheapest_unit_policy(smodel))
    space = Space(PARALLELISMS, sets, n, smodel.frame_pixels)
    designs = space.designs()
    if len(designs) > ENUMERATE_LIMIT:
        raise RuntimeError(f"bug: {len(designs)} streaming designs exceed the enumeration limit {ENUMERATE_LIMIT}")
    res = build.board.resources
    device = {"lut": int(res["lut"]), "ff": int(res["ff"]), "dsp": int(res.get("dsp", 0)),
              "bram": float(res.get("bram36", 0))}
    budget = {**device, "lut": int(lut_budget or device["lut"])}
    final = smodel.routing.route(StreamCandidate((n,), (0,), ("max_prob",), 1, (1,) * n, (0,) * (n - 1)), "selection")
    final_accuracy = float(final[1].mean())
    points, refused, from_cache = _search(smodel, designs, made["key"], out / "cache", say, tick,
                                          lambda p: within(p, budget, final_accuracy))
    chosen = best(points, "adaptive", budget, final_accuracy)
    baseline = best(points, "single", budget, final_accuracy)
    subnet = best(points, "subnet", budget, final_accuracy)
    if chosen is None:
        from flows.errors import UserError

        raise UserError(f"no adaptive design fits {budget['lut']:,} LUTs within {ACCURACY_POINTS} point of the final "
                        f"exit ({final_accuracy:.3f} on the calibration split); raise LUT_BUDGET")
    fitting = [p for p in points if p["predicted"]["lut"] <= budget["lut"]]
    for p, on in zip(fitting, pareto(fitting)):
        p["on_front"] = on
    front = [p for p in fitting if p["on_front"]]
    for p in [chosen, baseline, subnet] + front:
        if p is not None and "predicted_test" not in p:
            _with_test(smodel, p)
    # front points to build besides the chosen one: adaptive, within VALIDATE_RATE of its throughput (a point
    # at a few thousand samples/s would take hours of RTL simulation), the cheapest and the median by LUTs
    floor = VALIDATE_RATE * chosen["predicted"]["throughput_samples_per_s"]
    others = sorted((p for p in front if p["mode"] == "adaptive" and p is not chosen
                     and p["predicted"]["throughput_samples_per_s"] >= floor), key=lambda p: p["predicted"]["lut"])
    picks_other = [others[0], others[len(others) // 2]] if len(others) >= 2 else others
    budgets = sorted({int(f * device["lut"]) for f in BUDGET_FRACTIONS} | {budget["lut"]})
    sweep = budget_sweep(points, budgets, device, final_accuracy)
    for row in sweep:
        for key in ("adaptive", "baseline", "subnet"):
            if row[key] is not None:
                _with_test(smodel, row[key])
    say("partial reconfiguration where the best design does not fit all-resident")
    pr = pr_decision(smodel, points, sweep, device, build.board, final_accuracy)

    points_dir = out / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    for stale in points_dir.glob("*.yaml"):    # the folder holds this run's points only
        stale.unlink()
    roles = [("chosen", chosen), ("baseline", baseline), ("subnet", subnet)] + [("front", p) for p in picks_other]
    for role, p in roles:
        if p is None:
            continue
        p["role"] = role if "role" not in p else p["role"]
        path = points_dir / f"{design_id(p['design'])}.yaml"
        path.write_text(yaml.safe_dump(_point_doc(p, model, board, n, model_options), sort_keys=False))
        p["point_file"] = str(path)
    validation = None
    if validate:
        from .validate import validate as validate_points

        picks = [p for p in (chosen, *picks_other, baseline) if p is not None]
        for p in picks:
            p["id"] = design_id(p["design"])
        validation = validate_points(picks, Path(model), board, Path(build.options.build_root), out, client, say, tick)
    measured = lambda p: (p or {}).get("measured") or {}  # noqa: E731
    ratio_measured = None
    if measured(chosen).get("throughput_samples_per_s") and measured(baseline).get("throughput_samples_per_s"):
        ratio_measured = measured(chosen)["throughput_samples_per_s"] / measured(baseline)["throughput_samples_per_s"]
    doc = {"model": build.name, "board": build.board.name, "io": "stream", "objective": "throughput",
           "selected_on": SELECTION_SPLIT,
           "splits": {SELECTION_SPLIT: {"samples": int(len(smodel.routing.labels["selection"])),
                                        "used_for": ["thresholds", "accuracy constraint", "front", "chosen design",
                                                     "baseline", "buffer depth", "predicted"]},
                      "test": {"samples": int(len(smodel.routing.labels["test"])),
                               "used_for": ["accuracy_test", "predicted_test", "measured (pipeline RTL)"]}},
           "budget": budget, "final_exit_accuracy_selection": final_accuracy,
           "accuracy_constraint": f"within {ACCURACY_POINTS} point of the final exit alone ({SELECTION_SPLIT} split)",
           "chosen": _row(chosen), "baseline": _row(baseline), "subnet": _row(subnet),
           "throughput_ratio": {"predicted": chosen["predicted"]["throughput_samples_per_s"] /
                                baseline["predicted"]["throughput_samples_per_s"] if baseline else None,
                                "measured": ratio_measured, "atheena_reported": 2.78},
           "front": [_row(p) for p in front], "budget_sweep": [
               {"lut_budget": r["lut_budget"], "ratio_predicted": r["ratio"],
                **{k: _row(r[k]) for k in ("adaptive", "baseline", "subnet")}} for r in sweep],
           "pr": pr, "evaluated": len(points), "refused": refused, "model_inputs": made,
           "search_cached": from_cache,
           "validation": validation,
           "energy": {"basis": "modelled (never measured on a board)",
                      "predicted": "board power.w_per_klut (estimate) x kLUT x busy cycles + power.pl_static_w "
                                   "(estimate) / throughput",
                      "measured": "pipeline RTL SAIF toggles x energy coefficients (estimates) + clock + static"},
           "figures": {"predicted": "cost models fitted to Yosys probes; throughput from the buffer queue over the "
                                    "calibration split's order (test split for predicted_test)",
                       "measured": "Yosys synth_xilinx of every core; pipeline RTL (Verilator) over the test split",
                       "queue_read_fraction": {"value": READ_FRACTION, "basis": READ_FRACTION_BASIS,
                                               "sensitivity_calibration": read_fraction_sensitivity(
                                                   smodel, [p for p in (chosen, *picks_other) if p is not None])}},
           "seconds": round(time.perf_counter() - start, 2)}
    path = out / "front.json"
    tmp = out / "front.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False, default=_plain))
    tmp.replace(path)
    plot_front(out / "front.png", doc)
    write_markdown(out / "dse.md", doc)
    return path


def _plain(value):
    import numpy as np

    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"bug: {type(value).__name__} in front.json")
