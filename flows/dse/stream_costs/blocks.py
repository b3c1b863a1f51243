"""The blocks a streaming stage is built from, worked out from (StageIR, plans) without writing Verilog.

``stage_blocks`` walks a fused stage IR exactly as hardware/stream_stage's builder does (same
instances, in the same order, same cycles per frame; tests/flows/test_stream_costs.py compares the
two on a stage) and gives each block the knobs its cost model reads:

  swg       SwgKnobs      line buffer (K_H-1 rows) + window registers
  kernel    KernelKnobs   P copies of a da4ml constant-weight kernel in a stream_shell
  mvau      MvauKnobs     weight-ROM matrix-vector unit, SIMD x PE
  fifo      FifoKnobs     stream_fifo (before every MVAU, on every fork branch)
  fork      ForkKnobs     stream_fork of a stream read more than once
  gather    GatherKnobs   stream_gather: a multi-beat vector into one beat for a dense kernel
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frontend.fixedpoint import FixedFormat
from frontend.ir import INPUT, LayerIR, StageIR
from hardware.stream_stage import READ_FIFO_DEPTH
from hardware.stream_stage.plan import LayerPlan, PlanError
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


def layer_blocks(layer: LayerIR, plan: LayerPlan, src: _Stream) -> tuple[list[BlockSpec], _Stream]:
    """The blocks one layer is built from when it reads ``src``, and the stream it writes."""
    if layer.op in ("conv2d", "maxpool", "avgpool"):
        return _windowed(layer, plan, src, {"conv2d": "conv", "maxpool": "max", "avgpool": "avg"}[layer.op])
    if layer.op == "dense":
        return _dense(layer, plan, src)
    if layer.op == "quant":
        out = _out_stream(layer, elements=src.elements, beats=src.beats)
        kernel = BlockSpec(f"u_{_ident(layer.name)}_kernel", "kernel", layer.name, src.beats,
                           KernelKnobs("conv", (1, 1, src.elements), layer.in_format, 1,
                                       weights=np.eye(src.elements), output=_requant(layer)), src.name, out.name)
        return [kernel], out
    if layer.op in ("flatten", "identity"):
        return [], src      # no block: raster order with channels inner is Keras' flatten order
    raise PlanError(f"layer {layer.name!r}: no streaming block for op {layer.op!r}")


def _windowed(layer: LayerIR, plan: LayerPlan, src: _Stream, op: str) -> tuple[list[BlockSpec], _Stream]:
    p = src.elements // layer.in_shape[2]
    if plan.impl == "mvau" and p != 1:
        raise PlanError(f"layer {layer.name!r}: an MVAU conv reads one pixel per beat, the stream has {p}")
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
        self.inputs: dict[str, _Stream] = {}  # layer -> the stream it reads

    def reader_stream(self, src: str, reader: str) -> _Stream:
        """``src`` itself, or its fork branch (fork + one stream_fifo per branch) when read more than once."""
        s = self.streams[src]
        readers = self.readers[src]
        if len(readers) == 1:
            return s
        if src not in self.forked:
            self.forked.add(src)
            self.blocks.append(BlockSpec(f"u_{s.name}_fork", "fork", s.name, s.beats, ForkKnobs(s.width, len(readers)),
                                         s.name, f"{s.name}_fk"))
            for i in range(len(readers)):
                self.blocks.append(BlockSpec(f"u_{s.name}_r{i}_fifo", "fifo", s.name, s.beats,
                                             FifoKnobs(s.width, READ_FIFO_DEPTH), f"{s.name}_fk", f"{s.name}_r{i}"))
        return _Stream(f"{s.name}_r{readers.index(reader)}", s.elements, s.fmt, s.beats)

    def walk(self) -> None:
        ir = self.ir
        for layer in ir.layers:
            for src in layer.inputs:
                self.readers.setdefault(src, []).append(layer.name)
        for port, src in (("m_logits", ir.logits), ("m_fwd", ir.forwarded)):
            if src is not None:
                self.readers.setdefault(src, []).append(port)
        h, w, c = ir.input_shape
        self.streams[INPUT] = _Stream("s_axis", self.p * c, ir.input_format, h * w // self.p)
        for layer in ir.layers:
            if len(layer.inputs) != 1:
                raise PlanError(f"layer {layer.name!r} ({layer.op}) has {len(layer.inputs)} inputs; the streaming "
                                "cores do not join streams yet")
            src = self.inputs[layer.name] = self.reader_stream(layer.inputs[0], layer.name)
            blocks, self.streams[layer.name] = layer_blocks(layer, self.plans.get(layer.name, LayerPlan("kernel")), src)
            self.blocks += blocks
        for port, src in (("m_logits", ir.logits), ("m_fwd", ir.forwarded)):
            if src is not None:
                self.ports[port] = self.reader_stream(src, port).name


def stage_graph(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1) -> tuple[list[BlockSpec], dict]:
    """(every block build_stream_stage(ir, plans, ..., parallelism) instantiates, in its order;
    {output port: the stream it carries}). Streams are named as in the generated top."""
    if len(ir.input_shape) != 3:
        raise PlanError(f"stage {ir.name}: a streaming core reads an image (H, W, C), not {ir.input_shape}; "
                        "build this stage fully parallel")
    walk = _Walk(ir, plans, parallelism)
    walk.walk()
    return walk.blocks, walk.ports


def layer_inputs(ir: StageIR, parallelism: int = 1) -> dict[str, _Stream]:
    """The stream each layer reads (beats per frame, elements per beat): the same under every plan, since
    a conv writes P pixels per beat and a dense layer one vector beat whichever way it is built."""
    walk = _Walk(ir, {}, parallelism)
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
