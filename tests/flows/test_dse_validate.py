"""DSE validation helpers: steady-state throughput from the accept times."""
from __future__ import annotations

import numpy as np

from flows.dse.validate import _acceptance_rate


def test_throughput_is_the_input_acceptance_rate_without_the_drain(tmp_path):
    record = tmp_path / "early_exit.npz"
    np.savez(record, accepted=np.arange(10, 10 + 2 * 100, 2))  # one sample every 2 cycles
    assert _acceptance_rate(record) == 0.5
    assert _acceptance_rate(tmp_path / "missing.npz") is None
