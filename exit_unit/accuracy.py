"""How far the exit unit's confidence is from the float64 quantity it stands for, over its whole range.

The unit works on quantised logits with lookup tables (``reference.py``); the policy it approximates
is, on the same logits taken as reals: the top-1 softmax probability (max_prob), the softmax entropy
divided by ln C (entropy) or top-1 minus top-2 (margin). ``confidence_error`` measures
|unit - float64| on vectors that cover the whole confidence range, not only where random logits
land:

1. random logits over five decades of spread, with and without one dominant class;
2. two-level families: one top class, k others at distance a, the rest at distance b, on a grid of
   (k, a, b) that reaches past the end of the exp table (where the LUTs clamp);
3. a seeded local search from the worst vectors found so far.

Deterministic for a given seed. It is a search, not a proof: the stated worst case is the largest
error found this way. (Exhaustive configurations, e.g. 3 classes x 4 bits, pass ``extra`` = every
input and get the exact worst case.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .reference import ExitUnitConfig, confidence

BINS = 10            # confidence bins of the per-range report
SEARCH_ROUNDS = 60   # local-search rounds
SEARCH_KEEP = 128    # vectors the local search starts from each round


def float_confidence(cfg: ExitUnitConfig, logit_codes: np.ndarray) -> np.ndarray:
    """The policy's value on the logits as reals, in float64 (no lookup tables, no fixed point)."""
    x = cfg.logit.to_real(np.asarray(logit_codes)).astype(np.float64)
    if cfg.policy == "margin":
        top2 = np.sort(x, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    if cfg.policy == "max_prob":
        return p.max(axis=1)
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) / math.log(cfg.classes)


def absolute_error(cfg: ExitUnitConfig, logit_codes: np.ndarray) -> np.ndarray:
    """Per row |unit confidence (human units) - float64 value|."""
    return np.abs(cfg.confidence_value(confidence(cfg, logit_codes)) - float_confidence(cfg, logit_codes))


@dataclass(frozen=True)
class ErrorReport:
    policy: str
    vectors: int
    max_error: float
    worst_logits: list[int]        # the codes of the worst vector
    worst_value: float             # float64 confidence there
    bins: list[dict]               # {lo, hi, vectors, max_error} over the float confidence range

    def to_dict(self) -> dict:
        return {"policy": self.policy, "vectors": self.vectors, "max_error": self.max_error,
                "worst_logits": self.worst_logits, "worst_value": self.worst_value, "bins": self.bins}


def _random_logits(cfg: ExitUnitConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    spread = np.exp(rng.uniform(math.log(0.01), math.log(30.0), (n, 1)))
    x = rng.normal(0.0, 1.0, (n, cfg.classes)) * spread
    gap = rng.uniform(0.0, 16.0, n) * (rng.random(n) < 0.7)
    x[np.arange(n), rng.integers(0, cfg.classes, n)] += gap
    return cfg.logit.quantize(x)


def _two_level_logits(cfg: ExitUnitConfig, steps: int) -> np.ndarray:
    """Top class at the largest code that leaves room, k others at distance a, the rest at b."""
    fmt, C = cfg.logit, cfg.classes
    span = fmt.max_code - fmt.min_code
    # past the exp table's end (where the LUTs clamp); margin has no table: its whole range
    reach = span if cfg.policy == "margin" else min(span, int(2 * cfg.step * (1 << cfg.index_bits) / fmt.lsb))
    dist = np.unique(np.linspace(0, reach, steps).astype(np.int64))
    a, b = np.meshgrid(dist, dist, indexing="ij")
    a, b = a.ravel(), b.ravel()
    rows = []
    for k in range(1, C):
        z = np.empty((len(a), C), dtype=np.int64)
        z[:, 0] = fmt.max_code
        z[:, 1:k + 1] = (fmt.max_code - a)[:, None]
        z[:, k + 1:] = (fmt.max_code - b)[:, None]
        rows.append(z)
    return np.clip(np.concatenate(rows), fmt.min_code, fmt.max_code)


def _local_search(cfg: ExitUnitConfig, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fmt, C = cfg.logit, cfg.classes
    best = start
    reach = max(1, (1 << cfg.shift) * 3)  # a few LUT steps
    for _ in range(SEARCH_ROUNDS):
        moves = rng.integers(-reach, reach + 1, (len(best) * 16, C)) * (rng.random((len(best) * 16, C)) < 0.3)
        cand = np.clip(np.repeat(best, 16, axis=0) + moves, fmt.min_code, fmt.max_code)
        pool = np.concatenate([best, cand])
        best = pool[np.argsort(absolute_error(cfg, pool), kind="stable")[-SEARCH_KEEP:]]
    return best


def range_vectors(cfg: ExitUnitConfig, extra: np.ndarray | None = None, random_vectors: int = 100_000,
                  grid_steps: int = 96, seed: int = 0) -> np.ndarray:
    """Logit codes covering the whole confidence range, plus the local search's finds (module docstring).

    extra: more logit codes to include (e.g. a verification set, or every input of a small unit)."""
    rng = np.random.default_rng(seed)
    parts = [_random_logits(cfg, random_vectors, rng), _two_level_logits(cfg, grid_steps)]
    if extra is not None:
        parts.append(np.asarray(extra, dtype=np.int64))
    z = np.concatenate(parts)
    worst = z[np.argsort(absolute_error(cfg, z), kind="stable")[-SEARCH_KEEP:]]
    return np.concatenate([z, _local_search(cfg, worst, rng)])


def confidence_error(cfg: ExitUnitConfig, extra: np.ndarray | None = None, **options) -> ErrorReport:
    """Worst |unit - float64| over ``range_vectors`` (same options), overall and per confidence bin."""
    z = range_vectors(cfg, extra, **options)
    err = absolute_error(cfg, z)
    value = float_confidence(cfg, z)
    top = 1.0 if cfg.policy != "margin" else float((cfg.logit.max_code - cfg.logit.min_code) * cfg.logit.lsb)
    edges = np.linspace(0.0, top, BINS + 1)
    which = np.clip(np.searchsorted(edges, value, side="right") - 1, 0, BINS - 1)
    bins = [{"lo": float(edges[i]), "hi": float(edges[i + 1]), "vectors": int(np.sum(which == i)),
             "max_error": float(err[which == i].max()) if np.any(which == i) else None} for i in range(BINS)]
    i = int(np.argmax(err))
    return ErrorReport(cfg.policy, len(z), float(err[i]), [int(v) for v in z[i]], float(value[i]), bins)
