"""Accuracy vs cost as the exit thresholds sweep: one calibration per accuracy-drop target.

For each target the thresholds are calibrated on the calibration split (as the
flow does) and the result is measured on the test split, through the same
bit-exact exit-unit reference, so each point is a configuration the hardware
can actually be set to. Mean latency / energy per sample follow from per-exit
figures when the caller has them (from simulation): sum over exits of
exit rate x that exit's latency (energy).
"""
from __future__ import annotations

import numpy as np

DEFAULT_DROPS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def threshold_sweep(configs, cal_codes: list[np.ndarray], cal_y: np.ndarray, test_codes: list[np.ndarray],
                    test_y: np.ndarray, exit_macs: list[int], baseline_macs: int,
                    drops: tuple[float, ...] = DEFAULT_DROPS, exit_latency_cycles: list[float] | None = None,
                    exit_energy_nj: list[float] | None = None, margin_se: float = 1.0) -> list[dict]:
    """Sweep points ``{accuracy_drop, thresholds, accuracy, avg_macs, macs_saved_pct, exit_rates,
    mean_latency_cycles?, energy_nj?}``, one per accuracy-drop target, in the order given."""
    from frontend.calibrate import calibrate, evaluate

    if len(configs) != len(exit_macs):
        raise ValueError(f"{len(configs)} exit configs but {len(exit_macs)} exit MAC counts; give one per exit")
    for name, per_exit in (("exit_latency_cycles", exit_latency_cycles), ("exit_energy_nj", exit_energy_nj)):
        if per_exit is not None and len(per_exit) != len(configs):
            raise ValueError(f"{name} has {len(per_exit)} values for {len(configs)} exits; give one per exit")
    points = []
    for drop in drops:
        thresholds = calibrate(configs, cal_codes, cal_y, exit_macs, drop, margin_se)  # as the flow calibrates
        ev = evaluate(configs, test_codes, test_y, thresholds, exit_macs, baseline_macs)
        rates = [e.exit_rate for e in ev.exits]
        point = {"accuracy_drop": float(drop), "thresholds": [int(t) for t in thresholds],
                 "accuracy": ev.accuracy, "avg_macs": ev.avg_macs,
                 "macs_saved_pct": 100.0 * (1.0 - ev.avg_macs / baseline_macs), "exit_rates": rates}
        if exit_latency_cycles is not None:
            point["mean_latency_cycles"] = float(np.dot(rates, exit_latency_cycles))
        if exit_energy_nj is not None:
            point["energy_nj"] = float(np.dot(rates, exit_energy_nj))
        points.append(point)
    return points
