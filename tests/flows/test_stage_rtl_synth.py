"""A generated stage core synthesises with Yosys for 7-series: no DSPs, FIFO in LUT RAM."""
from __future__ import annotations

import pytest

from frontend.fixedpoint import FixedFormat

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")
pytest.importorskip("pyosys")


def test_tiny_stage_core_synthesises_to_luts_carry_chains_and_lutram(tmp_path):
    from hardware.stage import build_stage_rtl
    from flows.yosys import synth_xilinx

    inp = keras.Input((6,))
    fwd = qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                    activation="quantized_relu(5,2)", name="fwd",
                    kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=21))(inp)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(
        qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=22))(fwd))
    rtl = build_stage_rtl(keras.Model(inp, [logits, fwd]), FixedFormat(6, 5, False), tmp_path / "rtl", "tiny_syn")
    res = synth_xilinx(rtl.verilog_files, rtl.top, work_dir=tmp_path / "yosys")
    assert res.dsp == 0 and res.carry4 > 0  # constant multiplications became shift-adds on carry chains
    assert res.lut_as_memory > 0  # the shell's result FIFO maps to distributed RAM, not flip-flops
    assert res.ff >= rtl.register_bits // 2 and res.lut > 0
