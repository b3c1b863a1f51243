"""The blocks a streaming stage is built from, worked out from (StageIR, plans) without writing Verilog.

``stage_blocks`` walks a fused stage IR exactly as hardware/stream_stage's builder does (same
instances, in the same order, same cycles per frame; tests/flows/test_stream_costs.py compares the
two on stages at P = 1, 2, 4 and a residual stage). Pixels per beat follow
``hardware.stream_stage.plan.stream_layout``, the rule the builder itself reads; skip-branch FIFO
depths come from hardware/stream_stage/skip.py. Each block gets the knobs its cost model reads:

  swg         SwgKnobs         line buffer (K_H-1 rows) + window registers (ZeroPadding2D: a 1x1 swg)
  kernel      KernelKnobs      P copies of a da4ml constant-weight kernel in a stream_shell
  mvau        MvauKnobs        weight-ROM matrix-vector unit, SIMD x PE
  fifo        FifoKnobs        stream_fifo (before every MVAU, on every fork branch)
  fork        ForkKnobs        stream_fork of a stream read more than once
  gather      GatherKnobs      stream_gather: several beats into one (a dense kernel's vector, Reshape)
  split       SplitKnobs       stream_split: one beat into pieces (P -> 1 pixel per beat, Reshape)
  pool        PoolKnobs        stream_pool: K x K / K max pool on a P-wide stream
  join        JoinKnobs        stream_join: Add / Concatenate of two streams
  global_sum  GlobalSumKnobs   stream_global_sum: GlobalAveragePooling2D
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frontend.fixedpoint import FixedFormat
from frontend.ir import INPUT, LayerIR, StageIR, covering_format
from hardware.stream_stage import READ_FIFO_DEPTH
from hardware.stream_stage.plan import Geometry, LayerPlan, LayerStream, PlanError, layer_stream, stream_layout
from hardware.stream_stage.skip import skip_fifo_depths
from hardware.swg import build_swg


@dataclass(frozen=True)
class SwgKnobs:
    in_shape: tuple[int, int, int]
    bits: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    parallelism: int


@dataclass(frozen=True)
class KernelKnobs:
    """``op``: conv | max | avg; ``weights`` (rows = window elements, cols = outputs), bias and output
    (format, relu) for conv (dense and standalone quantisers are 1x1 conv kernels)."""

    op: str
    window: tuple[int, int, int]
    in_fmt: FixedFormat
    parallelism: int
    weights: np.ndarray | None = field(default=None, compare=False, repr=False)
    bias: np.ndarray | None = field(default=None, compare=False, repr=False)
    output: tuple[FixedFormat, bool] | None = None


@dataclass(frozen=True)
class MvauKnobs:
    weights: np.ndarray = field(compare=False, repr=False)   # (VEC, OUT)
    bias: np.ndarray | None = field(compare=False, repr=False)
    in_fmt: FixedFormat
    in_elems: int
    output: tuple[FixedFormat, bool] | None
    simd: int
    pe: int
    multiplier: str


@dataclass(frozen=True)
class FifoKnobs:
    width: int
    depth: int


@dataclass(frozen=True)
class ForkKnobs:
    width: int
    outputs: int


@dataclass(frozen=True)
class GatherKnobs:
    width: int
    pieces: int


@dataclass(frozen=True)
class SplitKnobs:
    width: int        # bits of one output piece
    pieces: int


@dataclass(frozen=True)
class PoolKnobs:
    in_shape: tuple[int, int, int]
    bits: int
    pool: int
    parallelism: int
    signed: bool


@dataclass(frozen=True)
class JoinKnobs:
    op: str                                     # add | concat
    in_formats: tuple[FixedFormat, FixedFormat]
    channels: tuple[int, int]
    out_format: FixedFormat
    pixels: int


@dataclass(frozen=True)
class GlobalSumKnobs:
    in_fmt: FixedFormat
    channels: int
    beats: int
    pixels: int


@dataclass(frozen=True)
class BlockSpec:
    instance: str
    kind: str
    layer: str
    cycles_per_frame: int
    knobs: object
    reads: str = ""      # the stream it takes
    writes: str = ""     # the stream it makes


@dataclass(frozen=True)
class _Stream:
    name: str
    elements: int
    fmt: FixedFormat
    beats: int

    @property
    def width(self) -> int:
        return self.elements * self.fmt.width


def _ident(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _requant(layer: LayerIR) -> tuple[FixedFormat, bool]:
    return (layer.out_format, bool(layer.requant and layer.requant.relu))


def _out_stream(layer: LayerIR, elements: int | None = None, beats: int | None = None) -> _Stream:
    shape = layer.out_shape
    e, b = (shape[2], shape[0] * shape[1]) if len(shape) == 3 else (shape[0], 1)
    return _Stream(f"{_ident(layer.name)}_o", elements or e, layer.out_format, beats or b)


def mvau_cycles_per_vector(vec: int, out: int, in_elems: int, simd: int, pe: int) -> int:
    """hardware/mvau: BEATS * (IN_ELEMS/SIMD) * (OUT/PE) cycles per vector, back to back."""
    return (vec // in_elems) * (in_elems // simd) * (out // pe)


def _layout_of(layer: LayerIR, src: _Stream, plan: LayerPlan) -> LayerStream:
    """plan.layer_stream of ``layer`` on ``src`` (its pixels per beat from the element count)."""
    p = src.elements // layer.in_shape[2] if len(layer.in_shape) == 3 else 1
    return layer_stream(layer, Geometry(src.beats, src.elements, p), plan)


def layer_blocks(layer: LayerIR, plan: LayerPlan, src: _Stream,
                 ls: LayerStream | None = None) -> tuple[list[BlockSpec], _Stream]:
    """The blocks one single-input layer is built from when it reads ``src``, and the stream it writes
    (``ls``: its plan.stream_layout entry; worked out from ``src`` when not given)."""
    ls = ls or _layout_of(layer, src, plan)
    ident = _ident(layer.name)
    if layer.op in ("conv2d", "maxpool", "avgpool"):
        if ls.block == "pool":
            return _pool(layer, ls, src)
        blocks, src = _split(layer, src, ls.split)
        more, out = _windowed(layer, plan, src, ls.read.pixels,
                              {"conv2d": "conv", "maxpool": "max", "avgpool": "avg"}[layer.op])
        return blocks + more, out
    if layer.op == "dense":
        return _dense(layer, plan, src)
    if layer.op == "quant":
        out = _out_stream(layer, elements=src.elements, beats=src.beats)
        kernel = BlockSpec(f"u_{ident}_kernel", "kernel", layer.name, src.beats,
                           KernelKnobs("conv", (1, 1, src.elements), layer.in_format, 1,
                                       weights=np.eye(src.elements), output=_requant(layer)), src.name, out.name)
        return [kernel], out
    if layer.op in ("flatten", "identity"):
        return [], src      # no block: raster order with channels inner is Keras' flatten order
    if layer.op == "zeropad":
        p = src.elements // layer.in_shape[2]
        swg = build_swg(tuple(layer.in_shape), layer.in_format, 1, 1, layer.padding, p)
        out = _out_stream(layer, elements=swg.out_elements, beats=swg.out_beats)
        return [BlockSpec(f"u_{ident}_swg", "swg", layer.name, swg.frame_cycles,
                          SwgKnobs(swg.in_shape, layer.in_format.width, swg.kernel, swg.stride, swg.padding, p),
                          src.name, out.name)], out
    if layer.op == "reshape":
        return _reshape(layer, src)
    if layer.op == "global_avgpool":
        c = layer.in_shape[2]
        out = _out_stream(layer, elements=c, beats=1)
        return [BlockSpec(f"u_{ident}_sum", "global_sum", layer.name, src.beats,
                          GlobalSumKnobs(layer.in_format, c, src.beats, src.elements // c), src.name, out.name)], out
    raise PlanError(f"layer {layer.name!r}: no streaming block for op {layer.op!r}")


def _split(layer: LayerIR, src: _Stream, pieces: int) -> tuple[list[BlockSpec], _Stream]:
    """The stream_split in front of a layer that reads one pixel per beat of a P-wide stream."""
    if pieces == 1:
        return [], src
    out = _Stream(f"{_ident(layer.name)}_split", src.elements // pieces, src.fmt, src.beats * pieces)
    return [BlockSpec(f"u_{out.name}", "split", layer.name, out.beats, SplitKnobs(src.width // pieces, pieces),
                      src.name, out.name)], out


def _pool(layer: LayerIR, ls: LayerStream, src: _Stream) -> tuple[list[BlockSpec], _Stream]:
    h, w, _ = layer.in_shape
    p = ls.read.pixels
    out = _out_stream(layer, elements=ls.out.elements, beats=ls.out.beats)
    knobs = PoolKnobs(tuple(layer.in_shape), layer.in_format.width, layer.window[0], p, layer.in_format.signed)
    return [BlockSpec(f"u_{_ident(layer.name)}_pool", "pool", layer.name, h * w // p, knobs, src.name, out.name)], out


def _windowed(layer: LayerIR, plan: LayerPlan, src: _Stream, p: int, op: str) -> tuple[list[BlockSpec], _Stream]:
    swg = build_swg(tuple(layer.in_shape), layer.in_format, layer.window, layer.strides, layer.padding, p)
    ident = _ident(layer.name)
    win = _Stream(f"{ident}_win", swg.out_elements, layer.in_format, swg.out_beats)
    out = _out_stream(layer, elements=p * layer.out_shape[2], beats=win.beats)
    blocks = [BlockSpec(f"u_{ident}_swg", "swg", layer.name, swg.frame_cycles,
                        SwgKnobs(swg.in_shape, layer.in_format.width, swg.kernel, swg.stride, swg.padding, p),
                        src.name, win.name)]
    if op == "conv" and plan.impl == "mvau":
        return blocks + _mvau(layer, win, out, layer.kernel.reshape(-1, layer.kernel.shape[3]), plan, win.beats), out
    kw = {}
    if op == "conv":
        kw = dict(weights=layer.kernel.reshape(-1, layer.kernel.shape[3]), bias=layer.bias, output=_requant(layer))
    blocks.append(BlockSpec(f"u_{ident}_kernel", "kernel", layer.name, win.beats,
                            KernelKnobs(op, swg.window_shape, layer.in_format, p, **kw), win.name, out.name))
    return blocks, out


def _dense(layer: LayerIR, plan: LayerPlan, src: _Stream) -> tuple[list[BlockSpec], _Stream]:
    ident = _ident(layer.name)
    out = _out_stream(layer)
    if plan.impl == "mvau":
        return _mvau(layer, src, out, layer.kernel, plan, vectors=1), out
    blocks, elements, vec = [], src.elements, src.name
    if src.beats > 1:    # a constant-weight kernel takes the whole vector at once
        vec = f"{ident}_vec"
        blocks.append(BlockSpec(f"u_{ident}_gather", "gather", layer.name, src.beats, GatherKnobs(src.width, src.beats),
                                src.name, vec))
        elements = src.elements * src.beats
    blocks.append(BlockSpec(f"u_{ident}_kernel", "kernel", layer.name, 1,
                            KernelKnobs("conv", (1, 1, elements), layer.in_format, 1, weights=layer.kernel,
                                        bias=layer.bias, output=_requant(layer)), vec, out.name))
    return blocks, out


def _mvau(layer: LayerIR, src: _Stream, dst: _Stream, kernel2d: np.ndarray, plan: LayerPlan,
          vectors: int) -> list[BlockSpec]:
    """A stream_fifo (the MVAU takes its input in bursts), then the MVAU."""
    ident = _ident(layer.name)
    vec, out = kernel2d.shape
    cycles = vectors * mvau_cycles_per_vector(vec, out, src.elements, plan.simd, plan.pe)
    return [BlockSpec(f"u_{ident}_in_fifo", "fifo", layer.name, src.beats, FifoKnobs(src.width, READ_FIFO_DEPTH),
                      src.name, f"{ident}_in"),
            BlockSpec(f"u_{ident}_mvau", "mvau", layer.name, cycles,
                      MvauKnobs(kernel2d, layer.bias, layer.in_format, src.elements, _requant(layer), plan.simd,
                                plan.pe, plan.multiplier), f"{ident}_in", dst.name)]


def _reshape(layer: LayerIR, src: _Stream) -> tuple[list[BlockSpec], _Stream]:
    """No block while a beat stays one pixel (or the target is a vector), else a split or gather of pixels."""
    shape = tuple(layer.out_shape)
    if len(shape) == 1 or src.elements == shape[2]:
        return [], src
    ident, elements = _ident(layer.name), shape[2]
    if src.elements % elements == 0:
        pieces = src.elements // elements
        out = _out_stream(layer, elements=elements, beats=src.beats * pieces)
        spec = BlockSpec(f"u_{ident}_split", "split", layer.name, out.beats, SplitKnobs(elements * src.fmt.width, pieces),
                         src.name, out.name)
    elif elements % src.elements == 0:
        pieces = elements // src.elements
        out = _out_stream(layer, elements=elements, beats=src.beats // pieces)
        spec = BlockSpec(f"u_{ident}_gather", "gather", layer.name, src.beats, GatherKnobs(src.width, pieces),
                         src.name, out.name)
    else:
        raise PlanError(f"layer {layer.name!r}: Reshape {layer.in_shape} -> {shape} cuts a beat of {src.elements} "
                        f"elements into pixels of {elements}; neither divides the other")
    return [spec], out


def _join_blocks(layer: LayerIR, streams: list[_Stream]) -> tuple[list[BlockSpec], _Stream]:
    """A chain of two-input stream_joins, partial results in the exact format of the inputs so far
    (the builder's rule), the last in the layer's format."""
    ident, op = _ident(layer.name), layer.op
    first = streams[0]
    shape = tuple(layer.in_shape)
    pixels = 1 if len(shape) == 1 else first.elements // shape[-1]
    blocks, acc = [], first
    for k, s in enumerate(streams[1:], start=1):
        last = k == len(streams) - 1
        if last:
            fmt = layer.out_format
        else:
            fmts = [t.fmt for t in streams[:k + 1]]
            lo, hi = ((sum(f.min_value for f in fmts), sum(f.max_value for f in fmts)) if op == "add" else
                      (min(f.min_value for f in fmts), max(f.max_value for f in fmts)))
            fmt = covering_format(lo, hi, max(f.frac for f in fmts))
        channels = (acc.elements // pixels, s.elements // pixels)
        out_c = channels[0] if op == "add" else sum(channels)
        out = (_out_stream(layer, elements=pixels * out_c, beats=first.beats) if last else
               _Stream(f"{ident}_j{k}", pixels * out_c, fmt, first.beats))
        blocks.append(BlockSpec(f"u_{ident}_join{k}", "join", layer.name, first.beats,
                                JoinKnobs(op, (acc.fmt, s.fmt), channels, fmt, pixels), f"{acc.name}+{s.name}",
                                out.name))
        acc = out
    return blocks, acc


def input_stream(layer: LayerIR, in_beats: int, in_elems: int) -> _Stream:
    """The stream a layer reads, from its (beats, elements per beat) (hardware/stream_stage.plan geometry)."""
    return _Stream("in", in_elems, layer.in_format, in_beats)


class _Walk:
    def __init__(self, ir: StageIR, plans: dict[str, LayerPlan], parallelism: int):
        self.ir, self.plans, self.p = ir, plans, parallelism
        self.blocks: list[BlockSpec] = []
        self.streams: dict[str, _Stream] = {}
        self.readers: dict[str, list[str]] = {}
        self.forked: set[str] = set()
        self.ports: dict[str, str] = {}     # output port -> the stream it carries
        self.inputs: dict[str, _Stream] = {}  # layer -> the stream it reads (its first input's)
        self.depths = skip_fifo_depths(ir, READ_FIFO_DEPTH)

    def reader_stream(self, src: str, reader: str) -> _Stream:
        """``src`` itself, or its fork branch (fork + one stream_fifo per branch, skip-sized) when read more than once."""
        s = self.streams[src]
        readers = self.readers[src]
        if len(readers) == 1:
            return s
        if src not in self.forked:
            self.forked.add(src)
            self.blocks.append(BlockSpec(f"u_{s.name}_fork", "fork", s.name, s.beats, ForkKnobs(s.width, len(readers)),
                                         s.name, f"{s.name}_fk"))
            for i, r in enumerate(readers):
                depth = self.depths.get((src, r), READ_FIFO_DEPTH)
                self.blocks.append(BlockSpec(f"u_{s.name}_r{i}_fifo", "fifo", s.name, s.beats,
                                             FifoKnobs(s.width, depth), f"{s.name}_fk", f"{s.name}_r{i}"))
        return _Stream(f"{s.name}_r{readers.index(reader)}", s.elements, s.fmt, s.beats)

    def walk(self) -> None:
        ir = self.ir
        layout = stream_layout(ir, self.plans, self.p)
        for layer in ir.layers:
            for src in layer.inputs:
                self.readers.setdefault(src, []).append(layer.name)
        for port, src in (("m_logits", ir.logits), ("m_fwd", ir.forwarded)):
            if src is not None:
                self.readers.setdefault(src, []).append(port)
        h, w, c = ir.input_shape
        self.streams[INPUT] = _Stream("s_axis", self.p * c, ir.input_format, h * w // self.p)
        for layer in ir.layers:
            src = self.inputs[layer.name] = self.reader_stream(layer.inputs[0], layer.name)
            if layer.op in ("add", "concat"):
                streams = [src] + [self.reader_stream(i, layer.name) for i in layer.inputs[1:]]
                blocks, self.streams[layer.name] = _join_blocks(layer, streams)
            else:
                blocks, self.streams[layer.name] = layer_blocks(layer, self.plans.get(layer.name, LayerPlan("kernel")),
                                                                src, layout[layer.name])
            self.blocks += blocks
        for port, src in (("m_logits", ir.logits), ("m_fwd", ir.forwarded)):
            if src is not None:
                self.ports[port] = self.reader_stream(src, port).name


def stage_graph(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> tuple[list[BlockSpec], dict]:
    """(every block build_stream_stage(ir, plans, ..., parallelism) instantiates, in its order;
    {output port: the stream it carries}). Streams are named as in the generated top; a join reads
    ``a+b`` (its inputs' names)."""
    if len(ir.input_shape) != 3:
        raise PlanError(f"stage {ir.name}: a streaming core reads an image (H, W, C), not {ir.input_shape}; "
                        "build this stage fully parallel")
    walk = _Walk(ir, plans, parallelism)
    walk.walk()
    return walk.blocks, walk.ports


def layer_inputs(ir: StageIR, parallelism: int = 1, plans: dict[str, LayerPlan] | None = None) -> dict[str, _Stream]:
    """The stream each layer is given (beats per frame, elements per beat) under ``plans`` (a layer's own
    plan does not change what it is given, only what its producers' plans leave)."""
    walk = _Walk(ir, dict(plans or {}), parallelism)
    walk.walk()
    return walk.inputs


def stage_blocks(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> list[BlockSpec]:
    return stage_graph(ir, plans, parallelism)[0]


@dataclass(frozen=True)
class CondBufferKnobs:
    """hardware/cond_buffer between two stages of a streaming pipeline (not inside a stage)."""

    width: int
    frame_beats: int
    depth: int


@dataclass(frozen=True)
class ExitUnitKnobs:
    """hardware/exit_unit (the parallel unit after a stage's logits): exit_unit.reference.ExitUnitConfig's
    sizing knobs (its LUT-table options at their defaults)."""

    classes: int
    logit: FixedFormat
    policy: str

    def config(self):
        from exit_unit.reference import ExitUnitConfig

        return ExitUnitConfig(self.classes, self.logit, self.policy)
