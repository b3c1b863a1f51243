"""What the streaming DSE model is built from: stage IRs per variant, the fitted costs of every primitive
(stage blocks, exit units, conditional buffers; flows/dse/stream_costs), and the splits' logit codes.

``build_model(build, out, client, tick)`` -> StreamModel. Stage k's variants:

* with its exit head (the exit kept), headless (dropped: only the forwarded tensor), or logits-only
  (a subnet's last stage: nothing forwarded);
* at any input P and target II: the planner (flows/dse/stream_costs) folds each layer to the II, the
  fitted cost models price it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .evaluate import CoreFigures, Routing, StreamModel

POLICIES = ("max_prob", "entropy", "margin")
# the code a prediction depends on besides its data (a cached search is read back only when none changed)
PREDICTION_CODE = ("flows/dse/streaming/*.py", "flows/dse/stream_costs/*.py", "hardware/stream_stage/*.py",
                   "hardware/pipeline/stream.py", "hardware/cond_buffer/*.py", "frontend/calibrate.py",
                   "exit_unit/reference.py")


def _frame_pixels(ir) -> int:
    shape = ir.input_shape
    return int(shape[0] * shape[1]) if len(shape) == 3 else 1


def stage_irs(stages) -> tuple[list, list, list]:
    """(with head, headless, logits-only) fused IR per stage; headless None for the last stage."""
    from frontend.ir import fuse_requantisers, stage_ir
    from frontend.stages import headless_model

    full, headless, logits_only, fmt = [], [], [], None
    for stage in stages:
        k = stage.index
        ir = fuse_requantisers(stage_ir(stage.model, fmt, name=f"stage_{k}"))
        full.append(ir)
        logits_only.append(replace(ir, forwarded=None) if ir.forwarded else ir)
        if stage.is_last:
            headless.append(None)
        else:
            headless.append(fuse_requantisers(stage_ir(headless_model(stage), fmt, has_logits=False,
                                                       name=f"stage_{k}")))
            fmt = ir.layer(ir.forwarded).out_format
    return full, headless, logits_only


def _fitted(cost: dict[str, float], **extra) -> CoreFigures:
    """A block's fitted resources (StreamCosts.block_cost), BRAM in RAMB36 equivalents."""
    return CoreFigures(lut=cost["lut"], ff=cost["ff"], bram=cost["ramb36"] + cost["ramb18"] / 2, dsp=cost["dsp"],
                       **extra)


def build_model(build, out: Path, client, say, tick) -> tuple[StreamModel, dict]:
    """The prediction model of ``build``'s model on its board, and a record of how it was made."""
    from flows.content_key import ContentKey
    from frontend.calibrate import exit_configs, logit_codes
    from flows.dse.costs import exit_unit_latency
    from flows.dse.stream_costs import fit_costs, plan_stage_with_costs, predict_stage
    from hardware.stream_stage.plan import stream_layout

    family = build.board.family
    full, headless, logits_only = stage_irs(build.stages)
    say("cost models of the streaming primitives (Yosys probes, fitted, cached)")
    costs = fit_costs(out / "costs" / family, client=client, family=family, progress=say)

    def stage_core(k: int, is_headless: bool, is_logits_only: bool, p_in: int, target_ii: int) -> CoreFigures:
        ir = headless[k - 1] if is_headless else logits_only[k - 1] if is_logits_only else full[k - 1]
        plans = plan_stage_with_costs(ir, target_ii, costs, parallelism=p_in)
        pred = predict_stage(ir, plans, p_in, costs)
        fwd = None if ir.forwarded is None else stream_layout(ir, plans, p_in)[ir.forwarded].out  # as the builder wires it
        bits = 0 if fwd is None else fwd.elements * ir.layer(ir.forwarded).out_format.width
        return CoreFigures(lut=pred.lut, ff=pred.ff, bram=pred.bram, dsp=pred.dsp, ii_cycles=pred.ii_cycles,
                           latency_cycles=pred.latency_cycles, forwarded_beats=0 if fwd is None else fwd.beats,
                           forwarded_bits=bits, forwarded_parallelism=1 if fwd is None else fwd.pixels,
                           plans={name: plan.to_dict() for name, plan in plans.items()})

    configs = {p: exit_configs(build.stages, p) for p in POLICIES}
    # exit units and conditional buffers are priced by the same fits as every other primitive (their probes
    # include LeNet's 10 x 16-bit units and stage-1 buffer); the point builds measure them (validate.py)
    unit_figures = {(policy, k): _fitted(costs.exit_unit(cfg), latency_cycles=exit_unit_latency(cfg))
                    for policy, cfgs in configs.items() for k, cfg in enumerate(cfgs, start=1)}
    buffers: dict[tuple[int, int, int], tuple[CoreFigures, int]] = {}

    def cond_buffer(width: int, beats: int, frames: int) -> tuple[CoreFigures, int]:
        key = (width, beats, frames)
        if key not in buffers:
            depth = 1 << max(1, (frames * beats + 2 - 1).bit_length())   # as hardware/pipeline/stream.py sizes it
            buffers[key] = (_fitted(costs.cond_buffer(width, beats, depth)), (depth - 2) // beats)
        return buffers[key]

    data = build.dataset
    routing = Routing(configs,
                      {"selection": logit_codes(build.model, build.stages, data.x_cal),
                       "test": logit_codes(build.model, build.stages, data.x_test)},
                      {"selection": data.y_cal, "test": data.y_test})
    power = build.board.extra.get("power") or {}
    figure = (lambda key: float(power[key]["value"]) if isinstance(power.get(key), dict) else None)  # noqa: E731
    model = StreamModel(n_exits=len(build.stages), frame_pixels=_frame_pixels(full[0]),
                        clock_mhz=float(build.board.clock_mhz), routing=routing, stage_core=stage_core,
                        exit_unit=lambda policy, k: unit_figures[(policy, k)], cond_buffer=cond_buffer,
                        decision_cycles=lambda policy, k: unit_figures[(policy, k)].latency_cycles,
                        w_per_klut=figure("w_per_klut"), pl_static_w=figure("pl_static_w"))
    key = (ContentKey("streaming dse predictions").file(out / "costs" / family / "stream_costs.json", "cost fits")
           .text("board", {"clock_mhz": build.board.clock_mhz, "power": power, "family": family})
           .code(PREDICTION_CODE))
    for split in ("selection", "test"):
        key.array(f"labels {split}", routing.labels[split])
        for k, c in enumerate(routing.codes[split], start=1):
            key.array(f"codes {split} {k}", c)
    record = {"exit_units_and_buffers": "fitted cost models (stream_costs), no Yosys run of their own",
              "key": key.hexdigest()}
    return model, record
