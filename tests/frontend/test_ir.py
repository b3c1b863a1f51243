"""The stage IR: exact formats against brute force and QKeras, the fusion pass, the layer table."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")


def test_accumulator_format_is_the_tightest_holding_every_input_combination():
    """Brute force over every input of a tiny layer: the format holds all sums, one bit less does not."""
    from frontend.ir import accumulator_format

    x = FixedFormat(3, 1, signed=True)                       # codes -4..3, step 0.5
    kernel = np.array([[0.75, -0.5], [-1.25, 0.25], [0.5, 1.0]])
    bias = np.array([0.125, -2.0])
    fmt = accumulator_format(x, kernel, bias)
    values = np.array([np.array(v) @ kernel + bias
                       for v in itertools.product(x.to_real(np.arange(x.min_code, x.max_code + 1)), repeat=3)])
    fmt.to_codes(values)                                      # every sum on the grid and in range
    assert fmt.frac == 3                                      # 0.5 * 0.25 needs 3 fraction bits, 0.125 too
    narrower = FixedFormat(fmt.width - 1, fmt.frac, fmt.signed)
    with pytest.raises(ValueError):
        narrower.to_codes(values)


def _qkeras_outputs(model, names, x):
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    ys = probe.predict(x, verbose=0)
    return ys if isinstance(ys, list) else [ys]


def test_every_layer_format_holds_what_qkeras_computes_on_real_and_random_data(digits_stages, digits_data):
    from frontend.ir import stage_ir

    fmt = None
    rng = np.random.default_rng(0)
    x = digits_data.x_test
    for stage in digits_stages:
        ir = stage_ir(stage.model, fmt)
        names = [layer.name for layer in ir.layers]
        f_in = ir.input_format
        random = f_in.to_real(rng.integers(f_in.min_code, f_in.max_code + 1, (200,) + x.shape[1:]))
        probe_x = np.concatenate([x, random.astype(np.float32)])
        for layer, y in zip(ir.layers, _qkeras_outputs(stage.model, names, probe_x)):
            layer.out_format.to_codes(y)                      # raises when off grid or out of range
            assert tuple(y.shape[1:]) == layer.out_shape
        x = stage.model.predict(x, verbose=0)[-1] if not stage.is_last else None
        fmt = ir.outputs[-1].out_format


def test_fused_stage_traces_to_the_same_program_as_the_layer_by_layer_stage(digits_stages):
    """Fusing each conv/dense with its quantiser changes no output code (checked on the da4ml programs)."""
    from da4ml.trace import comb_trace

    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stage.trace import trace_ir

    ir = stage_ir(digits_stages[0].model)
    fused = fuse_requantisers(ir)
    assert [layer.op for layer in fused.layers] == ["conv2d", "maxpool", "flatten", "dense"]
    assert fused.layer("b1_conv2d1_act").requant == ir.layer("b1_conv2d1_act").requant
    codes = np.random.default_rng(1).integers(0, 32, size=(500, 64))
    results = []
    for variant in (ir, fused):
        traced = trace_ir(variant)
        outs = np.concatenate([o.vars._vars.ravel() for o in traced.outputs])
        comb = comb_trace(traced.inputs._vars.ravel(), outs)
        results.append(np.asarray(comb.predict(variant.input_format.to_real(codes))))
    assert np.array_equal(results[0], results[1])


def test_strided_same_convolution_is_bit_exact_in_the_fully_parallel_core(tmp_path):
    """Strides come from the IR's geometry: TensorFlow's asymmetric 'same' padding at stride 2."""
    from hardware.stage import build_stage_rtl

    inp = keras.Input((7, 7, 2))
    xq = qk.QActivation("quantized_bits(5, 1, alpha=1)")(inp)
    y = qk.QConv2D(3, 3, strides=2, padding="same", kernel_quantizer="quantized_bits(4, 0, alpha=1)",
                   bias_quantizer="quantized_bits(4, 0, alpha=1)",
                   kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=2),
                   bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=3))(xq)
    out = qk.QActivation("quantized_relu(5, 2)")(y)
    model = keras.Model(inp, out)
    rtl = build_stage_rtl(model, None, tmp_path, "strided")
    fmt = rtl.input_format
    codes = np.random.default_rng(4).integers(fmt.min_code, fmt.max_code + 1, size=(300, 7, 7, 2))
    want = rtl.outputs[0].fmt.to_codes(model.predict(fmt.to_real(codes).astype(np.float32), verbose=0))
    assert want.shape[1:] == (4, 4, 3)
    assert np.array_equal(rtl.reference(codes)[0], want)


def test_an_unsupported_layer_is_named_with_the_supported_ones():
    from frontend.ir import UnsupportedLayer, stage_ir

    inp = keras.Input((6, 4))
    x = qk.QActivation("quantized_bits(4, 0, alpha=1)")(inp)
    model = keras.Model(inp, keras.layers.LSTM(3, name="lstm")(x))
    with pytest.raises(UnsupportedLayer, match=r"'lstm' \(LSTM\): not supported; supported layers: .*QConv2D"):
        stage_ir(model)


def test_the_one_layer_table_is_what_every_step_accepts():
    """frontend/ir.py LAYER_TABLE is the one place: the graph check, the HLS view and the fully parallel tracer
    all derive from it, and the README lists exactly its supported classes."""
    from pathlib import Path

    from frontend import graph
    from frontend.ir import LAYER_TABLE, OPS, supported_layers
    from hardware.stage.trace import IR_TRACERS, JOIN_TRACERS
    from hls_templates.precision import HLS_OPS

    accepted = {name for name, row in LAYER_TABLE.items() if row.rejection is None}
    assert set(supported_layers()) == accepted == set(graph.SUPPORTED_LAYERS)
    assert {"QConv2DBatchnorm", "Add", "Concatenate", "ZeroPadding2D", "GlobalAveragePooling2D", "Reshape",
            "ReLU"} <= accepted
    assert set(graph.FOLD_FIRST) == {"BatchNormalization", "QBatchNormalization"}
    assert all(LAYER_TABLE[name].rejection for name in graph.FOLD_FIRST)
    ops = {row.op for row in LAYER_TABLE.values() if row.op}
    assert ops <= set(OPS) and set(OPS) - ops == {"identity"}          # identity: a linear activation
    assert set(HLS_OPS) == set(OPS) == set(IR_TRACERS) | set(JOIN_TRACERS)
    assert graph.PASS_THROUGH == {"Dropout"}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Accepted models"):]
    section = section[:section.index("\n## ", 4)]
    listed = {name for name in accepted | {row for row in LAYER_TABLE} if f"`{name}`" in section}
    assert accepted - {"InputLayer"} <= listed, f"README does not list {accepted - listed - {'InputLayer'}}"
