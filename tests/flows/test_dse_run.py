"""run_dse rejects bad input in one line before doing any work."""
from __future__ import annotations

import pytest

pytest.importorskip("dask.distributed")


def test_unknown_objective_names_the_choices(tmp_path):
    from flows.dse import run_dse

    with pytest.raises(ValueError, match="objective 'cheap' is unknown; use one of throughput, latency, energy"):
        run_dse(tmp_path, "examples/digits.yaml", "pynq-z2", objective="cheap")


def test_unreachable_scheduler_is_reported_before_any_work(tmp_path, monkeypatch):
    from flows.dse import run_dse
    from flows.dse.jobs import SchedulerUnreachable

    monkeypatch.setenv("DSE_SCHEDULER", "tcp://127.0.0.1:9")
    with pytest.raises(SchedulerUnreachable, match="unset DSE_SCHEDULER to use a local cluster"):
        run_dse(tmp_path, "examples/digits.yaml", "pynq-z2")
    assert not any(tmp_path.iterdir())
