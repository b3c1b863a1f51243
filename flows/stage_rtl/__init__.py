"""Per-stage Verilog cores from QKeras stage models, via da4ml.

Public entry point: :func:`build_stage_rtl` -> :class:`StageRtl`.
"""
from .build import StageRtl, StageTooLarge, build_stage_rtl
from .packing import PortTensor, pack, unpack
from .trace import UnsupportedLayer, trace_stage

__all__ = ["StageRtl", "StageTooLarge", "build_stage_rtl", "PortTensor", "pack", "unpack", "UnsupportedLayer", "trace_stage"]
