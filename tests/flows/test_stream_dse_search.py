"""The streaming DSE's selection (flows/dse/streaming/search.py, run.threshold_sets) on a model of known
figures: a synthetic two-exit classifier whose cores cost what an invented rule says, so the chosen
design can be checked against a brute-force answer, and the test split shown not to steer it."""
from __future__ import annotations

import numpy as np
import pytest

from exit_unit.reference import ExitUnitConfig
from flows.dse.streaming.design import StreamCandidate
from flows.dse.streaming.evaluate import CoreFigures, Routing, StreamModel
from flows.dse.streaming.run import threshold_sets
from flows.dse.streaming.search import Space, best, budget_sweep, evaluate_space
from frontend.fixedpoint import FixedFormat

LOGIT = FixedFormat(16, 9, True)
FRAME = 64          # pixels of stage 1's input frame
POLICIES = ("max_prob", "margin")


def _codes(rng, labels, sharpness):
    """Logit codes whose true class leads by a per-sample margin (exit 1 is sure of some samples only)."""
    z = rng.normal(0, 1, (len(labels), 4))
    z[np.arange(len(labels)), labels] += sharpness
    return LOGIT.quantize(z)   # integer codes


def _split(rng, n):
    y = rng.integers(0, 4, n)
    easy = rng.random(n) < 0.8
    return y, [_codes(rng, y, np.where(easy, 6.0, 0.3)), _codes(rng, y, np.full(n, 5.0))]


