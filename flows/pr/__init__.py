"""Partial reconfiguration (Xilinx DFX) of the stage cores: is it worth it, and the project that does it.

Layers, each a module:
- ``inputs``: input records (``StageCost``, ``ExitProfile``), board figures (``reconfig_spec``,
  ``power_spec`` from ``boards/<board>.yaml`` ``reconfiguration:``/``power:``), report.json loader;
- ``region``: region sizing on the 7-series frame model (columns x clock regions -> frames ->
  partial bitstream bytes -> seconds over the configuration port) and the candidate mappings;
- ``schedule``: the discrete-event simulation (per-sample, batched, all-resident) and energy;
- ``evaluate``: ``evaluate_pr`` (mapping choice, schedules, deadline-aware batch, break-even),
  ``PrResult.to_dict()`` = the report's ``pr`` block, ``write_pr_outputs``, ``make_pr``, ``pr_block``;
- ``tcl`` / ``static`` / ``rm``: the Vivado DFX project Tcl, the static stream path (decoupler,
  exit tap + shared exit unit) and the stage cores wrapped as reconfigurable modules;
- ``rtl/``: hand-written Verilog (decoupler, region wrapper, width adapter, exit tap).

Model assumptions (stated in the report notes where they matter): input is backlogged (throughput
bound), latency counts from a batch's admission to the device; in a PR mapping every stage run
streams its input from DDR and its result back (AXI DMA, one setup per run); the all-resident
design chains the stages on chip; energy = (PS + PL static) power x time + each core's dynamic
power while busy + reconfiguration power x reconfiguration time.
"""
from .evaluate import PrResult, ScheduleRecord, evaluate_pr, make_pr, pr_block, write_pr_outputs
from .inputs import ExitProfile, PrError, StageCost, pr_inputs_from_report

__all__ = ["ExitProfile", "PrError", "PrResult", "ScheduleRecord", "StageCost", "evaluate_pr", "make_pr", "pr_block",
           "pr_inputs_from_report", "write_pr_outputs"]
