"""How each layer of a streaming stage is built, and how fast: the folding plan and the stream layout.

A conv/dense layer is either a constant-weight da4ml kernel (``kernel``: P windows, or one whole
input vector, per cycle; LUT adders only, no multipliers) or a weight-memory MVAU (``mvau``: SIMD
inputs x PE outputs per cycle, weights in ROM). Every other layer has one implementation.

Pixels per beat (P) travel down the stage as the builder wires it (``stream_layout``, the one rule
both the builder and the planner read): a kernel conv keeps its input's P (P windows -> P pixels)
when the sliding-window generator takes that P, a K x K max pool of stride K divides it by K
(hardware/pool), and a layer that cannot read P pixels per beat (an MVAU conv, a pool or window
the generator cannot take at that P) gets a ``stream_split`` in front and reads one. Flatten keeps
the beats; a dense layer reads them as they come (beats x P*C elements) and writes one beat.

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


@dataclass(frozen=True)
class Geometry:
    """A stream as the builder wires it: ``beats`` per frame of ``elements``; ``pixels`` per beat (P) of a
    3-D tensor (a flattened one keeps its producer's beats)."""

    beats: int
    elements: int
    pixels: int = 1


@dataclass(frozen=True)
class LayerStream:
    """How one layer's block reads and writes: the stream it is given, what its block reads after any
    width split (``split`` pieces per input beat, 1: none), the block kind and its output stream."""

    given: Geometry
    read: Geometry
    block: str                  # swg (conv / pool / avg window), pool (stream_pool), vector (dense), pass
    out: Geometry
    cycles: int                 # cycles per frame of the layer's slowest block (split, swg, kernel, mvau, ...)

    @property
    def split(self) -> int:
        """Pieces a stream_split in front cuts each given beat into (1: no split)."""
        return self.given.pixels // self.read.pixels


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _pixels(shape, p: int) -> Geometry:
    return Geometry(shape[0] * shape[1] // p, shape[2] * p, p) if len(shape) == 3 else Geometry(1, shape[0], 1)


def swg_takes(layer: LayerIR, p: int) -> bool:
    """The sliding-window generator's rule for P > 1 (hardware/swg): stride 1 and whole beats per row."""
    if p == 1:
        return True
    _, w, _ = layer.in_shape
    _, _, pl, pr = layer.padding
    return tuple(layer.strides) == (1, 1) and not (w % p or pl % p or pr % p or (layer.window[1] - 1) % p)


def pool_takes(layer: LayerIR, p: int) -> bool:
    """stream_pool's rule: a square max pool of stride = window, no padding, P a multiple of K (hardware/pool)."""
    from hardware.pool import fits

    k = layer.window[0]
    return (layer.op == "maxpool" and p > 1 and tuple(layer.window) == (k, k) and tuple(layer.strides) == (k, k)
            and not any(layer.padding) and fits(tuple(layer.in_shape), k, p))


def windows_per_frame(layer: LayerIR) -> int:
    return layer.out_shape[0] * layer.out_shape[1] if len(layer.out_shape) == 3 else 1


def swg_cycles(layer: LayerIR, p: int) -> int:
    h, w, _ = layer.in_shape
    pt, pb, pl, pr = layer.padding
    return (h + pt + pb) * (w + pl + pr) // p


def layer_stream(layer: LayerIR, given: Geometry, plan: LayerPlan | None = None) -> LayerStream:
    """The block ``layer`` becomes on a stream ``given`` (plan: conv/dense only), and its cycles per frame."""
    plan = plan or LayerPlan()
    op, p = layer.op, given.pixels
    if op in ("conv2d", "maxpool", "avgpool") and len(layer.in_shape) == 3:
        if op == "maxpool" and pool_takes(layer, p):
            out = _pixels(layer.out_shape, p // layer.window[0])
            return LayerStream(given, given, "pool", out, given.beats)
        keep = swg_takes(layer, p) and not (op == "conv2d" and plan.impl == "mvau")
        read = given if keep else _pixels(layer.in_shape, 1)
        q = read.pixels
        cycles = max(read.beats, swg_cycles(layer, q), windows_per_frame(layer) // q)
        if op == "conv2d" and plan.impl == "mvau":
            cycles = max(cycles, mvau_cycles(layer, plan.simd, plan.pe, read.beats, read.elements))
        return LayerStream(given, read, "swg", _pixels(layer.out_shape, q), cycles)
    if op == "dense":
        if plan.impl == "mvau":
            cycles = mvau_cycles(layer, plan.simd, plan.pe, given.beats, given.elements)
        else:
            cycles = given.beats      # a gather of the whole vector, then one kernel pass
        return LayerStream(given, given, "vector", Geometry(1, layer.out_shape[0], 1), cycles)
    if op == "flatten":
        return LayerStream(given, given, "pass", given, 0)
    if op == "zeropad":        # a 1x1 swg with the padding, at the stream's P
        return LayerStream(given, given, "swg", _pixels(layer.out_shape, given.pixels), swg_cycles(layer, given.pixels))
    if op == "reshape":        # a vector keeps the beats; a 3-D target is whole pixels (a split or gather)
        if len(layer.out_shape) == 1:
            return LayerStream(given, given, "pass", given, 0)
        c = layer.out_shape[2]
        return LayerStream(given, given, "pass", Geometry(given.beats * given.elements // c, c, 1), given.beats)
    if op == "global_avgpool":
        return LayerStream(given, given, "sum", Geometry(1, layer.out_shape[0], 1), given.beats)
    if op == "concat" and len(layer.out_shape) == 3:
        out = Geometry(given.beats, given.pixels * layer.out_shape[2], given.pixels)
        return LayerStream(given, given, "join", out, given.beats)
    if op == "concat":
        return LayerStream(given, given, "join", Geometry(1, layer.out_shape[0], 1), given.beats)
    if op == "add":
        return LayerStream(given, given, "join", given, given.beats)
    return LayerStream(given, given, "pass", given, given.beats if op == "quant" else 0)


def stream_layout(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> dict[str, LayerStream]:
    """Every layer's LayerStream, walking the stage from its input at ``parallelism`` pixels per beat."""
    streams = {INPUT: _pixels(ir.input_shape, parallelism)}
    layout = {}
    for layer in ir.layers:
        ls = layer_stream(layer, streams[layer.inputs[0]], plans.get(layer.name))
        layout[layer.name] = ls
        streams[layer.name] = ls.out
    return layout


def stage_ii(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> int:
    """Cycles per frame of the stage as built: its slowest layer (forks and FIFOs move a beat per cycle)."""
    layout = stream_layout(ir, plans, parallelism)
    return max([ls.cycles for ls in layout.values()] + [ls.given.beats for ls in layout.values()])


def forwarded_parallelism(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> int | None:
    """Pixels per beat of the forwarded stream (the next stage's input P); None when nothing is forwarded."""
    if ir.forwarded is None:
        return None
    if ir.forwarded == INPUT:
        return parallelism
    return stream_layout(ir, plans, parallelism)[ir.forwarded].out.pixels


def stream_geometry(layer: LayerIR, parallelism: int = 1) -> tuple[int, int]:
    """(beats per frame, elements per beat) of a layer's input read as ``parallelism`` pixels per beat
    (a 1-D input as one vector beat). ``stream_layout`` gives what the builder actually wires."""
    g = _pixels(layer.in_shape, parallelism)
    return g.beats, g.elements


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


def _chunk(layer: LayerIR, in_elems: int) -> int:
    """What an MVAU's SIMD must divide: a conv's window vector, a dense layer's elements per beat."""
    return int(math.prod(layer.kernel.shape[:3])) if layer.op == "conv2d" else in_elems


def cheapest_mvau(layer: LayerIR, target_ii: int, in_beats: int, in_elems: int) -> LayerPlan | None:
    """Smallest SIMD x PE meeting ``target_ii`` (SIMD divides the input vector chunk, PE the outputs)."""
    outputs = layer.kernel.shape[-1]
    best = None
    for simd in divisors(_chunk(layer, in_elems)):
        for pe in divisors(outputs):
            if mvau_cycles(layer, simd, pe, in_beats, in_elems) > target_ii:
                continue
            key = (simd * pe, pe)
            if best is None or key < best[0]:
                best = (key, LayerPlan("mvau", simd, pe))
    return None if best is None else best[1]


def kernel_cycles(layer: LayerIR, in_beats: int, parallelism: int = 1) -> int:
    """A kernel takes P windows (conv) or one whole vector (dense) per cycle; a dense kernel on a
    multi-beat stream first gathers the frame (one beat per cycle)."""
    return windows_per_frame(layer) // parallelism if layer.op == "conv2d" else in_beats


def plan_stage(ir: StageIR, target_ii: int, kernel_luts, parallelism: int = 1,
               overrides: dict[str, LayerPlan] | None = None) -> dict[str, LayerPlan]:
    """A LayerPlan per conv/dense layer of a fused stage IR, each meeting ``target_ii`` cycles per frame.

    kernel_luts(layer) -> da4ml's LUT estimate of the layer's constant-weight kernel (one copy; a
    P-window kernel costs P of them); parallelism: pixels per beat of the stage input; overrides:
    plans given by the user or the DSE, checked like the chosen ones. Layers are planned in order on
    the streams ``stream_layout`` wires, so a layer sees the P its producer's plan leaves.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - {layer.name for layer in ir.layers}
    if unknown:
        raise PlanError(f"folding given for unknown layer(s) {sorted(unknown)} of stage {ir.name}; "
                        f"its layers: {', '.join(layer.name for layer in ir.layers)}")
    plans: dict[str, LayerPlan] = {}
    streams = {INPUT: _pixels(ir.input_shape, parallelism)}
    for layer in ir.layers:
        given = streams[layer.inputs[0]]
        if layer.op in ("conv2d", "dense"):
            plans[layer.name] = _plan_layer(layer, given, target_ii, kernel_luts, overrides.get(layer.name))
        streams[layer.name] = layer_stream(layer, given, plans.get(layer.name)).out
    return plans


def _plan_layer(layer: LayerIR, given: Geometry, target_ii: int, kernel_luts, override: LayerPlan | None) -> LayerPlan:
    if override is not None:
        read = layer_stream(layer, given, override).read
        return check_plan(layer, override, read.beats, read.elements)
    kernel = LayerPlan("kernel")
    as_kernel = layer_stream(layer, given, kernel)
    mvau_read = layer_stream(layer, given, LayerPlan("mvau")).read
    mvau = cheapest_mvau(layer, target_ii, mvau_read.beats, mvau_read.elements)
    if mvau is not None and layer_stream(layer, given, mvau).cycles > target_ii:
        mvau = None                   # the MVAU fits but the one-pixel stream in front of it does not
    kernel_fits = as_kernel.cycles <= target_ii
    if mvau is None:
        return kernel                 # fits, or the fastest there is (the stage runs slower)
    copies = as_kernel.read.pixels if layer.op == "conv2d" else 1
    if kernel_fits and copies * kernel_luts(layer) <= mvau_luts(layer, mvau.simd, mvau.pe):
        return kernel
    return mvau


def check_plan(layer: LayerIR, plan: LayerPlan, in_beats: int, in_elems: int) -> LayerPlan:
    if plan.impl not in IMPLEMENTATIONS:
        raise PlanError(f"layer {layer.name!r}: implementation {plan.impl!r} is unknown; use kernel or mvau")
    if plan.impl == "kernel":
        return plan
    outputs = layer.kernel.shape[-1]
    chunk = _chunk(layer, in_elems)
    if chunk % plan.simd or outputs % plan.pe:
        raise PlanError(f"layer {layer.name!r}: SIMD {plan.simd} must divide {chunk} and PE {plan.pe} must divide "
                        f"{outputs}; SIMD in {divisors(chunk)}, PE in {divisors(outputs)}")
    if plan.multiplier not in ("lut", "dsp"):
        raise PlanError(f"layer {layer.name!r}: multiplier {plan.multiplier!r} is unknown; use lut or dsp")
    return plan
