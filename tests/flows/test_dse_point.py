"""DSE point files: loading, checks against the model, measured-vs-predicted, steady-state throughput."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from flows.dse.point import (PointError, acceptance_rate, fifo_depth_for, load_point, measured_vs_predicted,
                             prediction_errors)

POINT = {"id": "abc", "model": "examples/digits.yaml", "board": "pynq-z2", "policy": "max_prob",
         "design": {"exits": [1, 3], "thresholds": [700, 8191], "parallelism": [6, 1, 1], "mode": "anytime",
                    "fifo_depth": 8},
         "predicted": {"lut": 1000.0, "ff": 500.0, "dsp": 0.0, "bram": 0.0, "throughput_samples_per_s": 1e7,
                       "mean_latency_cycles": 20.0, "energy_nj_per_sample": 5.0, "accuracy": 0.95}}


def _write(tmp_path, doc, name="abc.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc) if isinstance(doc, dict) else doc)
    return path


def test_point_file_round_trips(tmp_path):
    point = load_point(_write(tmp_path, POINT))
    assert (point.id, point.model, point.board, point.policy, point.fifo_depth) == \
        ("abc", "examples/digits.yaml", "pynq-z2", "max_prob", 8)
    assert point.design.exits == (1, 3) and point.design.parallelism == (6, 1, 1)


@pytest.mark.parametrize("doc, words", [
    ("model: [unclosed", "not valid YAML"),
    ({"model": "m.yaml", "board": "pynq-z2", "design": {"exits": [1]}}, "missing design.thresholds"),
    ({**POINT, "design": {**POINT["design"], "parallelism": ["x", 1, 1]}}, "must be integers"),
])
def test_bad_point_files_fail_with_one_line(tmp_path, doc, words):
    with pytest.raises(PointError, match=words) as info:
        load_point(_write(tmp_path, doc))
    assert "\n" not in str(info.value)


def test_missing_point_file_names_where_points_come_from(tmp_path):
    with pytest.raises(PointError, match="make dse writes them"):
        load_point(tmp_path / "nope.yaml")


def test_errors_and_flags_use_the_issue_tolerances():
    predicted = POINT["predicted"]
    measured = {**predicted, "lut": 1200.0, "throughput_samples_per_s": 0.95e7, "energy_nj_per_sample": None}
    errors, flags = prediction_errors(predicted, measured)
    assert errors["lut"] == pytest.approx(0.2) and errors["throughput_samples_per_s"] == pytest.approx(-0.05)
    assert "energy_nj_per_sample" not in errors
    assert flags == ["lut off by +20.0% (limit 15%)"]


def test_design_block_reads_resources_and_the_pipeline_run(tmp_path):
    point = load_point(_write(tmp_path, POINT))
    records = tmp_path / "sim" / "pipeline_records"
    records.mkdir(parents=True)
    np.savez(records / "early_exit.npz", accepted=np.arange(0, 40, 4))  # one sample per 4 cycles
    sim = {"early_exit": {"mean_latency_cycles": 21.0, "energy_nj_per_sample": 4.0, "accuracy": 0.96}}
    block = measured_vs_predicted(point, {"total": {"lut": 1100, "ff": 480, "dsp": 0, "bram": 0}}, sim,
                                  tmp_path / "sim", clock_mhz=100.0)
    assert block["measured"]["throughput_samples_per_s"] == pytest.approx(25e6)
    assert block["errors"]["lut"] == pytest.approx(0.1)
    assert any(f.startswith("throughput_samples_per_s off by +150.0%") for f in block["flags"])


def test_fifo_depth_covers_the_largest_burst_queue():
    assert fifo_depth_for([0, 0, 0]) == 4
    assert fifo_depth_for([9, 5, 1]) == 8       # 5 + 2 -> 8; the input queue (entry 0) is the source's
    assert fifo_depth_for([0, 7]) == 16


def test_throughput_is_the_input_acceptance_rate_without_the_drain(tmp_path):
    record = tmp_path / "early_exit.npz"
    np.savez(record, accepted=np.arange(10, 10 + 2 * 100, 2))  # one sample every 2 cycles
    assert acceptance_rate(record) == 0.5
    assert acceptance_rate(tmp_path / "missing.npz") is None


@pytest.mark.parametrize("change, words", [
    ({"thresholds": [70000, 8191]}, "threshold 70000 of exit 1 is outside its confidence codes"),
    ({"parallelism": [99, 1, 1]}, "stage 1 has 36 conv windows, P=99 is more"),
    ({"exits": [1, 4], "thresholds": [1, 1]}, "exits .* must be increasing indices in 1..3"),
    ({"mode": "anytime", "exits": [2], "thresholds": [1]}, "anytime mode keeps the final exit"),
    ({"fifo_depth": 6}, "fifo_depth 6 must be a power of two"),
])
def test_point_checked_against_the_model(tmp_path, digits_stages, change, words):
    from flows.dse.point import check_point
    from frontend.calibrate import exit_configs

    point = load_point(_write(tmp_path, {**POINT, "design": {**POINT["design"], **change}}))
    with pytest.raises(PointError, match=words):
        check_point(point, digits_stages, exit_configs(digits_stages, "max_prob"))


def test_stage_windows_are_the_first_conv_outputs(digits_stages):
    from flows.dse.point import stage_windows

    assert stage_windows(digits_stages) == [36, 9, 1]   # 6x6 valid conv, 3x3 same conv, dense


def test_a_build_is_compared_with_the_model_on_the_test_split_it_streams(tmp_path):
    """Point files carry the selection figures (calibration) and the test-split ones; the build streams the
    test split, so its errors are against predicted_test."""
    doc = {**POINT, "selected_on": "calibration",
           "predicted_test": {**POINT["predicted"], "lut": 1100.0, "accuracy": 0.93}}
    point = load_point(_write(tmp_path, doc))
    assert point.selected_on == "calibration" and point.predicted_test["accuracy"] == 0.93
    sim = {"early_exit": {"mean_latency_cycles": 20.0, "energy_nj_per_sample": 5.0, "accuracy": 0.93}}
    block = measured_vs_predicted(point, {"total": {"lut": 1100, "ff": 500, "dsp": 0, "bram": 0}}, sim,
                                  tmp_path / "none", clock_mhz=100.0)
    assert (block["predicted_on"], block["selected_on"], block["measured_on"]) == ("test", "calibration", "test")
    assert block["errors"]["lut"] == pytest.approx(0.0) and block["errors"]["accuracy"] == pytest.approx(0.0)
    assert "energy is modelled in both columns, not measured" in block["measured_by"]


def test_a_calibration_split_run_is_compared_with_the_figures_the_point_was_chosen_by(tmp_path):
    """SIM_SPLIT=calibration streams the split the point's `predicted` figures were made on."""
    doc = {**POINT, "selected_on": "calibration", "predicted": {**POINT["predicted"], "accuracy": 0.96},
           "predicted_test": {**POINT["predicted"], "accuracy": 0.93}}
    point = load_point(_write(tmp_path, doc))
    sim = {"split": "calibration",
           "early_exit": {"mean_latency_cycles": 20.0, "energy_nj_per_sample": 5.0, "accuracy": 0.96}}
    block = measured_vs_predicted(point, {"total": {"lut": 1100, "ff": 500, "dsp": 0, "bram": 0}}, sim,
                                  tmp_path / "none", clock_mhz=100.0)
    assert (block["predicted_on"], block["measured_on"]) == ("calibration", "calibration")
    assert block["errors"]["accuracy"] == pytest.approx(0.0)
    assert "over the calibration split" in block["measured_by"]


