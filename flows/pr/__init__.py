"""Partial reconfiguration (DFX): region sizing, schedules, Vivado DFX Tcl (see evaluate.py)."""
from .evaluate import PrResult, ScheduleRecord, evaluate_pr, make_pr, pr_block, write_pr_outputs
from .inputs import ExitProfile, PrError, StageCost, pr_inputs_from_report

__all__ = ["ExitProfile", "PrError", "PrResult", "ScheduleRecord", "StageCost", "evaluate_pr", "make_pr", "pr_block",
           "pr_inputs_from_report", "write_pr_outputs"]
