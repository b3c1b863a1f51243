"""The generated pipeline on a small two-exit model (random weights), Icarus: every scenario matches the
software model sample by sample; throughput is the steady-state acceptance rate; a stress run wraps the
sample-id space several times under idle input cycles, back-pressure and bursts of hard samples, with and
without the reorder buffer."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qkeras")


def _design(root, stages: list) -> dict:
    """The stage models, their cores and max_prob exit configs."""
    from exit_unit.reference import ExitUnitConfig
    from hardware.stage import build_stage_rtl

    r1 = build_stage_rtl(stages[0], None, root / "stage_1", "stage_1")
    r2 = build_stage_rtl(stages[1], r1.forwarded.fmt, root / "stage_2", "stage_2")
    cfgs = [ExitUnitConfig(classes=10, logit=r.outputs[0].fmt, policy="max_prob") for r in (r1, r2)]
    return {"models": stages, "rtls": [r1, r2], "configs": cfgs}


@pytest.fixture(scope="module")
def two_exit(tmp_path_factory):
    from sim.stage.testmodels import two_exit_stages

    return _design(tmp_path_factory.mktemp("two_exit_cores"), two_exit_stages())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Cores of a few dozen adders: Icarus spends the stress run's time on its many samples."""
    from sim.stage.testmodels import tiny_two_exit_stages

    return _design(tmp_path_factory.mktemp("tiny_cores"), tiny_two_exit_stages())


def _exit_1_confidence(design, x):
    from exit_unit.reference import confidence
    from sim.pipeline.simulate import expected_route

    r1, r2 = design["rtls"]
    x_codes = r1.input_format.quantize(x).reshape((len(x), 8, 8, 1))
    codes = expected_route(design["models"], design["rtls"], design["configs"], x_codes, [0, 0])[2]
    return confidence(design["configs"][0], codes[0])


def _simulate(design, x, out_dir, threshold_1, simulator="icarus", **options):
    from boards import load_board
    from sim.pipeline.simulate import simulate_pipeline

    thr = [int(threshold_1), design["configs"][1].confidence_format.max_code]
    return simulate_pipeline(design["models"], design["configs"], thr, x, out_dir, load_board("pynq-z2"),
                             stage_rtls=design["rtls"], simulator=simulator, **options)


def test_two_exit_pipeline_matches_software_model_in_every_scenario(two_exit, digits_data, tmp_path):
    x = digits_data.x_test[:48]
    res = _simulate(two_exit, x, tmp_path, np.median(_exit_1_confidence(two_exit, x)))
    assert set(res.scenarios) == {"early_exit", "exits_off", "all_exit_1", "all_to_end", "back_pressure",
                                  "idle_input"}
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), name
    # the calibrated codes are the registers' reset values: only the extremes write them, and back_pressure,
    # run after them, is back at the reset values
    assert {n for n, sc in res.scenarios.items() if sc.thresholds_written} == {"all_exit_1", "all_to_end"}
    median = int(np.median(_exit_1_confidence(two_exit, x)))
    assert res.rtl.reset_thresholds == [median, two_exit["configs"][1].confidence_format.max_code]
    assert "#(.THRESHOLD_INIT(" in (tmp_path / "rtl" / "pipeline" / "pipeline_top.v").read_text()
    on, off = res.scenarios["early_exit"], res.scenarios["exits_off"]
    assert 0 < np.sum(on.exit_at == 1) < 48, "the median threshold should split the samples"
    assert np.all(off.exit_at == 2) and np.all(res.scenarios["all_to_end"].exit_at == 2)
    assert np.all(res.scenarios["all_exit_1"].exit_at == 1)
    # without back-pressure every exit has one fixed latency, and exit 1 is the shorter path
    lat = {e["index"]: e["latency_cycles"] for e in res.exits}
    assert lat[1]["min"] == lat[1]["max"] < lat[2]["min"] == lat[2]["max"]
    assert on.mean_latency < off.mean_latency
    assert res.to_dict()["speedup"] > 1.0
    assert "| 1 |" in res.to_markdown()


