"""The streaming multi-exit pipeline (conditional buffers between streaming stages) against the software model."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

W4 = "quantized_bits(4,0,alpha=1)"


def two_exit_model(seed: int = 5):
    """12x12 -> conv 3x3x4 -> pool 2 (exit 1: pool 2, flatten, dense 10) -> conv 3x3x6 -> flatten -> dense 10."""
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)

    def dense(x, name):
        x = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name=name)(x)
        return qk.QActivation("quantized_bits(16,6,alpha=1)", name=f"{name}_q")(x)

    inp = keras.Input((12, 12, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(4, 3, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="c1")(x)
    x = qk.QActivation("quantized_relu(4,2)", name="c1_q")(x)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.Flatten(name="f1")(keras.layers.MaxPooling2D(2, name="hp")(x))
    y = qk.QConv2D(6, 3, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="c2")(x)
    y = qk.QActivation("quantized_relu(4,2)", name="c2_q")(y)
    return keras.Model(inp, [dense(h, "e1"), dense(keras.layers.Flatten(name="f2")(y), "e2")])


@pytest.fixture(scope="module")
def streaming(tmp_path_factory):
    from sklearn.datasets import load_digits

    from exit_unit.reference import confidence
    from frontend.calibrate import exit_configs, logit_codes
    from frontend.ir import fuse_requantisers, stage_ir
    from frontend.stages import split_model
    from hardware.stream_stage import LayerPlan, build_stream_stage

    model = two_exit_model()
    stages = split_model(model)
    root = tmp_path_factory.mktemp("stream_pipeline")
    cores, fmt = [], None
    plans = [{}, {"c2_q": LayerPlan("mvau", 6, 2), "e2_q": LayerPlan("mvau", 6, 5)}]
    for s, plan in zip(stages, plans):
        core = build_stream_stage(fuse_requantisers(stage_ir(s.model, fmt)), plan, root / f"stage_{s.index}",
                                  f"stage_{s.index}")
        cores.append(core)
        fmt = core.forwarded.fmt if core.forwarded else None
    x = (np.kron(load_digits().images[:80], np.ones((2, 2)))[:, 2:14, 2:14] / 16.0).reshape(-1, 12, 12, 1)
    # one policy per exit, as a DSE point may give them: exit 1 decides on the top-2 margin, exit 2 on max_prob
    configs = [exit_configs(stages, "margin")[0], exit_configs(stages, "max_prob")[1]]
    codes = logit_codes(model, stages, x)
    thresholds = [int(np.median(confidence(configs[0], codes[0]))), configs[1].confidence_format.min_code]
    return {"stages": stages, "cores": cores, "configs": configs, "codes": codes, "thresholds": thresholds,
            "x": x, "root": root}


def test_every_sample_leaves_once_with_the_predicted_exit_and_class_under_stalls(streaming):
    from boards import load_board
    from sim.pipeline.simulate import simulate_pipeline

    s = streaming
    res = simulate_pipeline([st.model for st in s["stages"]], s["configs"], s["thresholds"], s["x"], s["root"],
                            load_board("pynq-z2"), stage_rtls=s["cores"], logit_codes=s["codes"], simulator="icarus",
                            back_pressure=0.3, idle_input=0.3)
    assert res.rtl.frame_beats == 144
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), f"{name}: {sc.first_fault}"
    on = res.scenarios["early_exit"]
    assert 0 < np.sum(on.exit_at == 1) < len(s["x"])          # both exits are used
    assert np.all(res.scenarios["exits_off"].exit_at == 2)
    # steady state: the input is taken at the stage's frame rate (one pixel per cycle), not slower
    assert on.steady.samples_per_cycle > 0.8 / 144
    assert res.scenarios["idle_input"].steady.source_idle_cycles > 0


def test_the_generated_streaming_pipeline_is_lint_clean(streaming):
    from exit_unit.reference import ExitUnitConfig  # noqa: F401  (units come from the configs)
    from hardware.exit_unit.generate import write_unit
    from hardware.lint import lint
    from hardware.pipeline.stream import write_stream_pipeline

    s = streaming
    units = [write_unit(cfg, "parallel", s["root"] / "lint_units") for cfg in s["configs"]]
    rtl = write_stream_pipeline(s["cores"], units, s["root"] / "lint", thresholds=s["thresholds"])
    warnings = lint(rtl.files, rtl.top)
    assert not warnings, "\n".join(warnings[:20])


def test_the_streaming_pipeline_wrapped_for_the_board_matches_the_model_over_axi(streaming, tmp_path):
    """Frames packed densely into 32-bit DMA words, unpacked by the gearbox into pixel beats with tlast."""
    from flows.board_top import frame_tensor
    from hardware.axi_top import AxiTopParams, write_axi_top
    from hardware.pipeline.generate import PipelineParams
    from sim.axi_top.simulate import simulate_axi_top
    from sim.pipeline.simulate import build_rtl

    s = streaming
    pipeline, _, _ = build_rtl([st.model for st in s["stages"]], s["configs"], tmp_path / "rtl",
                               stage_rtls=s["cores"], params=PipelineParams(per_exit_enable=True))
    frame = frame_tensor(s["cores"][0])
    assert frame.shape == (12, 12, 1) and pipeline.frame_beats == 144
    desc = {"shape": list(frame.shape), "width": frame.fmt.width, "frac": frame.fmt.frac, "signed": frame.fmt.signed}
    top = write_axi_top(pipeline, s["thresholds"], tmp_path / "board", AxiTopParams(data_width=32), input_desc=desc)
    n = 16
    codes = frame.fmt.quantize(s["x"][:n]).reshape((n,) + frame.shape)
    res = simulate_axi_top(top, s["configs"], [c[:n] for c in s["codes"]], codes, frame, tmp_path / "sim",
                           simulator="icarus", driver_samples=6)
    assert (res.mismatches, res.lost, res.duplicated) == (0, 0, 0), res.summary()
    assert res.counters_match_model, res.counter_failures
    assert res.driver["mismatches"] == 0 and res.driver["counters_match_model"], res.driver["failures"]


def wide_two_exit_model(seed: int = 6):
    """12x12 -> conv 5x5x4 -> pool 2 (exit 1: pool 2, flatten, dense 10) -> conv 3x3x6 -> flatten -> dense 10:
    stage 1 reads 2 pixels per beat and forwards one (its stride-2 pool halves P)."""
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)

    def dense(x, name):
        x = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name=name)(x)
        return qk.QActivation("quantized_bits(16,6,alpha=1)", name=f"{name}_q")(x)

    inp = keras.Input((12, 12, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(4, 5, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="c1")(x)
    x = qk.QActivation("quantized_relu(4,2)", name="c1_q")(x)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.Flatten(name="f1")(keras.layers.MaxPooling2D(2, name="hp")(x))
    y = qk.QConv2D(6, 3, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="c2")(x)
    y = qk.QActivation("quantized_relu(4,2)", name="c2_q")(y)
    return keras.Model(inp, [dense(h, "e1"), dense(keras.layers.Flatten(name="f2")(y), "e2")])


def test_a_p2_pipeline_with_a_slow_stage_2_behind_a_one_frame_buffer_loses_nothing(tmp_path):
    """Stage 1 at 2 pixels per beat (72 cycles a frame), stage 2 planned to a 4x longer II: the one-frame
    conditional buffer back-pressures stage 1 in bursts, and every sample still leaves once, as predicted."""
    from sklearn.datasets import load_digits

    from boards import load_board
    from exit_unit.reference import confidence
    from frontend.calibrate import exit_configs, logit_codes
    from frontend.ir import fuse_requantisers, stage_ir
    from frontend.stages import split_model
    from hardware.pipeline.generate import PipelineParams
    from hardware.stream_stage import build_stream_stage, plan_stage
    from sim.pipeline.simulate import simulate_pipeline

    model = wide_two_exit_model()
    stages = split_model(model)
    cores, fmt, p = [], None, 2
    for s, target in zip(stages, (72, 4 * 72)):
        ir = fuse_requantisers(stage_ir(s.model, fmt))
        plans = plan_stage(ir, target, kernel_luts=lambda layer: 10 ** 6 if s.index == 2 else 0, parallelism=p)
        cores.append(build_stream_stage(ir, plans, tmp_path / f"stage_{s.index}", f"wstage_{s.index}", parallelism=p))
        fmt, p = cores[-1].forwarded.fmt if cores[-1].forwarded else None, cores[-1].forwarded_parallelism
    assert (cores[0].parallelism, cores[0].ii_cycles, cores[1].parallelism, cores[1].ii_cycles) == (2, 72, 1, 288)
    x = (np.kron(load_digits().images[:60], np.ones((2, 2)))[:, 2:14, 2:14] / 16.0).reshape(-1, 12, 12, 1)
    # one policy per exit, as a DSE point may give them: exit 1 decides on the top-2 margin, exit 2 on max_prob
    configs = [exit_configs(stages, "margin")[0], exit_configs(stages, "max_prob")[1]]
    codes = logit_codes(model, stages, x)
    # half the samples go on: stage 2 needs 0.5 x 288 = 144 cycles a sample, twice stage 1's 72
    thresholds = [int(np.median(confidence(configs[0], codes[0]))), configs[1].confidence_format.min_code]
    res = simulate_pipeline([st.model for st in stages], configs, thresholds, x, tmp_path, load_board("pynq-z2"),
                            stage_rtls=cores, logit_codes=codes, simulator="icarus",
                            params=PipelineParams(buffer_frames=(1,)), scenarios="nominal,bursty")
    assert set(res.scenarios) == {"early_exit", "bursty"} and res.rtl.frame_beats == 72
    for name, sc in res.scenarios.items():
        assert (sc.mismatches, sc.lost, sc.duplicated) == (0, 0, 0), f"{name}: {sc.first_fault}"
    q = float(np.mean(res.scenarios["early_exit"].exit_at == 2))
    bound = min(1 / 72, 1 / (q * 288))              # the slower of stage 1 and stage 2's share
    for name, sc in res.scenarios.items():
        rate = sc.steady.samples_per_cycle
        print(f"{name}: {rate:.5f} samples/cycle ({rate * 72:.2f} of stage 1's rate), q = {q:.2f}")
        assert 0.5 * bound < rate <= 1.02 / 72
    d = res.to_dict()
    assert d["exits_off"] is None and d["speedup"] is None and "bursty" in d["scenarios"]
