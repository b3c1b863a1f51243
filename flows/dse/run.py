"""run_dse: one model on one board -> build/<model>/<board>/dse/{front.json, front.png, dse.md, points/<id>.yaml}.

Steps, in order: the flow's front end (load, train or reuse the cached model,
split, calibrate) -> fully parallel Yosys records written by ``make synth``
-> folded conv cores at two P per conv stage and headless cores (exit dropped),
synthesised as Dask jobs (cached) -> per-stage cost fits -> search over the
analytic model -> validation: the chosen point, two other front points and
the baselines built (as ``make synth DESIGN=`` builds them) and measured
(validate.py) -> outputs.

Every choice routes the calibration split; the test split is only reported
(search.py). front.json says so (``selected_on``, ``splits``) and names the
split of each figure; its ``energy`` block says what the modelled energy is.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from .search import OBJECTIVES, SELECTION_SPLIT, Context, Exploration, InfeasibleObjective, calibrated_threshold_sets, explore

SWEEP_DROPS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
SELECTION_USES = ["threshold candidates", "min_accuracy", "max_latency_us", "front", "chosen design",
                  "predicted", "accuracy_selection", "fifo_depth"]
TEST_USES = ["accuracy_test", "predicted_test", "measured (pipeline RTL over the test set)"]


def _result(chosen: dict, validation: dict | None) -> dict:
    """The chosen design's accuracy on each split, apart: chosen on one, reported on the other."""
    measured = (chosen.get("measured") or {}).get("accuracy") if validation else None
    return {"chosen": chosen["id"], "selected_on": SELECTION_SPLIT, "accuracy_selection": chosen["accuracy_selection"],
            "accuracy_test": chosen["accuracy_test"], "accuracy_test_measured": measured}


def _energy_basis(platform, board, simulated: bool) -> dict:
    """What the energy figures of front.json are: both modelled, which part comes from where."""
    if not platform.has_energy:
        return {"basis": None, "note": f"no energy figures: boards/{board.name}.yaml has no power: w_per_klut and "
                                       "pl_static_w"}
    return {"basis": "modelled (never measured on a board)",
            "predicted": "analytic model: busy cycles of each stage and exit unit x power.w_per_klut (estimate) + "
                         "power.pl_static_w (estimate) / predicted throughput; split as energy_dynamic_nj_per_sample "
                         "and energy_static_nj_per_sample",
            "simulated": ("pipeline RTL simulation: SAIF toggle counts x energy: per-toggle coefficients (estimates) "
                         "+ simulated cycles x flip-flops x energy.clock_pj_per_ff_cycle (estimate) + simulated run "
                         "time x power.pl_static_w (estimate); split in energy_parts_nj_per_sample (toggles, clock, "
                         "static)") if simulated else None,
            "from_simulation": ["toggle counts (SAIF)", "cycles", "run time"],
            "estimated": ["power.w_per_klut", "power.pl_static_w", "energy: per-toggle and clock coefficients"],
            "shared_estimate": "power.pl_static_w: the static part of both figures is the same estimate",
            "sources": {**dict(platform.energy_sources), **{
                f"energy.{k}": str(v.get("source", "")) for k, v in (board.extra.get("energy") or {}).items()}}}


def _front_end(build_root: Path, model: str, board: str, model_options: dict):
    from rich.console import Console

    from flows.synth import (Build, SynthOptions, calibrate_exits, load_inputs, prepare_model, split_stages,
                             train_model)

    build = Build(options=SynthOptions(model=model, board=board, build_root=Path(build_root), hls=False,
                                       **model_options), console=Console(quiet=True))
    for step in (load_inputs, prepare_model, train_model, split_stages, calibrate_exits):
        step(build)
    return build


def _budget(board, lut_budget: int | None) -> dict:
    res = board.resources
    return {"lut": int(lut_budget if lut_budget is not None else res["lut"]), "ff": int(res["ff"]),
            "dsp": int(res.get("dsp", 0)), "bram": float(res.get("bram36", res.get("bram", 0)))}