def test_throughput_is_the_steady_state_rate_with_fill_drain_and_source_idles_left_out(tiny, digits_data, tmp_path):
    """Every stage takes a sample per cycle, so the steady-state rate is 1 with exits on and off and with an
    idling source; the whole-run figure is lower by the fill and drain (and, idling, by the source's gaps)."""
    x = digits_data.x_test[:48]
    res = _simulate(tiny, x, tmp_path, np.median(_exit_1_confidence(tiny, x)), extremes=False,
                    back_pressure=0.0, idle_input=0.4)
    d = res.to_dict()
    for name in ("early_exit", "exits_off", "idle_input"):
        sc = res.scenarios[name]
        assert sc.throughput == 1.0, name
        assert sc.whole_run_throughput < 0.95, name  # 48 samples, a latency of 5+ cycles
        assert d["scenarios"][name]["throughput_samples_per_cycle"] == 1.0
    idle = res.scenarios["idle_input"]
    assert idle.steady.source_idle_cycles > 0.2 * idle.steady.window_cycles  # the source did idle (p = 0.4)
    assert idle.whole_run_throughput < 0.75
    assert d["throughput_ratio"] == 1.0
    on = res.scenarios["early_exit"].steady
    assert sum(on.exit_samples_per_cycle.values()) == pytest.approx(1.0, abs=0.1)
    assert on.exit_samples_per_cycle[1] > 0 and on.exit_samples_per_cycle[2] > 0
    assert d["early_exit"]["whole_run_samples_per_cycle"] == pytest.approx(48 / res.scenarios["early_exit"].cycles)
    assert "fill and drain" in res.to_markdown()


def _bursty_order(hard: np.ndarray, total: int, seed: int) -> np.ndarray:
    """Indices into the pool: runs of 8..40 hard samples between runs of 4..30 easy ones."""
    rng = np.random.default_rng(seed)
    pools = [list(np.flatnonzero(~hard)), list(np.flatnonzero(hard))]
    order, kind = [], 1
    while len(order) < total:
        run = int(rng.integers(8, 41) if kind else rng.integers(4, 31))
        order += [pools[kind].pop() for _ in range(min(run, total - len(order)))]
        kind ^= 1
    return np.array(order)


@pytest.mark.parametrize("reorder", [False, True])
def test_stress_wraps_the_id_space_under_idle_input_back_pressure_and_bursts_of_hard_samples(
        tiny, digits_data, tmp_path, reorder):
    from hardware.pipeline.generate import PipelineParams

    id_width, samples = 6, 500  # 64 ids: the run wraps them seven times
    pool = np.concatenate([digits_data.x_test, digits_data.x_train[:400]])
    conf = _exit_1_confidence(tiny, pool)
    threshold = int(np.median(conf))
    hard = ~tiny["configs"][0].exits(conf, threshold)  # these go on to the last exit
    x = pool[_bursty_order(hard, samples, seed=5)]
    params = PipelineParams(id_width=id_width, reorder=reorder, reorder_slots_log2=3, fifo_depth=4)
    res = _simulate(tiny, x, tmp_path, threshold, params=params, extremes=False, back_pressure=0.3,
                    idle_input=0.3, seed=7)
    assert set(res.scenarios) == {"early_exit", "exits_off", "back_pressure", "idle_input"}
    for name, sc in res.scenarios.items():
        assert (sc.samples, sc.mismatches, sc.lost, sc.duplicated) == (samples, 0, 0, 0), name
        assert np.array_equal(sc.exit_at, sc.expected_exit), name
        # the id wrapped: sample j's result carried id j mod 64, for j up to 499
        assert np.array_equal(sc.result_id, np.arange(samples) % (1 << id_width)), name
        assert sc.max_in_flight < 1 << id_width, name
        if reorder:
            assert sc.out_of_order == 0 and sc.max_in_flight <= 1 << params.reorder_slots_log2, name
    on = res.scenarios["early_exit"]
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, on.exit_at == 2, 0])))[::2]
    assert runs.max() >= 20, "the input has bursts of hard samples"
    if not reorder:  # easy samples after a hard burst overtake it
        assert on.out_of_order > 0
    assert res.scenarios["idle_input"].steady.source_idle_cycles > 0
    assert not any("in flight" in n for n in res.notes)


@pytest.mark.slow
def test_board_without_energy_figures_still_simulates_and_says_why_energy_is_missing(tiny, digits_data, tmp_path):
    from boards import load_board
    from sim.pipeline.simulate import simulate_pipeline

    board = load_board("zcu104")
    assert "energy" not in board.extra  # the premise: this board file has no energy: block yet
    cfgs = tiny["configs"]
    thr = [cfgs[0].confidence_format.max_code, cfgs[1].confidence_format.max_code]
    res = simulate_pipeline(tiny["models"], cfgs, thr, digits_data.x_test[:16], tmp_path, board,
                            stage_rtls=tiny["rtls"], simulator="verilator", extremes=False, idle_input=0.0)
    assert (res.mismatches, res.lost, res.duplicated) == (0, 0, 0)
    assert res.scenarios["early_exit"].energy is None and res.to_dict()["early_exit"]["energy_nj_per_sample"] is None
    assert any("no energy figures: board zcu104 has no energy" in n for n in res.notes)
    assert "| - |" in res.to_markdown()
