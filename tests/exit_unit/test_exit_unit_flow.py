"""exit_unit.flow: the cost records, the floors check and the whole flow (slow)."""
from __future__ import annotations

import json

import pytest

from exit_unit.flow import CostRecord, cost_markdown, floor_notes, make_exit_unit, unit_configs

REQUIRED = {"policy", "variant", "classes", "width", "lut", "ff", "carry4", "dsp", "bram", "lut_levels",
            "latency_cycles", "ii", "vectors_checked", "mismatches"}


def record(**kw) -> CostRecord:
    base = dict(policy="margin", variant="parallel", classes=10, width=16, frac=9, top="t", lut=500, ff=100,
                carry4=10, dsp=0, bram=0.0, lut_levels=9, latency_cycles=3, ii=1, vectors_checked=10,
                mismatches=0, exhaustive=False, simulator="verilator")
    return CostRecord(**(base | kw))


def test_flow_builds_every_policy_and_variant_plus_exhaustive_configs():
    jobs = {(c.policy, v, c.classes, e) for c, v, e in unit_configs()}
    assert len(jobs) == 12 and ("entropy", "serial", 3, True) in jobs and ("margin", "parallel", 10, False) in jobs


def test_floor_check_names_what_is_missed():
    assert floor_notes(record()) == []
    assert floor_notes(record(lut=700, dsp=1, lut_levels=13)) == ["lut 700 > 600", "dsp 1 > 0", "LUT levels 13 > 12"]
    assert floor_notes(record(variant="serial", lut=9999)) == []
    assert "| margin | parallel | 10 x 16 | 500 |" in cost_markdown([record()])


@pytest.mark.slow
def test_make_exit_unit_writes_the_cost_table(tmp_path):
    path = make_exit_unit(tmp_path, simulator="icarus", quick=True)
    records = json.loads(path.read_text())
    assert len(records) == 12 and all(REQUIRED <= set(r) for r in records)
    assert all(r["mismatches"] == 0 and r["vectors_checked"] > 0 for r in records)
    assert (tmp_path / "cost.md").is_file()
    assert all(not floor_notes(CostRecord(**r)) for r in records)
