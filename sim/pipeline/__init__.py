"""The multi-exit pipeline in RTL: generated top, cocotb testbench, latency and energy per exit.

Public entry point: :func:`simulate_pipeline` -> :class:`SimResult` (``to_dict()`` is the
``sim`` block of report.json, ``to_markdown()`` its report.md section).
"""
from hardware.pipeline.generate import PipelineParams, PipelineRtl, write_pipeline
from .simulate import SimResult, simulate_pipeline

__all__ = ["PipelineParams", "PipelineRtl", "write_pipeline", "SimResult", "simulate_pipeline"]
