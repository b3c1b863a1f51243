"""Pareto front: no front point is dominated; every other point is dominated by a front point."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.dse.front import dominates, pareto_front, pareto_mask

OBJECTIVES = {"throughput_samples_per_s": "max", "accuracy": "max", "lut": "min"}

metric = st.integers(min_value=0, max_value=6)  # small range -> many ties and duplicates
point = st.fixed_dictionaries({"throughput_samples_per_s": metric, "accuracy": metric, "lut": metric})


@settings(max_examples=200, deadline=None)
@given(st.lists(point, min_size=1, max_size=25))
def test_front_has_no_dominated_point_and_dominates_every_other_point(points):
    front = pareto_front(points, OBJECTIVES)
    assert front, "a non-empty set has a non-empty front"
    for i in front:
        assert not any(dominates(p, points[i], OBJECTIVES) for p in points)
    for i in set(range(len(points))) - set(front):
        assert any(dominates(points[j], points[i], OBJECTIVES) for j in front)


def test_front_hand_worked_minimise_lut_maximise_accuracy():
    pts = [{"lut": 10, "accuracy": 0.9}, {"lut": 5, "accuracy": 0.9}, {"lut": 5, "accuracy": 0.8},
           {"lut": 20, "accuracy": 0.95}, {"lut": 5, "accuracy": 0.9}]
    assert pareto_front(pts, {"lut": "min", "accuracy": "max"}) == [1, 3, 4]


def test_front_of_random_seeded_continuous_points_matches_brute_force():
    rng = np.random.default_rng(7)
    pts = [dict(zip(OBJECTIVES, v)) for v in rng.random((200, 3))]
    brute = [not any(dominates(q, p, OBJECTIVES) for q in pts) for p in pts]
    assert list(pareto_mask(pts, OBJECTIVES)) == brute


def test_front_rejects_unknown_sense_and_missing_metric():
    with pytest.raises(ValueError, match="'max' or 'min'"):
        pareto_front([{"lut": 1}], {"lut": "smallest"})
    with pytest.raises(ValueError, match="needs all objective metrics"):
        pareto_front([{"lut": 1}], {"lut": "min", "accuracy": "max"})
