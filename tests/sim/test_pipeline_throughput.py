"""steady_state: the input acceptance rate with fill, drain and the source's idle cycles left out, and the rate
per exit, on handshake records whose true rate is known by construction."""
from __future__ import annotations

import numpy as np
import pytest

from sim.pipeline.throughput import steady_state


def test_one_sample_per_cycle_is_rate_one_whatever_the_run_length():
    for n in (2, 3, 48, 360):
        assert steady_state(np.arange(100, 100 + n)).samples_per_cycle == 1.0


def test_a_slow_start_and_end_are_cut_but_a_slow_middle_is_not():
    # 100 samples: the first 5 and last 5 one every 10 cycles (fill, drain stalls), the middle one per cycle
    gaps = [10] * 5 + [1] * 89 + [10] * 5
    a = np.concatenate([[0], np.cumsum(gaps)])
    assert steady_state(a).samples_per_cycle == 1.0
    gaps = [1] * 45 + [10] * 10 + [1] * 44  # a stall in the middle is the design's
    a = np.concatenate([[0], np.cumsum(gaps)])
    r = steady_state(a)
    assert (r.first_sample, r.last_sample) == (10, 89)
    assert r.samples_per_cycle == pytest.approx(79 / (69 + 100))


def test_frames_of_many_beats_count_once_per_sample():
    """A streaming core takes 4 beats per sample back to back: first beats every 4 cycles -> 0.25."""
    first_beats = np.arange(50) * 4 + 7
    assert steady_state(first_beats).samples_per_cycle == 0.25


def test_cycles_the_source_had_nothing_to_offer_are_not_the_designs():
    rng = np.random.default_rng(0)
    idle = np.flatnonzero(rng.random(1000) < 0.3)  # the design is always ready; the source idles 30% of cycles
    busy = np.setdiff1d(np.arange(1000), idle)
    r = steady_state(busy, source_idle=idle)
    assert r.samples_per_cycle == 1.0
    assert r.source_idle_cycles == np.count_nonzero((idle >= busy[r.first_sample]) & (idle < busy[r.last_sample]))
    # a design that takes every other cycle stays at 0.5 when the source idles only where it was not ready
    a = np.arange(0, 400, 2)
    assert steady_state(a, source_idle=[]).samples_per_cycle == 0.5


def test_exit_rates_are_the_window_samples_leaving_there_and_add_up_to_the_input_rate():
    a = np.arange(200) * 2                       # 0.5 samples per cycle
    exits = np.where(np.arange(200) % 4 == 0, 3, 1)  # a quarter go to exit 3
    exits[150] = 0                                 # one never left
    r = steady_state(a, exits)
    # window: samples 20..178 (159 of them) over the 318 cycles between samples 20 and 179
    assert (r.first_sample, r.last_sample, r.window_cycles) == (20, 179, 318)
    assert r.samples_per_cycle == 0.5
    assert r.exit_samples_per_cycle[3] == pytest.approx(40 / 318)    # 20, 24, ..., 176
    assert r.exit_samples_per_cycle[1] == pytest.approx(118 / 318)   # the rest but sample 150
    assert sum(r.exit_samples_per_cycle.values()) == pytest.approx(r.samples_per_cycle - 1 / 318)
    assert set(r.exit_samples_per_cycle) == {1, 3}


def test_acceptance_order_not_list_order_defines_the_window():
    a = np.arange(100)
    exits = np.r_[np.full(50, 1), np.full(50, 2)]
    perm = np.random.default_rng(1).permutation(100)
    assert steady_state(a[perm], exits[perm]) == steady_state(a, exits)


@pytest.mark.parametrize("args, words", [(([5],), "at least 2"), (([1, 2], [1]), "2 acceptance cycles but 1"),
                                          (([3, 3, 3],), "within one cycle")])
def test_records_without_a_window_are_refused(args, words):
    with pytest.raises(ValueError, match=words):
        steady_state(*args)
    with pytest.raises(ValueError, match="trim"):
        steady_state([1, 2, 3], trim=0.5)
