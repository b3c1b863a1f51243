"""The streaming design space, searched on the calibration split.

Space (design.py): exits kept x policy of each deciding exit x the thresholds calibrated for them
(one calibration per accuracy-drop target) x stage 1's P x each stage's II as a multiple of stage 1's
(a stage that fewer samples reach may be slower) x the conditional buffer's depth. Enumerated while
it is at most ``ENUMERATE_LIMIT`` designs; otherwise Optuna's NSGA-II samples it.

Selection, all on the calibration split (``SELECTION_SPLIT``): a design must fit the LUT budget and
the device's other resources, and stay within ``ACCURACY_POINTS`` of the final exit alone. Of those:

* the chosen design: the highest throughput among adaptive designs (two or more exits, the final
  one among them), fewer LUTs on a tie;
* the no-exit baseline: the same search with the final exit alone (``single``);
* the best subnet (a truncated network) is reported, never counted as early exiting.

The test split is routed only for what is reported (``predicted_test``).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .design import StreamCandidate
from .evaluate import StreamModel

SELECTION_SPLIT = "calibration"
ENUMERATE_LIMIT = 20_000
ACCURACY_POINTS = 1.0
II_MULTIPLES_STAGE1 = (1, 2, 4)          # stage 1 slower than its input when the budget is tight
II_MULTIPLES_LATER = (1, 2, 4, 8, 16, 32)
BUFFER_FRAMES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Space:
    parallelisms: tuple[int, ...]
    threshold_sets: dict[tuple, list[tuple[int, ...]]]    # (exits, policies) -> threshold candidates
    n_exits: int
    frame_pixels: int
    stage1_multiples: tuple[int, ...] = II_MULTIPLES_STAGE1
    later_multiples: tuple[int, ...] = II_MULTIPLES_LATER
    buffer_frames: tuple[int, ...] = BUFFER_FRAMES

    def designs(self) -> list[StreamCandidate]:
        out = []
        for (exits, policies), sets in self.threshold_sets.items():
            deployed = exits[-1]
            for p, m1 in itertools.product(self.parallelisms, self.stage1_multiples):
                ii1 = self.frame_pixels // p * m1
                later = list(itertools.product(self.later_multiples, repeat=deployed - 1))
                for mults in later:
                    iis = (ii1, *[ii1 * m for m in mults])
                    kept_boundaries = [k for k in range(1, deployed) if k in exits]
                    depths = list(itertools.product(self.buffer_frames, repeat=len(kept_boundaries)))
                    for depth in depths:
                        frames = [0] * (deployed - 1)
                        for k, f in zip(kept_boundaries, depth):
                            frames[k - 1] = f
                        for thresholds in sets:
                            out.append(StreamCandidate(exits, thresholds, policies, p, iis, tuple(frames)))
        return out


def pareto(points: Sequence[dict]) -> list[bool]:
    """On the front of (throughput max, accuracy max, LUT min), by flows/dse/front.py's rule."""
    from flows.dse.front import pareto_mask

    metrics = [{"throughput_samples_per_s": p["predicted"]["throughput_samples_per_s"],
                "accuracy": p["accuracy_selection"], "lut": p["predicted"]["lut"]} for p in points]
    return [bool(v) for v in pareto_mask(metrics, {"throughput_samples_per_s": "max", "accuracy": "max",
                                                   "lut": "min"})] if metrics else []


def evaluate_space(model: StreamModel, designs: Sequence[StreamCandidate], tick: Callable | None = None,
                   feasible: Callable[[dict], bool] = lambda point: True) -> tuple[list[dict], dict[str, int]]:
    """Every design predicted on the selection split, and the designs the hardware cannot build, by reason
    (e.g. a P the line buffers cannot split a row into). tick(done, total, best so far) reports progress
    with the fastest feasible adaptive design yet."""
    from hardware.stream_stage import PlanError

    points, refused, leader = [], {}, None
    for i, d in enumerate(designs, start=1):
        try:
            pred = model.predict(d, "selection")
        except PlanError as exc:
            reason = str(exc).split(";")[0][:160]
            refused[reason] = refused.get(reason, 0) + 1
            continue
        point = {"design": d, "mode": d.mode(model.n_exits), "predicted": pred, "accuracy_selection": pred["accuracy"]}
        points.append(point)
        if point["mode"] == "adaptive" and feasible(point) and (
                leader is None or pred["throughput_samples_per_s"] > leader["predicted"]["throughput_samples_per_s"]):
            leader = point
        if tick and (i % 100 == 0 or i == len(designs)):
            tick(i, len(designs), None if leader is None else
                 f"{leader['predicted']['throughput_samples_per_s']:,.0f} samples/s, {leader['predicted']['lut']:,.0f} LUT")
    return points, refused


def within(point: dict, budget: dict, final_accuracy: float) -> bool:
    pred = point["predicted"]
    return (pred["lut"] <= budget["lut"] and pred["ff"] <= budget["ff"] and pred["bram"] <= budget["bram"]
            and pred["dsp"] <= budget["dsp"]
            and point["accuracy_selection"] >= final_accuracy - ACCURACY_POINTS / 100)


def best(points: Sequence[dict], mode: str, budget: dict, final_accuracy: float) -> dict | None:
    ok = [p for p in points if p["mode"] == mode and within(p, budget, final_accuracy)]
    if not ok:
        return None
    return max(ok, key=lambda p: (round(p["predicted"]["throughput_samples_per_s"], 3), p["accuracy_selection"],
                                  -p["predicted"]["lut"]))


def budget_sweep(points: Sequence[dict], budgets: Sequence[int], device: dict, final_accuracy: float) -> list[dict]:
    """Per LUT budget: the best adaptive design, the best no-exit design and the ratio of their throughputs
    (all predicted, calibration split)."""
    rows = []
    for lut in budgets:
        budget = {**device, "lut": lut}
        ee, base, sub = (best(points, m, budget, final_accuracy) for m in ("adaptive", "single", "subnet"))
        tp = (lambda p: None if p is None else p["predicted"]["throughput_samples_per_s"])  # noqa: E731
        rows.append({"lut_budget": lut, "adaptive": ee, "baseline": base, "subnet": sub,
                     "ratio": (tp(ee) / tp(base)) if ee and base else None})
    return rows
