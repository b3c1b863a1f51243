"""Partial reconfiguration as a choice of the streaming DSE.

At every swept LUT budget the design chosen at the full budget does not fit, two ways remain:

* all-resident: the best adaptive design that fits the budget (smaller, slower stage cores);
* partial reconfiguration: the chosen design's stage cores time-sharing a reconfigurable region
  (flows/pr: region sized from the cores' predicted resources, per-sample, batched and
  deadline-free schedules simulated with the board's configuration-port figures, all estimates).

The faster of the two, by throughput, wins; the record says why (reconfiguration time against the
slower cores). The budget caps LUTs; the device's other resources stay as they are.
"""
from __future__ import annotations

import math


def _stage_costs(model, point: dict):
    from flows.pr.inputs import StageCost

    d = point["design"]
    cores = model.cores(d)
    out, in_bytes = [], model.frame_pixels   # stage 1 reads the input frame (one byte a pixel) from DDR
    for k, c in enumerate(cores, start=1):
        out_bytes = math.ceil(c.forwarded_beats * c.forwarded_bits / 8)
        out.append(StageCost(k, int(round(c.lut)), int(round(c.ff)), int(round(c.dsp)), float(c.bram),
                             float(max(c.latency_cycles, 1)), float(c.ii_cycles), in_bytes, out_bytes))
        in_bytes = out_bytes
    units = [StageCost(k, int(round(u.lut)), int(round(u.ff)), 0, u.bram, max(u.latency_cycles, 1), 1)
             for k, u in ((k, model.exit_unit(p, k)) for k, p in zip(d.exits, d.policies))]
    return out, units


def _schedules(result) -> dict:
    return {s.name: {"throughput_samples_per_s": s.throughput_samples_per_s, "batch_size": s.batch_size,
                     "mean_latency_s": s.mean_latency_s, "p99_latency_s": s.p99_latency_s,
                     "reconfigs_per_1000": s.reconfigs_per_1000, "energy_j_per_sample": s.energy_j_per_sample}
            for s in result.schedules}


def pr_decision(model, points, sweep, device: dict, board, final_accuracy: float) -> dict | None:
    """The PR-versus-all-resident call at each swept budget below the full budget's chosen design."""
    from flows.pr.evaluate import evaluate_pr
    from flows.pr.inputs import PrError

    from .search import best

    full = best(points, "adaptive", device, final_accuracy)
    if full is None:
        return None
    decisions = []
    for row in sweep:
        if row["lut_budget"] >= full["predicted"]["lut"]:
            continue
        stages, units = _stage_costs(model, full)
        rates = [full["predicted"]["exits"].get(k, {}).get("rate", 0.0) if k in full["design"].exits else 0.0
                 for k in range(1, len(stages) + 1)]
        rates[-1] = 1.0 - sum(rates[:-1])
        resident = row["adaptive"]
        entry = {"lut_budget": row["lut_budget"], "design": full["design"].to_dict(),
                 "design_lut_predicted": full["predicted"]["lut"],
                 "all_resident": None if resident is None else {
                     "design": resident["design"].to_dict(), "lut": resident["predicted"]["lut"],
                     "throughput_samples_per_s": resident["predicted"]["throughput_samples_per_s"]}}
        try:
            result = evaluate_pr(stages, units, rates, board, capacity={"lut": row["lut_budget"]})
        except PrError as exc:
            # the region (largest stage + margin) with the static design outgrows the budget: the schedules
            # the region would run on the whole device, for the record
            entry.update(pr=None, winner="all_resident" if resident else None,
                         why=f"no reconfigurable mapping fits {row['lut_budget']:,} LUTs: {str(exc).split(';')[0]}",
                         pr_on_whole_device=_schedules(evaluate_pr(stages, units, rates, board)))
            decisions.append(entry)
            continue
        schedules = _schedules(result)
        best_pr = max((v for k, v in schedules.items() if k != "all_resident"),
                      key=lambda v: v["throughput_samples_per_s"], default=None)
        entry["pr"] = {"mapping": result.mapping["pr"], "schedules": schedules,
                       "region": None if result.region is None else {"need": result.region.need},
                       "basis": "modelled: configuration-port bandwidth and bitstream size are board-file estimates"}
        ar_tp = resident["predicted"]["throughput_samples_per_s"] if resident else 0.0
        pr_tp = best_pr["throughput_samples_per_s"] if best_pr else 0.0
        if pr_tp > ar_tp:
            entry["winner"] = "partial_reconfiguration"
            entry["why"] = (f"time-sharing the chosen cores ({pr_tp:,.0f} samples/s, batched) beats the best design "
                            f"that fits {row['lut_budget']:,} LUTs all-resident ({ar_tp:,.0f} samples/s)")
        else:
            entry["winner"] = "all_resident"
            entry["why"] = (f"the smaller all-resident design ({ar_tp:,.0f} samples/s) beats time-sharing the chosen "
                            f"cores ({pr_tp:,.0f} samples/s at best): each reconfiguration costs more than the "
                            "slower cores lose")
        decisions.append(entry)
    return {"decisions": decisions,
            "note": "a 2-stage model has one PR mapping: both stages time-share one region (a static stage 1 with "
                    "later stages time-shared needs 3 or more stages)" if len(model.cores(full["design"])) == 2
            else None}
