"""Streaming stage cores with the stage IR's joins, padding, reshapes, pools and symmetric quantisers are
bit-exact with their QKeras stage, frame by frame, under idle input and output back-pressure."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

W4 = "quantized_bits(4,0,alpha=1)"


def _conv(x, filters, name, kernel=3, act="quantized_relu(4,2)", seed=1, **kw):
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    x = qk.QConv2D(filters, kernel, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init,
                   bias_initializer=init, name=name if act is None else f"{name}_conv", **kw)(x)
    return x if act is None else qk.QActivation(act, name=name)(x)


def _head(x, seed=2):
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    x = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd")(x)
    return qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(x)


def residual_stage(size: int = 8):
    """A residual block: x -> conv -> conv (no quantiser: the exact accumulator) -> Add(x, .) -> relu;
    exit head GlobalAveragePooling2D (size x size positions) -> dense; forwarded: a stride-2 conv."""
    inp = keras.Input((size, size, 1))
    x = qk.QActivation("quantized_relu(6,0)", name="in_q")(inp)
    x = _conv(x, 3, "c1", padding="same")
    y = _conv(x, 3, "r_a", padding="same", seed=3)
    y = _conv(y, 3, "r_b", act=None, padding="same", seed=4)
    s = keras.layers.Add(name="res_add")([x, y])
    s = qk.QActivation("quantized_relu(5,2)", name="res_act")(s)
    fwd = _conv(s, 4, "down", strides=2, padding="same", seed=5)
    logits = _head(keras.layers.GlobalAveragePooling2D(name="gap")(s))
    return keras.Model(inp, [logits, fwd])


def concat_stage():
    """Concatenate of a padded valid conv (symmetric quantiser) and a 1x1 conv; a 2x4 average pool with
    stride 2; Reshape (4, 3, 5) -> (2, 3, 10) (two pixels per beat gathered) -> Flatten -> dense."""
    inp = keras.Input((8, 8, 1))
    x = qk.QActivation("quantized_bits(6,2,alpha=1)", name="in_q")(inp)
    a = _conv(x, 2, "a", act=qk.quantized_bits(5, 1, symmetric=1, alpha=1))
    a = keras.layers.ZeroPadding2D(((1, 1), (2, 0)), name="pad")(a)
    b = _conv(x, 3, "b", kernel=1, seed=3)
    c = keras.layers.Concatenate(name="cat")([a, b])
    c = keras.layers.AveragePooling2D((2, 4), strides=2, name="avg")(c)
    h = keras.layers.Reshape((2, 3, 10), name="rs")(c)
    logits = _head(keras.layers.Flatten(name="hf")(h))
    return keras.Model(inp, [logits, c])


def reshape_stage():
    """Reshapes that split beats: (6, 6, 2) -> (6, 12, 1) (each pixel into two) and a dense layer's one-beat
    vector -> (4, 4, 1) pixels, each followed by a window (max pool, conv)."""
    inp = keras.Input((8, 8, 1))
    x = qk.QActivation("quantized_relu(6,0)", name="in_q")(inp)
    x = _conv(x, 2, "c1")
    fwd = keras.layers.MaxPooling2D(2, name="pool")(keras.layers.Reshape((6, 12, 1), name="rs_px")(x))
    init = keras.initializers.RandomUniform(-1, 1, seed=7)
    h = qk.QDense(16, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd1_dense")(
        keras.layers.Flatten(name="hf1")(fwd))
    h = qk.QActivation("quantized_relu(4,2)", name="hd1")(h)
    h = _conv(keras.layers.Reshape((4, 4, 1), name="rs_vec")(h), 2, "hc", seed=8)
    logits = _head(keras.layers.Flatten(name="hf")(h))
    return keras.Model(inp, [logits, fwd])


STAGES = {"residual": residual_stage, "concat": concat_stage, "reshape": reshape_stage}


def _build(model, plans, tmp_path):
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import LayerPlan, build_stream_stage

    ir = fuse_requantisers(stage_ir(model))
    return build_stream_stage(ir, {k: LayerPlan(*v) for k, v in plans.items()}, tmp_path / "rtl", "sst")


def _samples(fmt):
    from sklearn.datasets import load_digits

    return fmt.quantize(load_digits().images[:20] / 16.0).reshape(-1, 8, 8, 1)


@pytest.mark.parametrize("kind, plans", [
    ("residual", {}),                                                  # da4ml kernels on both branches
    pytest.param("residual", {"r_a": ("mvau", 9, 1), "r_b": ("mvau", 3, 1)},   # a slow main branch
                 marks=pytest.mark.slow),
    ("concat", {}),
    ("concat", {"a": ("mvau", 3, 1)}),                                 # the symmetric requantiser in an MVAU
    ("reshape", {}),
])
def test_stream_stage_with_skips_pads_reshapes_and_pools_matches_qkeras_on_every_frame_under_stalls(kind, plans, tmp_path):
    from sim.stage.stream import verify_stream_stage

    model = STAGES[kind]()
    st = _build(model, plans, tmp_path)
    kinds = [b.kind for b in st.blocks]
    assert ("join" in kinds) == (kind != "reshape") and kinds.count("mvau") == len(plans)
    assert ("global_sum" in kinds) == (kind == "residual") and ("gather" in kinds) == (kind != "residual")
    assert kinds.count("split") == 2 * (kind == "reshape")
    check = verify_stream_stage(model, st, _samples(st.input_format), 30, tmp_path / "sim", simulator="icarus")
    assert check.sim.vectors == 50
    assert check.bit_exact, check.mismatch()


def _residual_16(tmp_path, depths=None):
    """The residual block on 16x16 frames, where the main branch's two 3x3 windows take in more rows than a
    plain fork FIFO holds; ``depths``: replace the skip FIFO sizing (None: the builder's own)."""
    import hardware.stream_stage as stream_stage
    from sim.stage.stream import verify_stream_stage
    from sim.stage.verify import random_codes

    model = residual_stage(16)
    if depths is not None:
        original, stream_stage.skip_fifo_depths = stream_stage.skip_fifo_depths, lambda ir, minimum: depths
    try:
        st = _build(model, {}, tmp_path)
    finally:
        if depths is not None:
            stream_stage.skip_fifo_depths = original
    x = random_codes(st.input_format, st.input_shape, 3, seed=4)
    return st, verify_stream_stage(model, st, x[:0], 3, tmp_path / "sim", simulator="icarus")


def test_the_skip_branch_fifo_covers_the_main_branchs_rows_so_the_block_runs(tmp_path):
    """Only the skip branch (c1's fork branch read by the Add) is deepened, beyond the two rows of 16 pixels
    each 3x3 'same' window takes in before it gives a beat, and the 16x16 block runs bit-exact."""
    from hardware.stream_stage import READ_FIFO_DEPTH

    st, check = _residual_16(tmp_path)
    fifos = {b.instance: b.knobs["depth"] for b in st.blocks if b.kind == "fifo"}
    deep = {inst: depth for inst, depth in fifos.items() if depth > READ_FIFO_DEPTH}
    assert len(deep) == 1 and next(iter(deep)).startswith("u_c1_o_r") and min(deep.values()) >= 2 * 2 * 16, fifos
    assert check.bit_exact, check.mismatch()


@pytest.mark.slow
def test_with_plain_fork_fifos_the_residual_block_deadlocks(tmp_path):
    """The same block with every branch at READ_FIFO_DEPTH: the fork stops on the full skip FIFO while the
    windows wait for rows, and no frame comes out (the simulation runs to its cycle limit, ~40 s)."""
    _, check = _residual_16(tmp_path, depths={})
    assert not check.bit_exact and check.sim.mismatches == check.sim.vectors


def test_generated_stream_stage_with_joins_is_lint_clean(tmp_path):
    from hardware.lint import lint

    for kind, stage in STAGES.items():
        st = _build(stage(), {}, tmp_path / kind)
        warnings = lint(st.verilog_files, st.top)
        assert not warnings, "\n".join(warnings[:20])


def test_a_dense_layer_on_a_flattened_stream_is_planned_over_its_pixel_beats(tmp_path):
    """Flatten keeps the pixel beats (18 beats of 1 element into hd1): a plan for the input's rate (64 cycles)
    folds that dense layer over the beats (SIMD 1), builds, meets the rate and stays bit-exact."""
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import build_stream_stage, plan_stage
    from sim.stage.stream import verify_stream_stage

    model = reshape_stage()
    ir = fuse_requantisers(stage_ir(model))
    plans = plan_stage(ir, 64, kernel_luts=lambda layer: 10 ** 6)     # kernels priced out: MVAUs everywhere
    assert plans["hd1"].impl == "mvau" and plans["hd1"].simd == 1
    st = build_stream_stage(ir, plans, tmp_path / "rtl", "sst")
    assert max(b.cycles_per_frame for b in st.blocks if b.kind == "mvau") <= 64
    check = verify_stream_stage(model, st, _samples(st.input_format), 10, tmp_path / "sim", simulator="icarus")
    assert check.bit_exact, check.mismatch()
