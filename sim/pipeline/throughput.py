"""Steady-state throughput of a streaming design from the cycles of its handshakes.

A whole-run figure (samples / cycles from the first input to the last result) charges the design
for the pipeline's fill and drain: 360 samples through a 12-cycle pipeline that takes one sample
per cycle read as 360 / 372 = 0.968. ``steady_state`` measures the rate the design sustains:

* sort the samples by the cycle their first beat was accepted, a[0] <= ... <= a[N-1];
* cut ``trim`` of them at each end: n0 = floor(trim * N), n1 = N - 1 - n0 (at least one sample
  apart, so any N >= 2 has a window);
* the window is the cycles [a[n0], a[n1]): it holds the n1 - n0 samples n0 .. n1-1, all their beats
  included, so a sample of many beats (a streamed frame) counts once;
* cycles of the window in which the design was ready for a beat and the source had none to give
  (``source_idle``) are the source's, not the design's: they are left out of the denominator;
* input rate = (n1 - n0) / (window cycles - source-idle cycles in it), in samples per cycle;
* per exit: of the window's samples, those whose result left at that exit, over the same cycles.
  Every accepted sample leaves once, so in steady state this is the rate results leave at that
  exit, and the exit rates add up to the input rate (less any sample that never left). Counting
  the results that happen to leave inside the input window instead would shift each exit by its
  latency: on a 48-sample run of a two-exit pipeline it read 0.64 results per cycle for a design
  that delivers 1.0.

So a design that takes one sample per cycle reports 1.0 whatever its latency, also when its source
pauses.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

TRIM = 0.1  # fraction of the samples cut at each end of the run


@dataclass(frozen=True)
class SteadyState:
    samples_per_cycle: float                 # input acceptance rate in the window
    exit_samples_per_cycle: dict[int, float] = field(default_factory=dict)  # exit -> results per cycle
    first_sample: int = 0                    # n0 (by acceptance order)
    last_sample: int = 0                     # n1: the window ends where this sample's first beat was accepted
    window_cycles: int = 0                   # a[n1] - a[n0]
    source_idle_cycles: int = 0              # of those, the cycles the source had nothing to offer
    trim: float = TRIM

    def to_dict(self) -> dict:
        return {"samples_per_cycle": self.samples_per_cycle,
                "exit_samples_per_cycle": {str(k): v for k, v in self.exit_samples_per_cycle.items()},
                "first_sample": self.first_sample, "last_sample": self.last_sample,
                "window_cycles": self.window_cycles, "source_idle_cycles": self.source_idle_cycles,
                "trim": self.trim}


def steady_state(accepted: Sequence[int], exits: Sequence[int] | None = None, source_idle: Sequence[int] = (),
                 trim: float = TRIM) -> SteadyState:
    """Steady-state input and per-exit rates (module docstring).

    accepted: for each sample, the cycle its first beat was accepted.
    exits: for each sample (same order), the exit its result left at; 0 (or less) if it never left.
    source_idle: the cycles in which the design was ready for an input beat but the source offered none.
    Raises ValueError with fewer than two samples, mismatched lengths or a trim outside [0, 0.5).
    """
    a = np.asarray(accepted, dtype=np.int64)
    if len(a) < 2:
        raise ValueError(f"a steady-state rate needs at least 2 accepted samples, got {len(a)}")
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim={trim} must be in [0, 0.5): the fraction of samples cut at each end")
    e = np.zeros(len(a), dtype=np.int64) if exits is None else np.asarray(exits, dtype=np.int64)
    if len(e) != len(a):
        raise ValueError(f"{len(a)} acceptance cycles but {len(e)} exits; give one of each per sample")
    order = np.argsort(a, kind="stable")
    a, e = a[order], e[order]
    n = len(a)
    n0 = min(math.floor(trim * n), (n - 2) // 2)
    n1 = n - 1 - n0
    lo, hi = int(a[n0]), int(a[n1])
    idle = np.asarray(source_idle, dtype=np.int64)
    idle_in = int(np.count_nonzero((idle >= lo) & (idle < hi)))
    busy = hi - lo - idle_in
    if busy <= 0:  # samples n0 .. n1 accepted in one cycle: a multi-port input, no rate to speak of
        raise ValueError(f"samples {n0}..{n1} were accepted within one cycle; no steady-state window")
    window = e[n0:n1]
    per_exit = {int(k): int(np.count_nonzero(window == k)) / busy for k in np.unique(window) if k > 0}
    return SteadyState((n1 - n0) / busy, per_exit, n0, n1, hi - lo, idle_in, trim)
