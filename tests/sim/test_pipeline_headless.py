"""The digits pipeline with exit 2 dropped: stage 2 runs headless (no exit unit, no router, no output lane)
and its samples go straight on to stage 3. Icarus, 48 test samples: every scenario matches the software
routing over exits 1 and 3 sample by sample; the headless core is bit-exact with headless_model."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qkeras")

SAMPLES = 48


@pytest.fixture(scope="module")
def dropped_exit_2(digits_stages, digits_data, trained_digits, tmp_path_factory):
    """Stage models, cores, configs, thresholds and whole-model logit codes of the design keeping exits 1, 3."""
    from exit_unit.reference import confidence
    from hardware.stage import build_stage_rtl
    from frontend.calibrate import exit_configs, logit_codes
    from frontend.stages import headless_model

    root = tmp_path_factory.mktemp("headless")
    s1, s2, s3 = digits_stages
    models = [s1.model, headless_model(s2), s3.model]
    r1 = build_stage_rtl(models[0], s1.input_format, root / "rtl" / "stage_1", "stage_1")
    r2 = build_stage_rtl(models[1], r1.forwarded.fmt, root / "rtl" / "stage_2", "stage_2", has_logits=False)
    r3 = build_stage_rtl(models[2], r2.forwarded.fmt, root / "rtl" / "stage_3", "stage_3")
    c1, _, c3 = exit_configs(digits_stages, "max_prob")
    x = digits_data.x_test[:SAMPLES]
    z1, _, z3 = logit_codes(trained_digits, digits_stages, x)
    # exit 1 lets about half the samples out, so both kept exits see traffic
    thresholds = [int(np.median(confidence(c1, z1))), None, c3.confidence_format.max_code]
    return dict(models=models, rtls=[r1, r2, r3], configs=[c1, None, c3], thresholds=thresholds,
                codes=[z1, None, z3], x=x, root=root)


def _simulate(design, out_dir, simulator):
    from boards import load_board
    from sim.pipeline import simulate_pipeline

    d = design
    return simulate_pipeline(d["models"], d["configs"], d["thresholds"], d["x"], out_dir, load_board("pynq-z2"),
                             logit_codes=d["codes"], stage_rtls=d["rtls"], simulator=simulator)


def _software_exits(design, thresholds):
    """Routing over the kept exits 1 and 3 by frontend.calibrate.route, its exit numbers 1, 2 -> stages 1, 3."""
    from frontend.calibrate import route

    c1, _, c3 = design["configs"]
    z1, _, z3 = design["codes"]
    at, cls = route([c1, c3], [z1, z3], [thresholds[0], thresholds[2]])
    return np.where(at == 1, 1, 3), cls


def test_pipeline_without_exit_2_matches_software_routing_in_every_scenario(dropped_exit_2, tmp_path):
    res = _simulate(dropped_exit_2, tmp_path, "icarus")
    assert set(res.scenarios) == {"early_exit", "exits_off", "all_exit_1", "all_to_end", "back_pressure",
                                  "idle_input"}
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), name
        assert not np.any(sc.exit_at == 2), f"{name}: a result left at the dropped exit 2"
    on = res.scenarios["early_exit"]
    want_exit, want_class = _software_exits(dropped_exit_2, dropped_exit_2["thresholds"])
    assert np.array_equal(on.exit_at, want_exit) and np.array_equal(on.predicted, want_class)
    assert 0 < np.sum(on.exit_at == 1) < SAMPLES, "the median threshold should split the samples"
    assert np.all(res.scenarios["all_exit_1"].exit_at == 1)
    assert np.all(res.scenarios["all_to_end"].exit_at == 3) and np.all(res.scenarios["exits_off"].exit_at == 3)
    assert [e["index"] for e in res.exits] == [1, 3]
    assert res.exits[0]["samples"] + res.exits[1]["samples"] == SAMPLES
    assert res.speedup > 1.0

    rtl = res.rtl
    assert rtl.lanes == 2 and rtl.exits == [1, 3] and rtl.threshold_widths[1] is None
    assert "exit_unit_2" not in rtl.module_groups and {"exit_unit_1", "exit_unit_3"} <= set(rtl.module_groups)
    top = (tmp_path / "rtl" / "pipeline" / "pipeline_top.v").read_text()
    assert " u_stage2 (" in top and " u_fifo3 (" in top
    for absent in (" u_eu2 (", " u_side2 (", " u_route2 (", "thr2_"):
        assert absent not in top, absent


def test_headless_stage_core_is_bit_exact_with_headless_model(dropped_exit_2, digits_data):
    from sim.stage.verify import qkeras_codes, verify_stage

    d = dropped_exit_2
    r1, r2, _ = d["rtls"]
    x1 = r1.input_format.quantize(digits_data.x_test).reshape((-1,) + r1.input.shape)
    x2 = qkeras_codes(d["models"][0], r1, x1)[-1]  # real data as it enters stage 2
    reference = verify_stage(d["models"][1], r2, x2, 10_000, d["root"] / "verify_ref", simulate=False, seed=3)
    assert reference.reference_max_abs_diff == [0]
    sim = verify_stage(d["models"][1], r2, x2[:SAMPLES], 200, d["root"] / "verify_sim", simulator="icarus", seed=4)
    assert sim.bit_exact and sim.sim.vectors == SAMPLES + 200


@pytest.mark.slow
def test_verilator_run_of_the_headless_pipeline_has_energy_without_exit_unit_2(dropped_exit_2, tmp_path):
    res = _simulate(dropped_exit_2, tmp_path, "verilator")
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), name
    assert all((tmp_path / "sim" / f"{n}.saif").is_file() for n in ("early_exit", "exits_off"))
    energy = res.scenarios["early_exit"].energy
    assert energy is not None and energy.per_sample_nj > 0
    assert "exit_unit_2" not in energy.activity_pj and energy.activity_pj["stage_2"] > 0
    assert [e["index"] for e in res.exits] == [1, 3] and all(e["energy_nj"] for e in res.exits)
    assert res.exits[0]["energy_nj"] < res.exits[1]["energy_nj"]


def test_dropping_the_final_exit_or_mixing_heads_and_units_is_refused(dropped_exit_2, tmp_path):
    from boards import load_board
    from hardware.exit_unit.generate import write_unit
    from sim.pipeline import simulate_pipeline, write_pipeline

    d = dropped_exit_2
    r1, r2, r3 = d["rtls"]
    c1, _, c3 = d["configs"]
    u1, u3 = (write_unit(c, "parallel", tmp_path / "units") for c in (c1, c3))
    with pytest.raises(ValueError, match="final exit is always kept"):
        write_pipeline([r1, r2, r3], [u1, None, None], tmp_path / "p")
    with pytest.raises(ValueError, match="headless .* but has exit unit 2"):
        write_pipeline([r1, r2, r3], [u1, u3, u3], tmp_path / "p")
    with pytest.raises(ValueError, match="stage 1 has no exit unit but its core stage_1 outputs logits"):
        write_pipeline([r1, r2, r3], [None, None, u3], tmp_path / "p")
    with pytest.raises(ValueError, match="final exit is always kept"):
        simulate_pipeline(d["models"], [c1, None, None], [0, None, None], d["x"], tmp_path, load_board("pynq-z2"))
    with pytest.raises(ValueError, match="exit 2 has a threshold but no config"):
        simulate_pipeline(d["models"], [c1, None, c3], [0, 0, 0], d["x"], tmp_path, load_board("pynq-z2"))
