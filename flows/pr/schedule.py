"""Discrete-event simulation of the PR schedules and of the all-resident design.

Resources are the resident stage cores, the reconfigurable region(s) and the
configuration port. Work is placed in order, each task at the earliest time its
resource is free and its inputs exist (list scheduling):

- a *run* of stage k on n samples occupies its core from ``start`` for
  ``setup + latency + (n-1) * interval`` (a region must drain before it is
  rewritten; a resident pipelined core accepts the next sample after ``interval``);
  sample j of the run is done at ``start + setup + latency + j * interval``;
- a *reconfiguration* of a region to stage k occupies the region and the port
  for ``reconfig_s`` and happens only when the region holds another stage;
- samples enter in batches; batch b is admitted when batch ``b - window`` has
  finished (``window`` bounds what is buffered in DDR / on-chip FIFOs).

Latency of a sample = the time its result leaves minus its batch's admission
(time spent waiting in the host queue for a batch to fill is not counted: the
input is backlogged, i.e. the throughput-bound case).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import ExitProfile, PrError


@dataclass(frozen=True)
class StageTiming:
    latency_s: float
    interval_s: float
    setup_s: float = 0.0


@dataclass
class SimResult:
    samples: int
    makespan_s: float
    latencies_s: np.ndarray
    reconfigs: int
    reconfig_time_s: float
    busy_s: list[float]            # active time of each stage core

    @property
    def throughput(self) -> float:
        return self.samples / self.makespan_s

    @property
    def mean_latency(self) -> float:
        return float(np.mean(self.latencies_s))

    @property
    def p99_latency(self) -> float:
        return float(np.percentile(self.latencies_s, 99))

    @property
    def reconfigs_per_1000(self) -> float:
        return 1000.0 * self.reconfigs / self.samples


def draw_exits(rates: ExitProfile, samples: int, seed: int = 0) -> np.ndarray:
    """Exit index (1-based) of each sample, drawn with the calibrated rates."""
    if samples < 1:
        raise PrError(f"samples must be at least 1, got {samples}")
    rng = np.random.default_rng(seed)
    return rng.choice(np.arange(1, len(rates.rates) + 1), size=samples, p=np.asarray(rates.rates))


def simulate(exits: np.ndarray, timings: list[StageTiming], region_of: list[int | None], batch: int,
             window: int, reconfig_s: float, pipelined: bool = False, initial: dict[int, int] | None = None
             ) -> SimResult:
    """Run the samples (``exits[i]`` = the exit sample i leaves at) through the stages.

    region_of[k-1]: the region holding stage k, or None when stage k is resident.
    initial: the stage each region holds at time 0 (default: the first stage mapped to it).
    """
    exits = np.asarray(exits, dtype=np.int64)
    n, K = exits.size, len(timings)
    if batch < 1 or window < 1:
        raise PrError(f"batch ({batch}) and window ({window}) must be at least 1")
    if n == 0 or exits.min() < 1 or exits.max() > K:
        raise PrError(f"exits must be in 1..{K} for {K} stages")
    loaded = dict(initial) if initial is not None else {}
    for k in range(1, K + 1):
        r = region_of[k - 1]
        if r is not None:
            loaded.setdefault(r, k)
    free: dict[tuple, float] = {}
    port_free = 0.0
    done = np.zeros(n)
    admitted = np.zeros(n)
    batch_end: list[float] = []
    busy = [0.0] * K
    reconfigs, reconfig_time = 0, 0.0
    for b, lo in enumerate(range(0, n, batch)):
        ex = exits[lo:lo + batch]
        admit = batch_end[b - window] if b >= window else 0.0
        ready, end = admit, admit
        for k in range(1, K + 1):
            idx = np.nonzero(ex >= k)[0]
            if idx.size == 0:
                break
            r = region_of[k - 1]
            res = ("region", r) if r is not None else ("stage", k)
            t_free = free.get(res, 0.0)
            if r is not None and loaded.get(r) != k:
                start_r = max(t_free, port_free)
                t_free = port_free = start_r + reconfig_s
                loaded[r] = k
                reconfigs += 1
                reconfig_time += reconfig_s
            t = timings[k - 1]
            m = idx.size
            start = max(t_free, ready)
            out = start + t.setup_s + t.latency_s + np.arange(m) * t.interval_s
            last = float(out[-1])
            free[res] = start + t.setup_s + m * t.interval_s if pipelined else last
            busy[k - 1] += m * t.interval_s
            leaving = idx[ex[idx] == k]
            done[lo + leaving] = out[ex[idx] == k]
            ready, end = last, max(end, last)
        admitted[lo:lo + batch] = admit
        batch_end.append(end)
    return SimResult(samples=n, makespan_s=max(batch_end), latencies_s=done - admitted, reconfigs=reconfigs,
                     reconfig_time_s=reconfig_time, busy_s=busy)


def energy_per_sample(sim: SimResult, static_w: float, stage_w: list[float], reconfig_w: float) -> float:
    """Static power over the whole run + each core's active power while busy + reconfiguration power."""
    joules = static_w * sim.makespan_s + sum(w * t for w, t in zip(stage_w, sim.busy_s))
    joules += reconfig_w * sim.reconfig_time_s
    return joules / sim.samples
