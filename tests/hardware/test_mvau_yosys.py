"""MVAU resources from Yosys synth_xilinx: DSP use per multiplier kind, the weight ROM in LUTs or BRAM, and
the per-knob LUT rule of hardware/mvau/README.md on LeNet's conv2 and dense 256 -> 84 (hardware/mvau/sweep.py)."""
from __future__ import annotations

import pytest

# README.md's least-squares rule for conv2 with LUT multipliers (4-bit weights and inputs, ROM in LUTs)
CONV2_LUT_RULE = (518.0, 32.8)


def test_small_mvau_uses_one_dsp_per_product_only_when_asked(tmp_path):
    """Reduced variant of the LeNet sweep: 24 -> 8 in one beat, SIMD=6, PE=2, the 4 x 48-bit ROM in LUTs."""
    import numpy as np

    from flows.yosys import synth_xilinx
    from hardware.mvau import build_mvau
    from hardware.mvau.sweep import IN_FMT, QUANTIZER

    rng = np.random.default_rng(0)
    kernel, bias = rng.integers(-8, 8, (24, 8)) / 8, rng.integers(-32, 32, 8) / 16
    records = {}
    for multiplier in ("lut", "dsp"):
        mvau = build_mvau(f"small_{multiplier}", tmp_path / multiplier, kernel, bias, IN_FMT, 24, QUANTIZER, 6, 2,
                          multiplier)
        records[multiplier] = synth_xilinx(list(mvau.files), mvau.top, work_dir=tmp_path / multiplier / "synth")
    assert records["lut"].dsp == 0 and records["lut"].bram == 0
    assert records["dsp"].dsp == 6 * 2 and records["dsp"].bram == 0
    assert records["dsp"].lut < records["lut"].lut


@pytest.mark.slow
@pytest.mark.parametrize("simd, pe", [(5, 2), (15, 4), (25, 8)])
def test_lenet_conv2_lut_cost_follows_the_per_knob_rule(tmp_path, simd, pe):
    from hardware.mvau.sweep import Point, measure

    r = measure(Point("conv2", simd, pe, "lut"), tmp_path)
    a, b = CONV2_LUT_RULE
    assert r["dsp"] == 0 and r["bram"] == 0
    assert abs(r["lut"] - (a + b * simd * pe)) <= 0.1 * r["lut"], f"{r['lut']} LUTs"
    assert r["cycles_per_vector"] == (150 // simd) * (16 // pe)


@pytest.mark.slow
def test_lenet_conv2_dsp_variant_trades_luts_for_one_dsp_per_product(tmp_path):
    from hardware.mvau.sweep import Point, measure

    r = measure(Point("conv2", 15, 4, "dsp"), tmp_path)
    assert r["dsp"] == 15 * 4
    assert r["lut"] < 0.5 * (CONV2_LUT_RULE[0] + CONV2_LUT_RULE[1] * 15 * 4)


@pytest.mark.slow
@pytest.mark.parametrize("multiplier", ["lut", "dsp"])
def test_lenet_dense_keeps_its_weight_rom_in_bram(tmp_path, multiplier):
    from hardware.mvau.sweep import Point, measure

    r = measure(Point("dense", 16, 2, multiplier), tmp_path)
    assert r["rom"] == "672x128"
    assert r["ramb36"] + r["ramb18"] > 0 and r["lut_as_memory"] < 100
    assert r["dsp"] == (32 if multiplier == "dsp" else 0)
