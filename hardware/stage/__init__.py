"""Per-stage Verilog cores from QKeras stage models, via da4ml.

    rtl = build_stage_rtl(stage.model, input_format, out_dir, "stage_1", lut_budget=board_luts)
    rtl.verilog_files, rtl.top           # compile these; top has clk, rst (sync, high),
                                         # s_axis_t{data,valid,ready}, m_axis_t{data,valid,ready}
    rtl.input, rtl.outputs               # PortTensor(name, shape, FixedFormat); packing: packing.py
    rtl.forwarded.fmt                    # input_format of the next stage
    rtl.latency_cycles, rtl.lut_estimate, rtl.fits
    rtl.reference(x_codes)               # bit-exact numpy model of the core

Steps: trace.py (Keras layers -> da4ml trace, QKeras rounding/saturation in
quantize.py) -> emit.py (da4ml pipeline + packing adapter + stream_shell.v).
Verification lives in sim/stage (cocotb) and uses the same packing module.
"""
from .build import StageRtl, StageTooLarge, build_stage_rtl
from .packing import PortTensor, pack, unpack
from .trace import UnsupportedLayer, trace_stage

__all__ = ["StageRtl", "StageTooLarge", "build_stage_rtl", "PortTensor", "pack", "unpack", "UnsupportedLayer",
           "trace_stage"]
