"""Streaming stage cores built from the stage IR are bit-exact with their QKeras stage under stalls."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

W4 = "quantized_bits(4,0,alpha=1)"


def small_stage(seed: int = 1, strided: bool = False):
    """12x12 input -> conv 3x3x4 -> maxpool 2 -> [forwarded] ; head: maxpool 2 -> flatten -> dense 10."""
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    inp = keras.Input((12, 12, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(4, 3, strides=2 if strided else 1, padding="same" if strided else "valid", kernel_quantizer=W4,
                   bias_quantizer=W4, kernel_initializer=init, bias_initializer=init, name="c1")(x)
    x = qk.QActivation("quantized_relu(4,2)", name="c1_act")(x)
    fwd = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.MaxPooling2D(2, name="hp")(fwd) if not strided else fwd
    h = keras.layers.Flatten(name="hf")(h)
    h = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd")(h)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(h)
    return keras.Model(inp, [logits, fwd])


def build(model, plans, tmp_path, name):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import build_stream_stage

    return build_stream_stage(fuse_requantisers(stage_ir(model)), plans, tmp_path / "rtl", name)


@pytest.mark.parametrize("plans, strided", [
    ({}, False),                                                            # da4ml kernels, gather + 1x1 dense
    ({"c1_act": ("mvau", 3, 2), "logits": ("mvau", 4, 2)}, False),         # MVAU conv and dense
    ({}, True),                                                             # stride 2, 'same' padding
])
def test_stream_stage_matches_qkeras_on_every_frame_under_stalls(plans, strided, tmp_path):
    from hardware.stream_stage import LayerPlan
    from sim.stage.stream import verify_stream_stage

    model = small_stage(seed=3, strided=strided)
    st = build(model, {k: LayerPlan(*v) for k, v in plans.items()}, tmp_path, "sst")
    kinds = [b.kind for b in st.blocks]
    assert kinds.count("mvau") == len(plans) and "fork" in kinds
    from sklearn.datasets import load_digits

    digits = np.kron(load_digits().images[:40], np.ones((2, 2)))[:, 2:14, 2:14] / 16.0   # 12x12 images
    samples = st.input_format.quantize(digits).reshape(-1, 12, 12, 1)
    check = verify_stream_stage(model, st, samples, 60, tmp_path / "sim", simulator="icarus")
    assert check.sim.vectors == 100
    assert check.bit_exact, check.mismatch()


def test_stage_initiation_interval_is_the_slowest_block_and_plans_meet_their_target(tmp_path):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import plan_stage

    ir = fuse_requantisers(stage_ir(small_stage()))
    for target in (144, 400, 1200):
        plans = plan_stage(ir, target, kernel_luts=lambda layer: 10 ** 6)   # kernels priced out: MVAUs
        assert all(p.impl == "mvau" for p in plans.values())
        st = build(small_stage(), plans, tmp_path / str(target), f"sst_{target}")
        assert max(b.cycles_per_frame for b in st.blocks if b.kind == "mvau") <= target
        assert st.ii_cycles == max(b.cycles_per_frame for b in st.blocks)


def test_generated_stream_stage_is_lint_clean(tmp_path):
    from hardware.lint import lint
    from hardware.stream_stage import LayerPlan

    st = build(small_stage(), {"logits": LayerPlan("mvau", 2, 5)}, tmp_path, "sst_lint")
    warnings = lint(st.verilog_files, st.top)
    assert not warnings, "\n".join(warnings[:20])


def test_a_two_input_layer_is_refused_in_one_line(tmp_path):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import PlanError, build_stream_stage, plan_stage

    ir = fuse_requantisers(stage_ir(small_stage()))
    with pytest.raises(PlanError, match="folding given for unknown layer"):
        plan_stage(ir, 100, kernel_luts=lambda layer: 0, overrides={"nope": None})
    with pytest.raises(ValueError, match="not a Verilog identifier"):
        build_stream_stage(ir, {}, tmp_path, "1bad")


@pytest.mark.parametrize("layer, expected", [
    ("rank2", r"layer 'rank2': a stream carries \(H, W, C\) pixels or a vector; Reshape \(4, 4, 2\) -> \(16, 2\).*"
              r"IO_TYPE=io_parallel"),
    ("twice", r"layer 'twice' \(add\) reads one tensor twice.*IO_TYPE=io_parallel"),
])
def test_a_layer_without_a_streaming_block_is_refused_before_any_block_is_written(tmp_path, layer, expected):
    """Layers the fully parallel cores take but the streaming blocks do not: one line, nothing written."""
    from hardware.stream_stage import PlanError

    inp = keras.Input((6, 6, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(2, 3, kernel_quantizer=W4, bias_quantizer=W4, name="c1")(x)
    if layer == "rank2":
        x = keras.layers.Reshape((16, 2), name="rank2")(x)
    else:
        x = keras.layers.Add(name="twice")([x, x])
    x = qk.QDense(3, kernel_quantizer=W4, bias_quantizer=W4, name="d")(keras.layers.Flatten(name="f")(x))
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(x)
    with pytest.raises(PlanError, match=expected):
        build(keras.Model(inp, logits), {}, tmp_path, "refused")
    assert not any((tmp_path / "rtl").glob("*.v"))