def _model(seed: int = 0, test_labels_shuffled: bool = False) -> StreamModel:
    rng = np.random.default_rng(seed)
    y_cal, cal = _split(rng, 400)
    y_test, test = _split(rng, 400)
    if test_labels_shuffled:
        y_test = rng.permutation(y_test)
    configs = {p: [ExitUnitConfig(4, LOGIT, p), ExitUnitConfig(4, LOGIT, p)] for p in POLICIES}
    routing = Routing(configs, {"selection": cal, "test": test}, {"selection": y_cal, "test": y_test})

    def stage_core(k, headless, logits_only, p_in, target_ii):
        # an invented rule: work per frame / II parallel lanes at 100 LUTs each, the head 300
        work = FRAME * (1 if k == 1 else 8)
        lanes = -(-work // target_ii)
        lut = 200 + 100 * lanes + (0 if headless else 300)
        return CoreFigures(lut=lut, ff=lut, ii_cycles=max(target_ii, FRAME // p_in), latency_cycles=target_ii,
                           forwarded_beats=0 if k == 2 else 16 // p_in, forwarded_bits=8 * p_in, forwarded_parallelism=p_in)

    return StreamModel(n_exits=2, frame_pixels=FRAME, clock_mhz=100.0, routing=routing, stage_core=stage_core,
                       exit_unit=lambda policy, k: CoreFigures(lut=150 if policy == "max_prob" else 90, ff=100),
                       cond_buffer=lambda width, beats, frames: (CoreFigures(lut=20 + 4 * frames, ff=30), frames),
                       decision_cycles=lambda policy, k: 5)


def _search(model, lut):
    sets = threshold_sets(model.routing, 2, [10, 100], policies=POLICIES)
    points, refused = evaluate_space(model, Space((1, 2), sets, 2, FRAME, (1, 2), (1, 4, 16), (1, 4)).designs())
    device = {"lut": lut, "ff": 10**6, "bram": 100.0, "dsp": 0}
    final = float(np.mean(model.routing.route(StreamCandidate((2,), (0,), ("max_prob",), 1, (1, 1), (0,)),
                                              "selection")[1]))
    return points, device, final, refused


def test_chosen_design_is_the_fastest_adaptive_one_within_budget_and_accuracy():
    model = _model()
    points, device, final, refused = _search(model, 2500)
    assert not refused
    chosen = best(points, "adaptive", device, final)
    assert chosen["mode"] == "adaptive" and len(chosen["design"].exits) == 2
    feasible = [p for p in points if p["mode"] == "adaptive" and p["predicted"]["lut"] <= 2500
                and p["accuracy_selection"] >= final - 0.01]
    assert chosen["predicted"]["throughput_samples_per_s"] == max(p["predicted"]["throughput_samples_per_s"]
                                                                   for p in feasible)
    baseline = best(points, "single", device, final)
    assert baseline["design"].exits == (2,)
    # the exits let stage 2 be slow and cheap: at this budget the adaptive design is faster
    assert chosen["predicted"]["throughput_samples_per_s"] > baseline["predicted"]["throughput_samples_per_s"]


def test_the_test_split_does_not_steer_the_choice():
    picks = []
    for shuffled in (False, True):
        model = _model(test_labels_shuffled=shuffled)
        points, device, final, _ = _search(model, 2500)
        picks.append(best(points, "adaptive", device, final)["design"])
    assert picks[0] == picks[1]


def test_a_larger_budget_never_gives_a_slower_best_design():
    model = _model()
    points, device, final, _ = _search(model, 10**6)
    rows = budget_sweep(points, [1200, 1800, 2500, 4000, 8000], device, final)
    rates = [r["adaptive"]["predicted"]["throughput_samples_per_s"] for r in rows if r["adaptive"]]
    assert rates == sorted(rates) and len(rates) >= 4


def test_a_design_with_a_bad_shape_is_refused():
    with pytest.raises(ValueError, match="stage IIs"):
        StreamCandidate((1, 2), (3, 0), ("max_prob", "max_prob"), 1, (64,), ())


def test_the_last_kept_exit_runs_its_cheapest_unit_and_that_changes_no_decision():
    from flows.dse.streaming.run import cheapest_unit_policy

    model = _model()
    cheap = threshold_sets(model.routing, 2, [10, 100], policies=POLICIES,
                           last_unit_policy=cheapest_unit_policy(model, POLICIES))
    # margin's unit is the cheaper one in this model; the deciding exit still takes every policy
    assert set(cheap) == {((2,), ("margin",)), ((1,), ("margin",)), ((1, 2), ("max_prob", "margin")),
                          ((1, 2), ("margin", "margin"))}
    same = threshold_sets(model.routing, 2, [10, 100], policies=POLICIES)
    assert [t[0] for t in cheap[((1, 2), ("max_prob", "margin"))]] == \
        [t[0] for t in same[((1, 2), ("max_prob", "max_prob"))]]
    for thresholds in cheap[((1, 2), ("max_prob", "margin"))]:
        mixed = StreamCandidate((1, 2), thresholds, ("max_prob", "margin"), 1, (64, 64), (2,))
        uniform = StreamCandidate((1, 2), (thresholds[0], same[((1, 2), ("max_prob", "max_prob"))][0][1]),
                               ("max_prob", "max_prob"), 1, (64, 64), (2,))
        for a, b in zip(model.routing.route(mixed, "selection"), model.routing.route(uniform, "selection")):
            assert np.array_equal(a, b)


def test_the_point_builds_start_with_the_one_that_simulates_longest():
    """Submitted in this order: the first submissions start on idle workers whatever their priority (the
    chosen design, listed first, once started before a front point with stage 2 at II 18,000)."""
    from flows.dse.streaming.validate import longest_first

    todo = {"chosen": {"exits": [1, 2], "predicted": {"ii_cycles": [196, 1568], "throughput_samples_per_s": 510_204.0}},
            "front": {"exits": [1, 2], "predicted": {"ii_cycles": [784, 25088], "throughput_samples_per_s": 127_551.0}},
            "baseline": {"exits": [2], "predicted": {"ii_cycles": [392, 392], "throughput_samples_per_s": 255_102.0}}}
    assert longest_first(todo) == ["front", "chosen", "baseline"]


def test_only_a_design_with_a_buffer_simulates_the_bursty_order():
    """The order of hard samples moves nothing in a one-exit design (no conditional buffer): not simulated."""
    from flows.dse.streaming.validate import scenarios_for

    assert scenarios_for({"design": {"exits": [1, 2]}}).split(",") == ["nominal", "bursty"]
    assert scenarios_for({"design": {"exits": [2]}}).split(",") == ["nominal"]


def test_a_point_read_back_from_the_search_cache_routes_as_the_fresh_one():
    """A rerun reads the search back from JSON: the per-exit rates partial reconfiguration weighs must still
    be found by exit number (they were not, and a rerun's PR sent every sample to stage 2)."""
    import json

    from flows.dse.streaming.run import _plain, read_back_point

    model = _model()
    points, device, final, _ = _search(model, 5000)
    fresh = best(points, "adaptive", device, final)
    text = json.dumps({**fresh, "design": fresh["design"].to_dict()}, default=_plain)
    again = read_back_point(json.loads(text))
    assert again["design"] == fresh["design"]
    rates = lambda p: [p["predicted"]["exits"].get(k, {}).get("rate") for k in (1, 2)]  # noqa: E731
    assert rates(again) == rates(fresh) and rates(fresh)[0] > 0


def test_front_json_shows_how_much_a_buffered_prediction_leans_on_the_queue_constant():
    """Each buffered pick is predicted on the calibration split at several READ_FRACTION values: the value the
    search used gives its own figure, and a kept frame held longer never makes stage 1 faster."""
    from flows.dse.streaming.queue import READ_FRACTION
    from flows.dse.streaming.report import read_fraction_lines
    from flows.dse.streaming.run import READ_FRACTION_SWEEP, design_id, read_fraction_sensitivity

    model = _model()
    points, device, final, _ = _search(model, 5000)
    buffered = [p for p in points if len(p["design"].exits) > 1 and any(p["design"].buffer_frames)]
    single = next(p for p in points if len(p["design"].exits) == 1)
    table = read_fraction_sensitivity(model, buffered[:20] + [single])
    assert len(table) == 20 and design_id(single["design"]) not in table
    for p in buffered[:20]:
        rates = table[design_id(p["design"])]
        assert rates[f"{READ_FRACTION:g}"]["nominal"] == pytest.approx(p["predicted"]["throughput_samples_per_s"])
        nominal = [rates[f"{f:g}"]["nominal"] for f in READ_FRACTION_SWEEP]
        assert nominal == sorted(nominal, reverse=True)
    assert any(len({r["bursty"] for r in rates.values()}) > 1 for rates in table.values())   # it does matter
    lines = read_fraction_lines({"value": READ_FRACTION, "basis": "checked", "sensitivity_calibration": table})
    assert len(lines) == 2 + len(table) and "READ_FRACTION = 0.5: checked." in lines[1]
