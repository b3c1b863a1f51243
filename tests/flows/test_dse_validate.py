"""DSE validation cache: a rerun with nothing changed reads results back; mismatching runs are measured again.

What the keys cover is tested in test_cache_keys.py."""
from __future__ import annotations

from flows.dse.validate import _cached


def test_results_are_cached_by_content_and_failures_are_not(tmp_path):
    calls, hits = [], []

    def measure(mismatches: int):
        return lambda: calls.append(1) or {"mismatches": mismatches}

    ok = lambda r: r["mismatches"] == 0  # noqa: E731
    key = "0123abcd"
    assert _cached(tmp_path / f"{key}.json", measure(0), ok, hits) == {"mismatches": 0}
    assert _cached(tmp_path / f"{key}.json", measure(0), ok, hits) == {"mismatches": 0}
    assert (len(calls), hits) == (1, [f"{key}.json"])
    bad = tmp_path / "bad.json"
    _cached(bad, measure(3), ok, hits)
    _cached(bad, measure(3), ok, hits)
    assert len(calls) == 3 and not bad.exists()
