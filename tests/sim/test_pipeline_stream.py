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
    configs = exit_configs(stages, "max_prob")
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
