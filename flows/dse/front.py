"""Pareto front of design points under several objectives.

An objective is a key of a point's metric dict and a sense ("max" or "min").
Point a dominates b when a is at least as good on every objective and strictly
better on one. Points with identical metrics do not dominate each other, so
duplicates all stay on the front (none of them is worse).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SENSES = ("max", "min")

# Metric -> sense, for the keys the DSE model predicts (flows/dse/model.py).
DEFAULT_SENSES = {"throughput_samples_per_s": "max", "accuracy": "max", "lut": "min",
                  "mean_latency_cycles": "min", "energy_nj_per_sample": "min"}


def _score_matrix(points: Sequence[Mapping[str, float]], objectives: Mapping[str, str]) -> np.ndarray:
    """(n, m) array where larger is better on every column."""
    for key, sense in objectives.items():
        if sense not in SENSES:
            raise ValueError(f"objective {key!r} has sense {sense!r}; use 'max' or 'min'")
    if not objectives:
        raise ValueError("no objectives given; name at least one metric with 'max' or 'min'")
    rows = []
    for i, p in enumerate(points):
        missing = [k for k in objectives if k not in p]
        if missing:
            raise ValueError(f"point {i} has no {missing}; every point needs all objective metrics")
        rows.append([float(p[k]) if s == "max" else -float(p[k]) for k, s in objectives.items()])
    return np.asarray(rows, dtype=np.float64).reshape(len(points), len(objectives))


def dominates(a: Mapping[str, float], b: Mapping[str, float], objectives: Mapping[str, str]) -> bool:
    """True when ``a`` is no worse than ``b`` on every objective and better on at least one."""
    sa, sb = _score_matrix([a, b], objectives)
    return bool(np.all(sa >= sb) and np.any(sa > sb))


def pareto_mask(points: Sequence[Mapping[str, float]], objectives: Mapping[str, str]) -> np.ndarray:
    """Boolean mask: True for the points no other point dominates."""
    s = _score_matrix(points, objectives)
    n = len(s)
    on_front = np.ones(n, dtype=bool)
    for i in range(n):
        # any j with s[j] >= s[i] everywhere and > somewhere dominates i
        ge = np.all(s >= s[i], axis=1)
        gt = np.any(s > s[i], axis=1)
        on_front[i] = not np.any(ge & gt)
    return on_front


def pareto_front(points: Sequence[Mapping[str, float]], objectives: Mapping[str, str]) -> list[int]:
    """Indices of the non-dominated points, in input order."""
    return [int(i) for i in np.flatnonzero(pareto_mask(points, objectives))]