def _write_points(out: Path, result: Exploration, model: str, board: str, policy: str,
                  model_options: dict) -> None:
    """One buildable file per front point and the chosen one (``make synth DESIGN=<file>``)."""
    import yaml

    points = out / "points"
    points.mkdir(parents=True, exist_ok=True)
    for p in result.points:
        if not p["on_front"] and p["id"] != result.chosen:
            continue
        design = {k: p[k] for k in ("exits", "thresholds", "parallelism", "mode", "fifo_depth")}
        spec = {"id": p["id"], "model": model, "board": board, "policy": p.get("policy") or policy, "design": design,
                "selected_on": p["predicted_on"], "predicted": p["predicted"],
                "predicted_test": p["predicted_test"]}  # what a build over the test set is compared with
        if model_options:   # how the model file was prepared (EXITS=, INPUT_BITS=, ...): the point's exits need it
            spec["model_options"] = dict(model_options)
        (points / f"{p['id']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def _plot(path: Path, result: Exploration) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = OBJECTIVES[result.objective][0]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for on, style in ((False, dict(c="0.75", s=10, label="evaluated")), (True, dict(c="tab:blue", s=28,
                                                                                   label="front"))):
        pts = [p for p in result.points if p["on_front"] is on]
        ax.scatter([p["predicted"]["lut"] for p in pts], [p["predicted"][metric] for p in pts], **style)
    chosen = next(p for p in result.points if p["id"] == result.chosen)
    ax.scatter([chosen["predicted"]["lut"]], [chosen["predicted"][metric]], marker="*", s=160, c="tab:red",
               label="chosen")
    for name, b in result.baselines.items():
        if b:
            ax.scatter([b["predicted"]["lut"]], [b["predicted"][metric]], marker="s", s=50, label=f"baseline {name}")
    measured = [p for p in result.points + [b for b in result.baselines.values() if b] if p.get("measured")
                and p["measured"].get(metric) is not None]
    if measured:
        ax.scatter([p["measured"]["lut"] for p in measured], [p["measured"][metric] for p in measured], marker="x",
                   s=60, c="k", label="measured (Yosys + pipeline RTL)")
    ax.set_xlabel("LUTs")
    ax.set_ylabel(metric)
    ax.set_title("DSE: predicted designs (front over objective, accuracy, LUT)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _nj(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _energy_lines(doc: dict) -> list[str]:
    e = doc["energy"]
    if e["basis"] is None:
        return [f"Energy: {e['note']}; every nJ figure is n/a."]
    return ["Energy is modelled in every column, never measured on a board. Predicted (nJ pred): the analytic "
            "model's busy cycles x power.w_per_klut, plus power.pl_static_w / throughput. Simulated (nJ sim): the "
            "pipeline RTL simulation's SAIF toggle counts x the board file's energy: per-toggle estimates, plus "
            "simulated cycles x flip-flops x the clock estimate, plus simulated run time x power.pl_static_w. "
            "Only the toggle counts, cycles and run time come from the simulation; every coefficient is an "
            f"estimate (sources in boards/{doc['board']}.yaml and front.json `energy.sources`), and the static "
            "part is the same estimate in both: compare the dynamic parts to judge the model."]


def _validation_lines(doc: dict) -> list[str]:
    v = doc["validation"]
    if v is None:
        return ["", "## Validation", "", "Not run: predicted figures only (`measured` is null)."]
    by_id = {p["id"]: p for p in doc["points"]}
    by_id.update({b["id"]: b for b in doc["baselines"].values() if b})
    sims = v["stage_sims"]
    lines = ["", "## Validation on the test split: predicted vs measured", "",
             "Measured: LUT/FF = Yosys of every stage core and kept exit unit of the point (built as `make synth "
             "DESIGN=` builds it: folded convs, no head where an exit is dropped); every core the fully parallel "
             f"flow did not check streamed alone over the test set in cocotb ({len(sims)} runs, all bit-exact: "
             f"{all(x['mismatches'] == 0 for x in sims.values())}); samples/s, mean latency, energy and accuracy "
             "from the multi-exit pipeline RTL with these cores over the test set in its real order "
             f"({v.get('pipeline_simulator', 'icarus')}; samples/s = the rate the pipeline accepted samples, first "
             "to last; the whole-run rate with drain is in front.json). Predicted here: the model with the test "
             "split routed (`predicted_test`), so both columns see the same samples; the choice itself used the "
             f"{doc['selected_on']} split. "
             + (f"Not measured: {', '.join(v['not_measured'])}. " if v["not_measured"] else "")
             + f"Limits: LUT {100 * v['lut_tolerance']:.0f}%, throughput {100 * v['throughput_tolerance']:.0f}%; "
             "<span style=\"color:red\">red</span> where the model is off by more. Energy: see above.", "",
             "| id | role | P | LUT pred | LUT meas | err | FF pred | FF meas | samples/s pred | samples/s meas | err "
             "| latency pred | latency meas | nJ pred (model) | nJ sim (SAIF) | dynamic nJ pred / sim "
             "| static nJ pred / sim | accuracy pred (test) | accuracy meas (test) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    roles = {b["id"]: f"baseline {name}" for name, b in doc["baselines"].items() if b}
    roles[doc["chosen"]] = "chosen"

    def err(x: float | None, limit: float) -> str:
        if x is None:
            return "n/a"
        text = f"{100 * x:+.1f}%"
        return f'<span style="color:red">**{text}**</span>' if abs(x) > limit else text

    def num(x: float | None, fmt: str) -> str:
        return "n/a" if x is None else format(x, fmt)

    for rec in v["points"]:
        p = by_id[rec["id"]]
        q, m = p.get("predicted_test") or p["predicted"], p["measured"]
        static = (m.get("energy_parts_nj_per_sample") or {}).get("static")
        dynamic = None if static is None else m["energy_nj_per_sample"] - static   # toggles + clock
        lines.append(f"| {p['id']} | {roles.get(p['id'], 'front')} | {p['parallelism']} | {q['lut']:,.0f} | "
                     f"{m['lut']:,.0f} | {err(rec['lut_error'], v['lut_tolerance'])} | {q['ff']:,.0f} | "
                     f"{m['ff']:,.0f} | {q['throughput_samples_per_s']:,.0f} | "
                     f"{num(m['throughput_samples_per_s'], ',.0f')} | "
                     f"{err(rec['throughput_error'], v['throughput_tolerance'])} | {q['mean_latency_cycles']:.1f} | "
                     f"{num(m['mean_latency_cycles'], '.1f')} | {_nj(q['energy_nj_per_sample'])} | "
                     f"{_nj(m['energy_nj_per_sample'])} | {_nj(q.get('energy_dynamic_nj_per_sample'))} / "
                     f"{_nj(dynamic)} | {_nj(q.get('energy_static_nj_per_sample'))} / "
                     f"{_nj(static)} | {q['accuracy']:.4f} | {num(m['accuracy'], '.4f')} |")
    flags = [f"- <span style=\"color:red\">{r['id']}: {f}</span>" for r in v["points"] for f in r["flags"]]
    if flags:
        lines += ["", "Flags:", ""] + flags
    notes = [f"- {r['id']}: {note}" for r in v["points"] for note in r.get("notes", [])]
    queues = {p["id"]: p["model"].get("fifo_depths") for p in by_id.values()}
    notes += [f"- {r['id']}: FIFO depth {r['fifo_depth']} in front of each stage k > 1 (model's burst queue "
              f"{queues.get(r['id'])})" for r in v["points"]]
    if notes:
        lines += ["", "Notes:", ""] + notes
    return lines


def _markdown(doc: dict) -> str:
    metric = OBJECTIVES[doc["objective"]][0]
    sel, test = doc["selected_on"], doc["splits"]
    r = doc["result"]
    measured = "" if r["accuracy_test_measured"] is None else \
        f", {r['accuracy_test_measured']:.4f} measured on the pipeline RTL over the test split"
    lines = [f"# Design-space exploration: {doc['model']} on {doc['board']}", "",
             f"Objective: {doc['objective']} ({metric}); constraints: {doc['constraints']}; budget: {doc['budget']}.",
             f"{doc['evaluated']} designs evaluated on the analytic model ({doc['search']}), "
             f"{doc['synth_jobs']['evaluated']} Yosys cost probes run, {doc['synth_jobs']['cached']} from cache; "
             + (f"validation: {doc['validation']['yosys_jobs']['evaluated']} Yosys runs and "
                f"{doc['validation']['simulations']['run']} simulations, "
                f"{doc['validation']['yosys_jobs']['cached'] + doc['validation']['simulations']['cached']} from "
                "cache; " if doc["validation"] else "")
             + f"{doc['seconds']:.1f} s.", "",
             f"Selected on the {sel} split ({test[sel]['samples']} samples): the threshold candidates, the "
             "constraints (MIN_ACCURACY, MAX_LATENCY_US), the front and the chosen design. The test split "
             f"({test['test']['samples']} samples) is only reported: accuracy (test), the model's figures with it "
             "routed and the measured pipeline runs.", "",
             f"Chosen design {r['chosen']}: accuracy {r['accuracy_selection']:.4f} on the {sel} split (selection), "
             f"{r['accuracy_test']:.4f} on the test split (reported){measured}.", "",
             f"| id | exits | policy | P per stage | mode | LUT | FF | samples/s | mean latency (cyc) | nJ/sample "
             f"(modelled) | accuracy ({sel}) | accuracy (test) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [p for p in doc["points"] if p["on_front"]]
    rows.sort(key=lambda p: p["predicted"]["lut"])
    for p in rows:
        q = p["predicted"]
        tag = " (chosen)" if p["id"] == doc["chosen"] else ""
        lines.append(f"| {p['id']}{tag} | {p['exits']} | {p.get('policy') or doc['policy']} | {p['parallelism']} | "
                     f"{p['mode']} | {q['lut']:,.0f} | "
                     f"{q['ff']:,.0f} | {q['throughput_samples_per_s']:,.0f} | {q['mean_latency_cycles']:.1f} | "
                     f"{_nj(q['energy_nj_per_sample'])} | {p['accuracy_selection']:.4f} | {p['accuracy_test']:.4f} |")
    lines += ["", f"Figures of the model on the {sel} split (samples/s, latency and energy depend on which samples "
              "leave where); accuracy (test) is the same design routed on the test split.", "",
              *_energy_lines(doc), "",
              "Baselines at the same LUT budget (uniform folding: the same P on every conv stage, the "
              "fastest that fits):", ""]
    for name, b in doc["baselines"].items():
        if b is None:
            lines.append(f"- {name}: no uniform design fits the budget")
            continue
        q = b["predicted"]
        lines.append(f"- {name}: exits {b['exits']}, P {b['parallelism']}: {q['lut']:,.0f} LUTs, "
                     f"{q['throughput_samples_per_s']:,.0f} samples/s, {_nj(q['energy_nj_per_sample'])} nJ "
                     f"(modelled), accuracy {b['accuracy_selection']:.4f} ({sel}), {b['accuracy_test']:.4f} (test)")
    lines += ["", "## Cost fits (Yosys)", ""]
    for f in doc["fits"]:
        lines.append(f"- stage {f['stage']}: {json.dumps(f)}")
    lines += _validation_lines(doc)
    if doc.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


def run_dse(build_root: Path, model: str, board: str, objective: str = "throughput",
            min_accuracy: float | None = None, max_latency_us: float | None = None, lut_budget: int | None = None,
            scheduler: str | None = None, progress: Callable[[str], None] | None = None,
            validate: bool = True, tick: Callable[[str, int, int, str | None], None] | None = None,
            model_options: dict | None = None) -> Path:
    """Explore exits, thresholds and folding of ``model`` on ``board``; returns the path of front.json.

    validate: build and measure the chosen point, two other front points and the baselines.
    tick(phase, done, total, best so far): progress of each phase ("yosys", "model", "validate").
    model_options: how a model file is prepared (SynthOptions exits, input_bits, logit_bits, exit_epochs).
    """
    from .jobs import dask_client

    say = progress or (lambda message: None)
    if objective not in OBJECTIVES:
        raise InfeasibleObjective(f"objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    start = time.perf_counter()
    with dask_client(scheduler) as client:  # an unreachable scheduler fails here, before any work
        return _explore(build_root, model, board, objective, min_accuracy, max_latency_us, lut_budget, client,
                        say, start, validate, tick or (lambda phase, done, total, best: None),
                        {k: v for k, v in (model_options or {}).items() if v is not None})


def _other_front_points(result: Exploration, count: int) -> list[dict]:
    """Front points besides the chosen one, spread over LUTs (anytime designs first: they use the exits)."""
    others = sorted((p for p in result.points if p["on_front"] and p["id"] != result.chosen),
                    key=lambda p: (p["mode"] != "anytime", p["predicted"]["lut"]))
    anytime = [p for p in others if p["mode"] == "anytime"] or others
    if len(anytime) <= count:
        return anytime
    step = (len(anytime) - 1) / (count - 1) if count > 1 else 0
    return [anytime[round(i * step)] for i in range(count)]


def _explore(build_root, model, board, objective, min_accuracy, max_latency_us, lut_budget, client, say,
             start, validate, tick, model_options) -> Path:
    from frontend.calibrate import logit_codes
    from frontend.macs import cumulative_exit_macs

    from .costs import (MissingFlowOutput, exit_unit_latency, flow_records, fold_probes, headless_probes,
                        other_policy_units, pipeline_overheads, stage_costs)
    from .jobs import run_jobs
    from .model import Design, Platform
    from .point import fifo_depth_for

    say("front end: model, stages, calibration")
    build = _front_end(build_root, model, board, model_options)
    from flows.synth import rtl_io

    if rtl_io(build) == "stream":   # streaming stage cores (a real-size CNN): the rate-aware streaming DSE
        from .streaming.run import run_streaming_dse

        return run_streaming_dse(build, model, board, lut_budget, client, say, tick, validate, start, model_options)
    out = build.out_dir / "dse"
    n = len(build.stages)
    records = lambda: flow_records(build.out_dir, build.stages, build.exit_configs, build.board.family)  # noqa: E731
    try:
        full, units, latency = records()
    except MissingFlowOutput as missing:  # a fresh clone: build the fully parallel design the model is fitted on
        say(f"{missing}: running the open flow (make synth) for {model} on {board} first")
        from flows.synth import SynthOptions, run_synth

        run_synth(SynthOptions(model=model, board=board, build_root=Path(build_root), flow="open", **model_options))
        full, units, latency = records()
    say("folded stage cores at two parallelisms per conv stage")
    probes = fold_probes(build.stages, out / "rtl", build.board.family)
    heads = headless_probes(build.stages, out / "rtl", build.board.family)
    policy_units = other_policy_units(build.stages, build.exit_configs[0].policy, out / "rtl", build.board.family)
    say(f"Yosys jobs on Dask ({len(client.scheduler_info()['workers'])} workers)")
    jobs = run_jobs([job for *_, job in probes] + [job for _, job in heads.values()]
                    + [job for _, unit_jobs in policy_units.values() for job in unit_jobs], out / "cache", client,
                    tick=lambda done, total: tick("yosys", done, total, None))
    costs, fits = stage_costs(build.stages, full, latency, probes, jobs.results, heads)
    exit_latency = exit_unit_latency(build.exit_configs[0])
    hop, output, overhead_source = pipeline_overheads(build.out_dir, latency, exit_latency,
                                                      build.exit_configs[0].policy)
    say(f"pipeline overheads: {hop} cycles per inter-stage FIFO, {output} at the output ({overhead_source})")
    platform = Platform.from_board(build.board, exit_unit_lut=sum(u["lut"] for u in units) / n,
                                   exit_unit_ff=sum(u["ff"] for u in units) / n,
                                   exit_latency_cycles=exit_latency, hop_cycles=hop, output_cycles=output)
    data = build.dataset
    cal = logit_codes(build.model, build.stages, data.x_cal)
    test = logit_codes(build.model, build.stages, data.x_test)
    say("search")
    exit_macs = cumulative_exit_macs(build.stages)
    sets = calibrated_threshold_sets(build.exit_configs, cal, data.y_cal, exit_macs, SWEEP_DROPS)
    # every choice on the calibration split; the test split is carried for reporting only
    ctx = Context(costs, platform, build.exit_configs, cal, data.y_cal, sets, test, data.y_test)
    units_by_policy = {ctx.policy: units}
    for policy, (configs, unit_jobs) in policy_units.items():  # the policy knob: its own units and thresholds
        records = [jobs.results[j.key()] for j in unit_jobs]
        failed = [r["error"] for r in records if r.get("error")]
        if failed:
            raise RuntimeError(f"{policy} exit-unit synthesis failed twice: {failed[0]}")
        units_by_policy[policy] = records
        unit_platform = replace(platform, exit_unit_lut=sum(r["lut"] for r in records) / n,
                                exit_unit_ff=sum(r["ff"] for r in records) / n,
                                exit_latency_cycles=exit_unit_latency(configs[0]))
        ctx.others[policy] = Context(costs, unit_platform, configs, cal, data.y_cal,
                                     calibrated_threshold_sets(configs, cal, data.y_cal, exit_macs, SWEEP_DROPS),
                                     test, data.y_test)
    notes = [] if platform.has_energy else [
        f"no energy figures: boards/{build.board.name}.yaml has no power: block with w_per_klut and pl_static_w "
        "(the model's estimates); energy_nj_per_sample is null, not another board's figure"]
    budget = _budget(build.board, lut_budget)
    max_cycles = None if max_latency_us is None else max_latency_us * build.board.clock_mhz
    result = explore(ctx, objective, budget, min_accuracy, max_cycles, calibrated_thresholds=build.thresholds,
                     tick=lambda done, total, best: tick("model", done, total, best))
    chosen = next(p for p in result.points if p["id"] == result.chosen)
    for p in result.points + [b for b in result.baselines.values() if b]:
        p["measured"] = None
        if p.get("on_front") or p is chosen or any(p is b for b in result.baselines.values()):  # buildable: the FIFO depth it needs
            queues = ctx.predict(Design(tuple(p["exits"]), tuple(p["thresholds"]), tuple(p["parallelism"]),
                                        p["mode"], p.get("policy")), with_fifo=True).fifo_depths
            p.setdefault("model", {})["fifo_depths"], p["fifo_depth"] = list(queues), fifo_depth_for(queues)
    validation = None
    if validate:
        from .validate import validate_points

        picks = [chosen] + _other_front_points(result, 2)
        picks += [b for b in result.baselines.values() if b is not None]
        validation = validate_points(picks, build.stages, ctx, full, units_by_policy, data.x_test, out / "validate",
                                     out / "rtl", out / "cache", client, build.board, say,
                                     tick=lambda done, total, best: tick("validate", done, total, best))
    doc = {"model": build.name, "board": build.board.name, "objective": objective, "policy": ctx.policy,
           "policies": [c.policy for c in ctx.policies()],
           "selected_on": SELECTION_SPLIT,
           "splits": {SELECTION_SPLIT: {"samples": len(data.y_cal), "used_for": SELECTION_USES},
                      "test": {"samples": len(data.y_test), "used_for": TEST_USES}},
           "result": _result(chosen, validation),
           "energy": _energy_basis(platform, build.board,  # Verilator writes the SAIF the simulated energy needs
                                   bool(validation) and validation["pipeline_simulator"] == "verilator"),
           "constraints": {"min_accuracy": min_accuracy, "max_latency_us": max_latency_us, "lut_budget": lut_budget},
           "budget": budget, "points": result.points, "chosen": result.chosen, "baselines": result.baselines,
           "evaluated": result.candidates, "search": result.searched,
           # builds answered from the content-hash caches: Yosys probes, validation Yosys and simulations
           "cached": jobs.cached + (validation["yosys_jobs"]["cached"] + validation["simulations"]["cached"]
                                    if validation else 0),
           "synth_jobs": {"evaluated": jobs.evaluated, "cached": jobs.cached},
           "platform": {**asdict(platform), "overheads_from": overhead_source}, "fits": fits,
           "validation": validation, "notes": notes,
           "seconds": round(time.perf_counter() - start, 2)}
    out.mkdir(parents=True, exist_ok=True)
    _write_points(out, result, model, board, build.exit_configs[0].policy, model_options)
    _plot(out / "front.png", result)
    (out / "dse.md").write_text(_markdown(doc))
    path = out / "front.json"
    path.write_text(json.dumps(doc, indent=1, allow_nan=False))
    return path
