"""A cost-aware folding plan: per conv/dense layer, the implementation with the fewest predicted LUTs
(the fitted models, StreamCosts.layer_luts) among those meeting the target initiation interval.

hardware/stream_stage.plan_stage balances a stage the same way but judges "cheapest" by a
per-layer LUT guess; this planner is the one the DSE uses once the primitives' fits exist:

    plans = plan_stage_with_costs(ir, target_ii=784, costs=costs, parallelism=1)

Candidates per layer (hardware/stream_stage/plan.py's geometry and checks): the da4ml kernel (one
window, or one whole vector, per cycle) and every SIMD x PE MVAU with LUT multipliers meeting the
target, on the stream plan.stream_layout gives the layer: at P > 1 a kernel conv is P kernel copies
and an MVAU conv reads through a stream_split (one pixel per beat), both priced with their blocks.
A layer that meets the target in no way gets its fastest implementation, the kernel (the stage
then runs slower than the target; predict_stage says how slow).
"""
from __future__ import annotations

import math

from frontend.ir import INPUT, LayerIR, StageIR
from hardware.stream_stage.plan import (Geometry, LayerPlan, PlanError, check_plan, divisors, layer_stream,
                                        stream_geometry)

from .blocks import mvau_cycles_per_vector
from .costs import StreamCosts


def _windows(layer: LayerIR) -> int:
    return layer.out_shape[0] * layer.out_shape[1] if layer.op == "conv2d" else 1


def mvau_shape(layer: LayerIR, in_beats: int, in_elems: int) -> tuple[int, int, int, int]:
    """(vectors per frame, vector length, elements per MVAU input beat, outputs) of a layer built as an
    MVAU: a conv takes one window vector per output pixel, a dense layer the stream's beats as one vector."""
    outputs = layer.kernel.shape[-1]
    if layer.op == "conv2d":
        vec = int(math.prod(layer.kernel.shape[:3]))
        return _windows(layer), vec, vec, outputs
    return 1, in_beats * in_elems, in_elems, outputs


def mvau_frame_cycles(layer: LayerIR, plan: LayerPlan, in_beats: int, in_elems: int) -> int:
    vectors, vec, elems, outputs = mvau_shape(layer, in_beats, in_elems)
    return vectors * mvau_cycles_per_vector(vec, outputs, elems, plan.simd, plan.pe)


def mvau_candidates(layer: LayerIR, target_ii: int, in_beats: int, in_elems: int) -> list[LayerPlan]:
    """Every LUT-multiplier SIMD x PE meeting ``target_ii`` (SIMD divides the elements of an MVAU input
    beat, PE the outputs)."""
    _, _, elems, outputs = mvau_shape(layer, in_beats, in_elems)
    plans = [LayerPlan("mvau", simd, pe) for simd in divisors(elems) for pe in divisors(outputs)]
    return [p for p in plans if mvau_frame_cycles(layer, p, in_beats, in_elems) <= target_ii]


def cheapest_plan(layer: LayerIR, target_ii: int, costs: StreamCosts, in_beats: int, in_elems: int) -> LayerPlan:
    """The cheapest plan meeting ``target_ii`` for a layer given a stream of ``in_beats`` x ``in_elems``
    (P = in_elems / channels pixels per beat for a conv). Cycles are plan.layer_stream's (the split,
    swg, kernel or MVAU, whichever is slowest); LUTs are the fits' over the blocks the builder makes
    for that plan: a kernel conv at P is P kernel copies (and its swg at P), an MVAU conv reads through
    a stream_split to one pixel per beat."""
    p = in_elems // layer.in_shape[2] if layer.op == "conv2d" else 1
    given = Geometry(in_beats, in_elems, p)
    kernel = LayerPlan("kernel")
    read = layer_stream(layer, given, LayerPlan("mvau")).read
    mvaus = [m for m in mvau_candidates(layer, target_ii, read.beats, read.elements)
             if layer_stream(layer, given, m).cycles <= target_ii]
    scored = sorted((costs.layer_luts(layer, m, in_beats, in_elems), m.simd * m.pe, m.pe, m) for m in mvaus)
    if not scored:
        return kernel           # meets the target, or is the fastest there is
    best_luts, best = scored[0][0], scored[0][3]
    if layer_stream(layer, given, kernel).cycles <= target_ii and \
            costs.layer_luts(layer, kernel, in_beats, in_elems, bound=best_luts) <= best_luts:
        return kernel
    return best


def plan_stage_with_costs(ir: StageIR, target_ii: int, costs: StreamCosts, parallelism: int = 1,
                          overrides: dict[str, LayerPlan] | None = None) -> dict[str, LayerPlan]:
    """A LayerPlan per conv/dense layer of a fused stage IR, each the cheapest by ``costs`` meeting
    ``target_ii`` cycles per frame; ``overrides`` (the user's or the DSE's) are checked and kept.

    Layers are planned in order on the streams plan.stream_layout wires (the builder's rule), so a
    layer sees the pixels per beat its producers' plans leave (an MVAU conv's output is one pixel per
    beat, a kernel conv's keeps P). Each layer is chosen greedily: its own LUTs, not what its P costs
    the layers after it."""
    if target_ii < 1:
        raise PlanError(f"stage {ir.name}: target II {target_ii} is not a positive number of cycles per frame")
    overrides = dict(overrides or {})
    unknown = set(overrides) - {layer.name for layer in ir.layers}
    if unknown:
        raise PlanError(f"folding given for unknown layer(s) {sorted(unknown)} of stage {ir.name}; "
                        f"its layers: {', '.join(layer.name for layer in ir.layers)}")
    plans: dict[str, LayerPlan] = {}
    first = ir.layers[0]     # reads the stage input
    streams = {INPUT: Geometry(*stream_geometry(first, parallelism), parallelism if len(ir.input_shape) == 3 else 1)}
    for layer in ir.layers:
        given = streams[layer.inputs[0]]
        if layer.op in ("conv2d", "dense"):
            if layer.name in overrides:
                read = layer_stream(layer, given, overrides[layer.name]).read
                _, _, elems, _ = mvau_shape(layer, read.beats, read.elements)
                plans[layer.name] = check_plan(layer, overrides[layer.name], read.beats, elems)
            else:
                plans[layer.name] = cheapest_plan(layer, target_ii, costs, given.beats, given.elements)
        streams[layer.name] = layer_stream(layer, given, plans.get(layer.name)).out
    return plans
