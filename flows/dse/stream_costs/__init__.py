"""Cost models of the streaming primitives, fitted to Yosys probes: predict a streaming stage's resources
and timing from (StageIR, plans) without synthesising it (issue 14, items 1 and 3).

    from flows.dse.stream_costs import fit_costs, predict_stage
    costs = fit_costs(Path("build/dse/costs/xc7"))           # probes as Dask jobs (client=...), cached
    plans = plan_stage_with_costs(ir, target_ii=784, costs=costs)   # planner.py: cheapest by the fits
    pred = predict_stage(ir, plans, parallelism=1, costs=costs)   # StagePrediction: LUT, FF, BRAM, DSP, II

Modules, in the order data crosses them:

- blocks.py: the blocks of a stage from (ir, plans, P), as hardware/stream_stage builds them (plan.stream_layout);
- memory.py: where Yosys puts a RAM or ROM (LUTRAM / BRAM / LUTs), by its own cost rule;
- features.py, describe.py: structural quantities of a block (da4ml kernel cost, MVAU adder bits, ...);
- probes.py: the probe designs; models.py: which features each metric is linear in;
- fit.py: non-negative least squares per primitive, the JSON cache with probes and residuals;
- costs.py: ``StreamCosts`` (what plan_stage and the DSE take); predict.py: ``predict_stage``;
- validate.py: the LeNet stages built, synthesised and simulated against the predictions.
"""
from __future__ import annotations

from pathlib import Path

from .costs import SOURCE, StreamCosts
from .fit import fit_costs
from .planner import plan_stage_with_costs
from .predict import BlockPrediction, StagePrediction, predict_stage

DEFAULT_DIR = Path("build") / "dse" / "costs"


def default_costs(family: str = "xc7", client=None, progress=None) -> StreamCosts:
    """The fits under build/dse/costs/<family>/ (fitted there first when missing or stale)."""
    return fit_costs(DEFAULT_DIR / family, client=client, family=family, progress=progress)


__all__ = ["SOURCE", "BlockPrediction", "StagePrediction", "StreamCosts", "default_costs", "fit_costs",
           "plan_stage_with_costs",
           "predict_stage"]