STREAM_POINT = {"model": "examples/lenet.yaml", "board": "pynq-z2", "policy": "max_prob",
                "design": {"io": "stream", "exits": [1, 2], "thresholds": [700, 0], "parallelism": [2],
                           "target_ii": [72, 288], "folding": {"stage_2": {"c2_q": {"impl": "mvau", "simd": 3}}},
                           "buffer_frames": [1]},
                "predicted": {"lut": 1000.0, "throughput_samples_per_s": 1e6, "mean_latency_cycles": 300.0,
                              "accuracy": 0.9}}


@pytest.fixture(scope="module")
def small_stages():
    keras = pytest.importorskip("tensorflow").keras
    qk = pytest.importorskip("qkeras")
    from frontend.calibrate import exit_configs
    from frontend.stages import split_model

    w4 = "quantized_bits(4,0,alpha=1)"
    inp = keras.Input((12, 12, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(4, 5, kernel_quantizer=w4, bias_quantizer=w4, name="c1")(x)
    x = keras.layers.MaxPooling2D(2, name="p1")(qk.QActivation("quantized_relu(4,2)", name="c1_q")(x))
    h = qk.QDense(10, kernel_quantizer=w4, bias_quantizer=w4, name="e1")(keras.layers.Flatten(name="f1")(x))
    y = qk.QActivation("quantized_relu(4,2)", name="c2_q")(qk.QConv2D(6, 3, kernel_quantizer=w4, bias_quantizer=w4,
                                                                      name="c2")(x))
    y = qk.QDense(10, kernel_quantizer=w4, bias_quantizer=w4, name="e2")(keras.layers.Flatten(name="f2")(y))
    q = "quantized_bits(16,6,alpha=1)"
    model = keras.Model(inp, [qk.QActivation(q, name="e1_q")(h), qk.QActivation(q, name="e2_q")(y)])
    stages = split_model(model)
    return stages, exit_configs(stages, "max_prob")


def test_a_streaming_point_loads_and_checks_against_its_model(tmp_path, small_stages):
    from flows.dse.point import StreamDesign, check_point
    from hardware.stream_stage import LayerPlan

    point = load_point(_write(tmp_path, STREAM_POINT, "s.yaml"))
    assert point.streaming and isinstance(point.design, StreamDesign)
    d = point.design
    assert (d.exits, d.thresholds, d.parallelism, d.target_ii, d.buffer_frames) == ((1, 2), (700, 0), (2,),
                                                                                      (72, 288), (1,))
    assert d.folding == {2: {"c2_q": LayerPlan("mvau", 3, 1)}}
    check_point(point, *small_stages)
    assert d.to_dict()["folding"] == {"stage_2": {"c2_q": {"impl": "mvau", "simd": 3, "pe": 1, "multiplier": "lut"}}}
    baseline = load_point(_write(tmp_path, {**STREAM_POINT, "design": {
        "io": "stream", "exits": [2], "thresholds": [0], "parallelism": [4], "target_ii": [36, 288]}}, "b.yaml"))
    check_point(baseline, *small_stages)          # exit 1 dropped: stage 1 headless, no buffer to size
    assert baseline.design.buffer_frames is None and baseline.design.folding == {}


@pytest.mark.parametrize("change, words", [
    ({"parallelism": [5]}, r"P=5 pixels per beat must divide stage 1's input width 12; use P in \[1, 2, 3, 4, 6, 12\]"),
    ({"target_ii": [72]}, r"target_ii \[72\] needs one value >= 1 \(cycles per frame\) per deployed stage \(2\)"),
    ({"folding": {"stage_2": {"conv9": {"impl": "mvau"}}}}, r"stage 2: folding given for unknown layer\(s\) \['conv9'\]"),
    ({"folding": {"stage_2": {"c2_q": {"impl": "mvau", "simd": 7}}}}, r"SIMD 7 must divide 36"),
    ({"buffer_frames": [1, 2]}, r"buffer_frames \[1, 2\] needs one value >= 1 per stage boundary"),
    ({"parallelism": [2, 1]}, r"one P >= 1, stage 1's input pixels per beat"),
    ({"fifo": 3}, r"unknown design key\(s\) fifo"),
    ({"io": "wide"}, r"design.io 'wide' is unknown"),
    ({"policy": ["margin"]}, r"policy \['margin'\] gives 1 name\(s\) for 2 kept exits; give one policy, or one per"),
    ({"policy": ["margin", "softmax"]}, r"design.policy \['margin', 'softmax'\]: give one of max_prob, entropy, margin"),
])
def test_a_bad_streaming_point_is_refused_in_one_line(tmp_path, small_stages, change, words):
    from flows.dse.point import check_point

    with pytest.raises(PointError, match=words) as info:
        check_point(load_point(_write(tmp_path, {**STREAM_POINT, "design": {**STREAM_POINT["design"], **change}})),
                    *small_stages)
    assert "\n" not in str(info.value)


def test_a_streaming_point_gives_each_kept_exit_its_own_policy(tmp_path, small_stages):
    from flows.dse.point import check_point, exit_policies, point_exit_configs

    doc = {**STREAM_POINT, "design": {**STREAM_POINT["design"], "policy": ["margin", "max_prob"]}}
    point = load_point(_write(tmp_path, doc, "mixed.yaml"))
    assert exit_policies(point, "entropy") == ("margin", "max_prob")
    assert point.design.to_dict()["policy"] == ["margin", "max_prob"]
    configs = point_exit_configs(point, small_stages[0], "entropy")
    assert [c.policy for c in configs] == ["margin", "max_prob"]
    check_point(point, small_stages[0], configs)
    # a threshold in margin's codes can lie outside max_prob's: each exit is checked in its own policy
    top = configs[1].confidence_format.max_code
    over = {**doc, "design": {**doc["design"], "thresholds": [700, top + 1]}}
    with pytest.raises(PointError, match=rf"threshold {top + 1} of exit 2 is outside its confidence codes"):
        bad = load_point(_write(tmp_path, over, "over.yaml"))
        check_point(bad, small_stages[0], point_exit_configs(bad, small_stages[0], "entropy"))
    # one name for all, and none: the file's, then the model's calibrated policy
    assert exit_policies(load_point(_write(tmp_path, STREAM_POINT, "one.yaml")), "entropy") == ("max_prob",) * 2
    bare = {k: v for k, v in STREAM_POINT.items() if k != "policy"}
    assert exit_policies(load_point(_write(tmp_path, bare, "bare.yaml")), "entropy") == ("entropy",) * 2
