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


def wide_stage(seed: int = 4):
    """8x8 input -> conv 5x5x3 (4x4) -> maxpool 2 [forwarded] ; head: maxpool 2 -> flatten -> dense 5: LeNet's
    stage 1 in small, so P = 4 pixels per beat crosses a kernel conv, two stride-2 pools and a dense head."""
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    inp = keras.Input((8, 8, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(3, 5, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, bias_initializer=init,
                   name="c1")(x)
    x = qk.QActivation("quantized_relu(4,2)", name="c1_act")(x)
    fwd = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.Flatten(name="hf")(keras.layers.MaxPooling2D(2, name="hp")(fwd))
    h = qk.QDense(5, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd")(h)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(h)
    return keras.Model(inp, [logits, fwd])


@pytest.mark.parametrize("p, plans, blocks", [
    (2, {}, ["swg", "kernel", "pool", "fork", "swg", "kernel", "kernel"]),                    # pool: P 2 -> 1
    (4, {"logits": ("mvau", 1, 5)}, ["swg", "kernel", "pool", "fork", "pool", "mvau"]),       # P 4 -> 2 -> 1
    (2, {"c1_act": ("mvau", 5, 3)}, ["split", "swg", "mvau", "swg", "kernel"]),             # MVAU reads 1 pixel
])
def test_a_stage_read_p_pixels_per_beat_matches_qkeras_and_forwards_the_p_it_builds(p, plans, blocks, tmp_path):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import LayerPlan, build_stream_stage, stage_ii
    from sim.stage.stream import verify_stream_stage

    model = wide_stage()
    ir = fuse_requantisers(stage_ir(model))
    plans = {k: LayerPlan(*v) for k, v in plans.items()}
    st = build_stream_stage(ir, plans, tmp_path / "rtl", f"wide_p{p}", parallelism=p)
    kinds = [b.kind for b in st.blocks if b.kind != "fifo"]
    assert kinds[:len(blocks)] == blocks
    assert st.input_beats == 64 // p and st.in_width == p * 8
    want_fwd = 1 if "c1_act" in plans else p // 2        # the pool halves the kernel's P; a split leaves 1
    assert st.forwarded_parallelism == want_fwd and st.forwarded_beats == 4 // want_fwd
    assert st.ii_cycles == stage_ii(ir, plans, p)         # the planner's figure is what the builder built
    rng = np.random.default_rng(p)
    samples = st.input_format.quantize(rng.random((24, 8, 8, 1)))
    check = verify_stream_stage(model, st, samples, 24, tmp_path / "sim", simulator="icarus")
    assert check.sim.vectors == 48
    assert check.bit_exact, check.mismatch()


def test_the_planner_follows_the_stream_the_builder_wires():
    """Pixels per beat down the stage as the builder wires them, and a plan that takes the wiring's cost."""
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import Geometry, plan_stage, stream_layout

    ir = fuse_requantisers(stage_ir(wide_stage()))
    layout = stream_layout(ir, {}, 4)
    assert layout["logits"].given == Geometry(1, 3, 1)     # the 1x1 pooled tensor: one beat of 3 channels
    assert stream_layout(ir, {}, 1)["logits"].given.beats == 1
    assert layout["p1"].block == "pool" and layout["p1"].out.pixels == 2
    assert layout["c1_act"].read.pixels == 4 and layout["c1_act"].cycles == 16
    plans = plan_stage(ir, 16, kernel_luts=lambda layer: 10 ** 6, parallelism=4)   # kernels priced out
    # the conv's MVAU would need a one-pixel stream (64 cycles > 16): it stays a kernel
    assert plans["c1_act"].impl == "kernel" and plans["logits"].impl == "mvau"


@pytest.mark.parametrize("p, plans", [(4, {}), (2, {"c1_act": ("mvau", 5, 3)})])
def test_a_p_wide_stage_with_pools_and_splits_is_lint_clean(p, plans, tmp_path):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.lint import lint
    from hardware.stream_stage import LayerPlan, build_stream_stage

    ir = fuse_requantisers(stage_ir(wide_stage()))
    st = build_stream_stage(ir, {k: LayerPlan(*v) for k, v in plans.items()}, tmp_path, f"wide_lint_{p}",
                            parallelism=p)
    warnings = lint(st.verilog_files, st.top)
    assert not warnings, "\n".join(warnings[:20])
