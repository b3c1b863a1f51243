"""DSE validation helpers: steady-state throughput from the accept times; runs trimmed to the bench's limit."""
from __future__ import annotations

import numpy as np

from flows.dse.validate import _acceptance_rate, _samples_within_tb_limit


def test_throughput_is_the_input_acceptance_rate_without_the_drain(tmp_path):
    record = tmp_path / "early_exit.npz"
    np.savez(record, accepted=np.arange(10, 10 + 2 * 100, 2))  # one sample every 2 cycles
    assert _acceptance_rate(record) == 0.5
    assert _acceptance_rate(tmp_path / "missing.npz") is None


def test_pipeline_runs_are_trimmed_only_when_a_stage_outlasts_the_bench_limit():
    assert _samples_within_tb_limit(360, 9.0) == 360
    n = _samples_within_tb_limit(360, 36.0)
    assert n < 360 and n * 36 < 20 * n + 2000  # the bench (20 cycles/sample + 2000) can drain them
