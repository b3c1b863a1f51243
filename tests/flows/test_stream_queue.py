"""The conditional buffer as a queue (flows/dse/streaming/queue.py) against independent references:
a cycle-by-cycle simulation of the same buffer, and a Monte Carlo M/D/1/K loss queue."""
from __future__ import annotations

import numpy as np
import pytest

from flows.dse.streaming.queue import READ_FRACTION, md1k, tandem_trace


def cycle_stepped(exits: np.ndarray, s1: int, s2: int, slots: int, read_fraction: float = READ_FRACTION) -> np.ndarray:
    """Start cycle of each frame, stepping one cycle at a time: stage 1 starts a frame when s1 cycles have
    passed since its last and a slot is free; a dropped frame frees its slot s1 cycles after it started, a
    kept one once stage 2 has read it (READ_FRACTION x s2 after stage 2 took it, at the earliest s1 after it
    started);
    slots free in order, as cond_buffer.v frees them."""
    read = int(read_fraction * s2)
    starts, occupied, waiting = [], [], []          # occupied: release cycle (None while still waiting)
    next_start, stage2_busy_until, i, cycle = 0, 0, 0, 0
    while i < len(exits) or waiting:
        # stage 2 takes the oldest kept frame whose last beat is in
        if waiting and cycle >= stage2_busy_until and cycle >= waiting[0][1]:
            slot, _ = waiting.pop(0)
            occupied[slot] = cycle + read
            stage2_busy_until = cycle + s2
        # slots free in order (cond_buffer.v): one is free once it and every older one are released
        live, latest = 0, -1
        for r in occupied:
            latest = float("inf") if r is None or latest == float("inf") else max(latest, r)
            live += latest > cycle
        if i < len(exits) and cycle >= next_start and live < slots:
            starts.append(cycle)
            if exits[i] == 2:
                occupied.append(None)
                waiting.append((len(occupied) - 1, cycle + s1))
            else:
                occupied.append(cycle + s1)
            next_start = cycle + s1
            i += 1
        cycle += 1
    return np.asarray(starts, dtype=float)


@pytest.mark.parametrize("s2,slots", [(8, 1), (16, 2), (40, 3), (20, 4), (64, 6)])
def test_trace_matches_a_cycle_by_cycle_simulation_of_the_buffer(s2, slots):
    rng = np.random.default_rng(s2 + slots)
    exits = np.where(rng.random(300) < 0.25, 2, 1)
    exits[100:115] = 2      # a burst of hard samples
    trace = tandem_trace(exits, [4, s2], [slots])
    assert np.array_equal(trace.start_cycles, cycle_stepped(exits, 4, s2, slots))


@pytest.mark.parametrize("read_fraction", [0.0, 0.25, 1.0])
def test_trace_matches_the_cycle_by_cycle_buffer_whenever_stage_2_frees_a_kept_frame(read_fraction):
    rng = np.random.default_rng(7)
    exits = np.where(rng.random(300) < 0.3, 2, 1)
    trace = tandem_trace(exits, [4, 40], [3], read_fraction=read_fraction)
    assert np.array_equal(trace.start_cycles, cycle_stepped(exits, 4, 40, 3, read_fraction))


def test_a_kept_frame_held_longer_slows_a_full_buffer():
    exits = np.where(np.arange(400) % 4 == 0, 2, 1)
    early, late = (tandem_trace(exits, [10, 36], [3], read_fraction=f).samples_per_cycle for f in (0.0, 1.0))
    assert late < 0.9 * early


def test_directly_coupled_stages_run_at_the_slower_stage():
    everyone = np.full(200, 2)
    assert tandem_trace(everyone, [50, 120], [0]).samples_per_cycle == pytest.approx(1 / 120)
    assert tandem_trace(everyone, [120, 50], [0]).samples_per_cycle == pytest.approx(1 / 120)


def test_a_deep_enough_buffer_lets_stage_1_run_at_its_own_rate_when_few_go_on():
    exits = np.where(np.arange(4000) % 10 == 0, 2, 1)       # one in ten goes on, evenly spaced
    # slots free in order: the nine dropped frames behind a kept one wait for it, so 2 slots are not enough
    assert tandem_trace(exits, [10, 80], [2]).samples_per_cycle < 0.8 / 10
    assert tandem_trace(exits, [10, 80], [12]).samples_per_cycle == pytest.approx(1 / 10)
    # stage 2 bound: one kept frame per 150 cycles is ten samples per 150 (once the buffer has filled)
    assert tandem_trace(exits, [10, 150], [40]).samples_per_cycle == pytest.approx(1 / 15, rel=0.01)


def monte_carlo_md1k(q: float, s1: float, s2: float, k: int, n: int = 200_000, seed: int = 0) -> float:
    """Fraction of Poisson arrivals (rate q/s1) that find k in an M/D/1/K system (lost)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(s1 / q, n))
    departures: list[float] = []
    lost = 0
    for t in arrivals:
        departures = [d for d in departures if d > t]
        if len(departures) >= k:
            lost += 1
            continue
        departures.append(max(t, departures[-1] if departures else t) + s2)
    return lost / n


@pytest.mark.parametrize("q,s2,k", [(0.05, 3136, 4), (0.1, 1568, 2), (0.3, 700, 6)])
def test_md1k_blocking_matches_a_monte_carlo_queue(q, s2, k):
    assert md1k(q, 196, s2, k).blocking == pytest.approx(monte_carlo_md1k(q, 196, s2, k), abs=0.01)


def test_bad_queue_inputs_are_refused():
    with pytest.raises(ValueError, match="buffer depths"):
        tandem_trace([1, 2, 1], [4, 8], [])
    with pytest.raises(ValueError, match="read_fraction"):
        tandem_trace([1, 2, 1], [4, 8], [2], read_fraction=1.5)
    with pytest.raises(ValueError, match="q="):
        md1k(1.5, 4, 8, 2)
