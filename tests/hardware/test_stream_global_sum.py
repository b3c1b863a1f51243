"""stream_global_sum.v: GlobalAveragePooling2D's exact mean per channel, against numpy, under stalls."""
from __future__ import annotations

import json

import pytest

from frontend.fixedpoint import FixedFormat
from hardware.global_pool import StreamGlobalSum
from hardware.primitive import PrimitiveParameterError
from sim.hardware.run import run_primitive_tb


@pytest.mark.parametrize("fmt, channels, beats, pixels", [
    (FixedFormat(6, 4, False), 3, 16, 1),    # 4x4 positions, unsigned (after a relu)
    (FixedFormat(5, 2, True), 2, 4, 2),      # signed, 2 pixels per beat
    (FixedFormat(4, 1, True), 2, 1, 1),      # a 1x1 map: the mean is the value
])
def test_global_sum_is_the_exact_mean_under_stalls_at_one_beat_per_cycle(tmp_path, fmt, channels, beats, pixels):
    gap = StreamGlobalSum(fmt, channels, beats, pixels)
    cfg = {"format": [fmt.width, fmt.frac, int(fmt.signed)], "channels": channels, "beats": beats, "pixels": pixels}
    result = run_primitive_tb(gap, "tb_stream_global_sum", tmp_path, env={"TB_GAP": json.dumps(cfg), "TB_SEED": beats})
    assert result["unstalled"]["cycles"] == result["unstalled"]["beats"]


def test_global_sum_refuses_a_position_count_that_is_not_a_power_of_two():
    with pytest.raises(PrimitiveParameterError, match="over 12 positions.*power-of-two H x W"):
        StreamGlobalSum(FixedFormat(4, 2), 2, 6, 2)


def test_global_sum_synthesises_to_two_registers_per_channel(tmp_path):
    """Yosys (Verilog-2005 front end): the accumulator and the output register, C x OUT_W bits each, and a
    beat counter; measured 133 LUTs, 165 FFs for 8 channels of ufixed<6,2> over 4x4."""
    from flows.yosys import synth_xilinx

    gap = StreamGlobalSum(FixedFormat(6, 4, False), 8, 16)
    res = synth_xilinx(gap.files, gap.top, params=gap.parameters, work_dir=tmp_path)
    out_w = gap.out_format.width
    assert 2 * 8 * out_w <= res.ff <= 2 * 8 * out_w + 8, res
