"""How each layer of a streaming stage is built, and how fast: the folding plan.

A conv/dense layer is either a constant-weight da4ml kernel (``kernel``: one window, or one whole
input vector, per cycle; LUT adders only, no multipliers) or a weight-memory MVAU (``mvau``: SIMD
inputs x PE outputs per cycle, weights in ROM). Every other layer has one implementation.

``plan_stage`` balances a stage to a target initiation interval (cycles per frame), as FINN and
fpgaConvNet do: each layer gets the cheapest implementation whose cycles per frame fit the target.
Which is cheapest is judged by a LUT estimate: da4ml's own cost model for a kernel, and for an MVAU
the fitted rule below. Both are estimates (the report gives the Yosys counts of what was built).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from frontend.ir import INPUT, LayerIR, StageIR

IMPLEMENTATIONS = ("kernel", "mvau")
# MVAU LUTs ~ BASE + PER_PRODUCT * (weight bits x input bits / 16) * SIMD * PE (LUT shift-and-add products,
# dot trees and accumulators): fitted to the Yosys counts of hardware/mvau at LeNet shapes (4-bit weights,
# 4-bit inputs: ~16 LUTs per product). An estimate for choosing, never reported as a result.
MVAU_LUT_BASE = 150
MVAU_LUT_PER_PRODUCT = 16


class PlanError(ValueError):
    """A folding request the hardware cannot build; the message names the layer and the fix."""


@dataclass(frozen=True)
class LayerPlan:
    impl: str = "kernel"        # kernel | mvau
    simd: int = 1
    pe: int = 1
    multiplier: str = "lut"     # lut | dsp (mvau only)

    def to_dict(self) -> dict:
        return asdict(self) if self.impl == "mvau" else {"impl": self.impl}


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def stream_geometry(layer: LayerIR, parallelism: int = 1) -> tuple[int, int]:
    """(beats per frame, elements per beat) of the stream a layer reads: P pixels of C channels, or one
    vector beat after a dense layer."""
    shape = layer.in_shape
    if len(shape) == 3:
        return shape[0] * shape[1] // parallelism, shape[2] * parallelism
    return 1, shape[0]


def flattened_streams(ir: StageIR) -> dict[str, tuple[int, int]]:
    """(beats, elements per beat) of each vector that is a flattened pixel stream (Flatten, Reshape to a
    vector, and quantisers or joins of those): the builder keeps the pixel beats (H*W beats of C), so a
    dense layer reading one takes its vector over many beats, not in one."""
    shapes = {INPUT: tuple(ir.input_shape), **{layer.name: tuple(layer.out_shape) for layer in ir.layers}}
    flat: dict[str, tuple[int, int]] = {}
    for layer in ir.layers:
        if len(layer.out_shape) != 1 or layer.op in ("dense", "global_avgpool") or not layer.inputs:
            continue
        src = layer.inputs[0]
        if len(shapes[src]) == 3:
            flat[layer.name] = (shapes[src][0] * shapes[src][1], shapes[src][2])
        elif src in flat:
            flat[layer.name] = flat[src]
    return flat


def windows_per_frame(layer: LayerIR) -> int:
    return layer.out_shape[0] * layer.out_shape[1] if len(layer.out_shape) == 3 else 1


def mvau_cycles(layer: LayerIR, simd: int, pe: int, in_beats: int, in_elems: int) -> int:
    """Cycles per frame of an MVAU for a conv (one window vector per output pixel) or a dense layer."""
    outputs = layer.kernel.shape[-1]
    if layer.op == "conv2d":
        vec = int(math.prod(layer.kernel.shape[:3]))
        return windows_per_frame(layer) * (vec // simd) * (outputs // pe)
    return in_beats * (in_elems // simd) * (outputs // pe)


def mvau_luts(layer: LayerIR, simd: int, pe: int) -> float:
    product_bits = layer.weight_format.width * layer.in_format.width
    return MVAU_LUT_BASE + MVAU_LUT_PER_PRODUCT * product_bits / 16 * simd * pe


def cheapest_mvau(layer: LayerIR, target_ii: int, in_beats: int, in_elems: int) -> LayerPlan | None:
    """Smallest SIMD x PE meeting ``target_ii`` (SIMD divides the input vector chunk, PE the outputs)."""
    outputs = layer.kernel.shape[-1]
    chunk = int(math.prod(layer.kernel.shape[:3])) if layer.op == "conv2d" else in_elems
    best = None
    for simd in divisors(chunk):
        for pe in divisors(outputs):
            if mvau_cycles(layer, simd, pe, in_beats, in_elems) > target_ii:
                continue
            key = (simd * pe, pe)
            if best is None or key < best[0]:
                best = (key, LayerPlan("mvau", simd, pe))
    return None if best is None else best[1]


def kernel_cycles(layer: LayerIR, in_beats: int) -> int:
    """A kernel takes one window (conv) or one whole vector (dense) per cycle; a dense kernel on a
    multi-beat stream first gathers the frame (one beat per cycle)."""
    return windows_per_frame(layer) if layer.op == "conv2d" else in_beats


def plan_stage(ir: StageIR, target_ii: int, kernel_luts, parallelism: int = 1,
               overrides: dict[str, LayerPlan] | None = None) -> dict[str, LayerPlan]:
    """A LayerPlan per conv/dense layer of a fused stage IR, each meeting ``target_ii`` cycles per frame.

    kernel_luts(layer) -> da4ml's LUT estimate of the layer's constant-weight kernel (one copy);
    overrides: plans given by the user or the DSE, checked like the chosen ones.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - {layer.name for layer in ir.layers}
    if unknown:
        raise PlanError(f"folding given for unknown layer(s) {sorted(unknown)} of stage {ir.name}; "
                        f"its layers: {', '.join(layer.name for layer in ir.layers)}")
    plans: dict[str, LayerPlan] = {}
    p = parallelism
    flat = flattened_streams(ir)
    for layer in ir.layers:
        if layer.op not in ("conv2d", "dense"):
            continue
        in_beats, in_elems = stream_geometry(layer, p if layer.inputs == ("input",) else 1)
        if layer.op == "dense" and layer.inputs[0] in flat:
            in_beats, in_elems = flat[layer.inputs[0]]
        if layer.name in overrides:
            plans[layer.name] = check_plan(layer, overrides[layer.name], in_beats, in_elems)
            continue
        mvau = cheapest_mvau(layer, target_ii, in_beats, in_elems)
        kernel_fits = kernel_cycles(layer, in_beats) <= target_ii
        if mvau is None and not kernel_fits:
            plans[layer.name] = LayerPlan("kernel")       # the fastest there is; the stage runs slower
        elif mvau is None or (kernel_fits and kernel_luts(layer) <= mvau_luts(layer, mvau.simd, mvau.pe)):
            plans[layer.name] = LayerPlan("kernel")
        else:
            plans[layer.name] = mvau
    return plans


def check_plan(layer: LayerIR, plan: LayerPlan, in_beats: int, in_elems: int) -> LayerPlan:
    if plan.impl not in IMPLEMENTATIONS:
        raise PlanError(f"layer {layer.name!r}: implementation {plan.impl!r} is unknown; use kernel or mvau")
    if plan.impl == "kernel":
        return plan
    outputs = layer.kernel.shape[-1]
    chunk = int(math.prod(layer.kernel.shape[:3])) if layer.op == "conv2d" else in_elems
    if chunk % plan.simd or outputs % plan.pe:
        raise PlanError(f"layer {layer.name!r}: SIMD {plan.simd} must divide {chunk} and PE {plan.pe} must divide "
                        f"{outputs}; SIMD in {divisors(chunk)}, PE in {divisors(outputs)}")
    if plan.multiplier not in ("lut", "dsp"):
        raise PlanError(f"layer {layer.name!r}: multiplier {plan.multiplier!r} is unknown; use lut or dsp")
    return plan
