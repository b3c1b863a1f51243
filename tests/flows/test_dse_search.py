"""DSE search over the analytic model: enumeration, NSGA-II, front, baselines and bad-input errors."""
from __future__ import annotations

import numpy as np
import pytest

from exit_unit.reference import ExitUnitConfig
from flows.dse.front import dominates
from flows.dse.model import Platform, StageCost
from flows.dse.search import (Context, InfeasibleObjective, calibrated_threshold_sets, distinct_parallelisms,
                              explore, space_size)
from frontend.fixedpoint import FixedFormat

BUDGET = {"lut": 53_200, "ff": 106_400, "dsp": 220, "bram": 140}


@pytest.fixture(scope="module")
def ctx():
    """3 exits, 10 classes: later exits are more often right (synthetic logits, seeded)."""
    rng = np.random.default_rng(0)
    fmt = FixedFormat(16, 9, True)
    configs = [ExitUnitConfig(classes=10, logit=fmt, policy="max_prob") for _ in range(3)]

    def codes(y, skill):
        z = rng.normal(0, 1.0, (len(y), 10))
        z[np.arange(len(y)), y] += skill * rng.uniform(0, 3, len(y))
        return fmt.to_codes(np.round(z * 512) / 512)

    y_cal, y_test = rng.integers(0, 10, 300), rng.integers(0, 10, 200)
    cal = [codes(y_cal, s) for s in (0.8, 1.4, 2.5)]
    test = [codes(y_test, s) for s in (0.8, 1.4, 2.5)]
    sets = calibrated_threshold_sets(configs, cal, y_cal, [100, 300, 400], (0.0, 2.0, 8.0))
    stages = [StageCost((36,), (2000.0, 350.0), (900.0, 120.0), 6),
              StageCost((9,), (1500.0, 900.0), (700.0, 200.0), 6),
              StageCost((), (4500.0, 0.0), (1200.0, 0.0), 5)]
    platform = Platform(100.0, 1300.0, 300.0, 3, w_per_klut=0.01, pl_static_w=0.1)
    return Context(stages, platform, configs, cal, y_cal, sets, test, y_test)


def _check_front(result):
    pts = [p["predicted"] for p in result.points]
    for p, rec in zip(pts, result.points):
        dominated = any(dominates(q, p, result.objectives) for q in pts)
        assert dominated != rec["on_front"]
        if not rec["on_front"]:
            assert any(dominates(f["predicted"], p, result.objectives) for f in result.points if f["on_front"])


def test_small_space_is_enumerated_and_front_is_non_dominated(ctx):
    result = explore(ctx, "throughput", BUDGET)
    assert result.searched == "enumerated" and result.candidates == space_size(ctx)
    _check_front(result)
    chosen = next(p for p in result.points if p["id"] == result.chosen)
    assert chosen["on_front"]
    best = max(p["predicted"]["throughput_samples_per_s"] for p in result.points)
    assert chosen["predicted"]["throughput_samples_per_s"] == best
    assert result.baselines["no_exit"]["exits"] == [3] and result.baselines["uniform"]["exits"] == [1, 2, 3]


def test_large_space_uses_nsga2_and_still_returns_a_valid_front(ctx):
    result = explore(ctx, "energy", BUDGET, max_enumerate=10, n_trials=120)
    assert result.searched == "nsga2" and 10 < result.candidates <= 120
    _check_front(result)


def test_lut_budget_bounds_every_point_and_the_baselines(ctx):
    result = explore(ctx, "throughput", {**BUDGET, "lut": 20_000})
    assert max(p["predicted"]["lut"] for p in result.points) <= 20_000
    assert result.baselines["uniform"]["predicted"]["lut"] <= 20_000


def test_distinct_parallelisms_give_each_initiation_interval_once():
    assert distinct_parallelisms(9) == [1, 2, 3, 5, 9]
    assert distinct_parallelisms(36)[-3:] == [12, 18, 36]


def test_impossible_objectives_name_the_best_reachable_value(ctx):
    with pytest.raises(InfeasibleObjective, match=r"smaller than the smallest design \w+ \(\d[\d,]* LUTs"):
        explore(ctx, "throughput", {**BUDGET, "lut": 1000})
    with pytest.raises(InfeasibleObjective, match=r"accuracy 0\.9990 on the calibration split; the best reachable "
                                                 r"is 0\.\d+"):
        explore(ctx, "throughput", BUDGET, min_accuracy=0.999)
    with pytest.raises(InfeasibleObjective, match=r"latency bound of 0\.01 us; the lowest reachable worst-case "
                                                 r"latency is 0\.\d+ us"):
        explore(ctx, "latency", BUDGET, max_latency_cycles=1)
    with pytest.raises(ValueError, match="objective 'speed' is unknown"):
        explore(ctx, "speed", BUDGET)


def test_progress_reports_designs_done_and_the_best_feasible_so_far(ctx):
    ticks = []
    result = explore(ctx, "throughput", BUDGET, tick=lambda done, total, best: ticks.append((done, total, best)))
    assert ticks[-1][:2] == (result.candidates, result.candidates)
    best_id = ticks[-1][2].split(":")[0]
    by_id = {p["id"]: p["predicted"]["throughput_samples_per_s"] for p in result.points}
    assert by_id[best_id] == max(by_id.values())


def test_exit_policy_is_a_knob_with_its_own_units_thresholds_and_routing(ctx):
    from dataclasses import replace

    from flows.dse.model import Design

    margin_cfgs = [replace(c, policy="margin") for c in ctx.configs]
    y = ctx.labels
    sets = {exits: [tuple(margin_cfgs[k - 1].confidence_format.max_code if k == exits[-1] else 40 for k in exits)]
            for exits in ctx.threshold_sets}
    cheaper = replace(ctx.platform, exit_unit_lut=500.0, exit_unit_ff=100.0, exit_latency_cycles=2)
    both = Context(ctx.stages, ctx.platform, ctx.configs, ctx.codes, y, ctx.threshold_sets,
                   others={"margin": Context(ctx.stages, cheaper, margin_cfgs, ctx.codes, y, sets)})
    assert [c.policy for c in both.policies()] == ["max_prob", "margin"]
    assert space_size(both) > space_size(ctx)
    d = Design((1, 3), (40, 4000), (4, 1, 1), "anytime")
    max_prob, margin = both.predict(d), both.predict(replace(d, policy="margin"))
    assert max_prob.lut - margin.lut == pytest.approx(2 * (1300.0 - 500.0))   # two kept exit units
    assert max_prob.exit_rates != margin.exit_rates                           # routed by each policy's rule
    result = explore(both, "throughput", BUDGET)
    assert {p.get("policy") for p in result.points} == {None, "margin"}
    with pytest.raises(ValueError, match="policy 'entropy' was not explored"):
        both.predict(replace(d, policy="entropy"))


def test_every_choice_is_made_on_the_calibration_split_and_the_test_split_is_only_reported(ctx):
    """Replace the test split by labels that make every design wrong: nothing chosen may change."""
    from dataclasses import replace

    from flows.dse.model import Design

    constraints = dict(min_accuracy=0.5, max_latency_cycles=200)
    result = explore(ctx, "throughput", {**BUDGET, "lut": 30_000}, **constraints)
    wrong = [np.full(len(ctx.test_y), -1) for _ in ctx.test_codes]   # no class is ever -1
    blind = replace(ctx, test_y=wrong[0], _routes={})
    other = explore(blind, "throughput", {**BUDGET, "lut": 30_000}, **constraints)
    assert other.chosen == result.chosen and other.baselines["uniform"]["id"] == result.baselines["uniform"]["id"]
    assert [(p["id"], p["on_front"], p["predicted"]) for p in other.points] == \
        [(p["id"], p["on_front"], p["predicted"]) for p in result.points]
    assert all(p["accuracy_test"] == 0.0 for p in other.points)          # reported, from the test split
    # every figure names its split: the selection accuracy is the calibration routing, the test one apart
    for p in result.points:
        d = Design(tuple(p["exits"]), tuple(p["thresholds"]), tuple(p["parallelism"]), p["mode"], p.get("policy"))
        assert p["predicted_on"] == "calibration"
        assert p["accuracy_selection"] == p["predicted"]["accuracy"] == ctx.accuracy(d, "selection")
        assert p["accuracy_test"] == ctx.accuracy(d, "test") and p["accuracy_selection"] >= 0.5
        if p["on_front"] or p["id"] == result.chosen:
            assert p["predicted_test"]["accuracy"] == p["accuracy_test"]
    # MIN_ACCURACY acts on the calibration split: a bound met there but not on the test split is feasible
    gap = [p for p in result.points if p["accuracy_test"] < p["accuracy_selection"]]
    assert gap
    p = max(gap, key=lambda q: q["accuracy_selection"])
    bound = (p["accuracy_test"] + p["accuracy_selection"]) / 2
    assert p["id"] in {q["id"] for q in explore(ctx, "throughput", BUDGET, min_accuracy=bound).points}


def test_energy_objective_needs_the_boards_power_figures(ctx):
    from dataclasses import replace

    bare = replace(ctx, platform=replace(ctx.platform, w_per_klut=None, pl_static_w=None), _routes={})
    with pytest.raises(InfeasibleObjective, match="OBJECTIVE=energy needs power.w_per_klut and power.pl_static_w"):
        explore(bare, "energy", BUDGET)
    result = explore(bare, "throughput", BUDGET)
    assert all(p["predicted"]["energy_nj_per_sample"] is None for p in result.points)
