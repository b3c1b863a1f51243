"""Streaming (dataflow) stage cores: a fused stage IR -> a chain of hardware primitives on pixel streams.

``build_stream_stage(ir, plans, out_dir, name)`` turns every layer into blocks between two streams
(hls4ml io_stream convention, hardware/README.md), each stream named after the layer producing it:

  conv2d            swg -> window kernel (da4ml, P windows per cycle)    | swg -> mvau (SIMD x PE)
  maxpool, avgpool  swg -> window kernel (max / exact mean)             | stream_pool (K x K, stride K, P > 1)
  dense             mvau on the stream (beats x elements per beat)       | [gather] -> 1x1 kernel
  quant             1x1 window kernel: identity kernel + the requantiser
  flatten, identity no block: raster order with channels inner is Keras' flatten order
  zeropad           swg with a 1x1 window and the padding (zero codes where the padding is)
  reshape           no block when a beat stays one pixel (or the target is a vector), else a
                    gather / split of whole pixels
  global_avgpool    stream_global_sum: the per-channel frame sum, the exact mean's code
  add, concat       stream_join of two streams (a chain for more), each input's FIFO on its fork
                    branch deep enough for the other branch's lag (skip.py), so a block cannot deadlock

Pixels per beat follow plan.stream_layout: a layer that cannot read its stream's P gets a
stream_split (hardware/dwc) in front and reads one pixel per beat.

A stream read by more than one layer or port goes through a stream_fork, each branch into a small
stream_fifo so one slow reader does not stall the fork for the others beat by beat; an MVAU reads
through a FIFO too (its input is taken in bursts). Every stream carries the IR's exact format.

Ports of the generated top ``name``: ``s_axis`` (the stage input, P pixels per beat, tlast on a
frame's last beat); ``m_logits`` (one beat per frame, the exit's logits; absent when headless);
``m_fwd`` (the forwarded tensor's pixel stream with tlast; absent for the last stage).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat
from frontend.ir import INPUT, LayerIR, StageIR
from frontend.ir import covering_format
from hardware.dwc import StreamGather, StreamSplit
from hardware.fifo import StreamFifo
from hardware.fork import StreamFork
from hardware.global_pool import StreamGlobalSum
from hardware.join import StreamJoin
from hardware.mvau import build_mvau
from hardware.pool import StreamPool
from hardware.stage.emit import TIMESCALE
from hardware.stage.packing import PortTensor
from hardware.swg import build_swg
from hardware.window_kernel import build_window_kernel

from .plan import (Geometry, LayerPlan, LayerStream, PlanError, forwarded_parallelism, plan_stage,  # noqa: F401
                   stage_ii, stream_geometry, stream_layout)   # (re-exported)
from .skip import skip_fifo_depths

READ_FIFO_DEPTH = 16   # beats in front of an MVAU and on each fork branch (LUTRAM)


@dataclass(frozen=True)
class Stream:
    """The wires between two blocks: ``elements`` per beat of ``fmt``, ``beats`` per frame."""

    name: str
    elements: int
    fmt: FixedFormat
    beats: int
    shape: tuple[int, ...]      # the tensor a frame carries

    @property
    def width(self) -> int:
        return self.elements * self.fmt.width


@dataclass
class Block:
    """One instance in the stage top (what the report attributes resources and cycles to)."""

    instance: str
    kind: str                   # swg, kernel, mvau, gather, fork, fifo
    layer: str
    cycles_per_frame: int
    knobs: dict = field(default_factory=dict)


@dataclass
class StreamStage:
    """A generated streaming stage core and what the pipeline and the report need to know about it."""

    name: str
    top: str
    verilog_files: list[Path]
    input: PortTensor           # one input beat: P pixels x C channels
    input_shape: tuple[int, ...]
    input_beats: int            # beats per frame
    logits: PortTensor | None   # the exit's logits, one beat per frame (None: headless)
    forwarded: PortTensor | None  # one beat of the forwarded stream (None: last stage)
    forwarded_shape: tuple[int, ...] | None
    forwarded_beats: int
    blocks: list[Block]
    plans: dict[str, LayerPlan]
    ir: StageIR = field(repr=False)

    @property
    def has_logits(self) -> bool:
        return self.logits is not None

    @property
    def parallelism(self) -> int:
        """Pixels per input beat (1 for a vector input)."""
        return self.input.size // self.input_shape[-1] if len(self.input_shape) == 3 else 1

    @property
    def forwarded_parallelism(self) -> int | None:
        """Pixels per beat of the forwarded stream: the next stage's input P (None: last stage)."""
        if self.forwarded is None:
            return None
        return self.forwarded.size // self.forwarded_shape[-1] if len(self.forwarded_shape) == 3 else 1

    @property
    def input_format(self) -> FixedFormat:
        return self.input.fmt

    @property
    def in_width(self) -> int:
        return self.input.bits

    @property
    def ii_cycles(self) -> int:
        """Cycles per frame of the slowest block: the stage's initiation interval without stalls."""
        return max(b.cycles_per_frame for b in self.blocks)

    def to_dict(self) -> dict:
        port = (lambda t: None if t is None else {"shape": list(t.shape), "format": str(t.fmt), "bits": t.bits})
        return {"name": self.name, "top": self.top, "io": "stream", "verilog_files": [str(f) for f in self.verilog_files],
                "input": port(self.input), "input_shape": list(self.input_shape), "input_beats": self.input_beats,
                "parallelism": self.parallelism, "forwarded_parallelism": self.forwarded_parallelism,
                "logits": port(self.logits), "forwarded": port(self.forwarded),
                "forwarded_shape": list(self.forwarded_shape) if self.forwarded_shape else None,
                "forwarded_beats": self.forwarded_beats, "ii_cycles": self.ii_cycles,
                "blocks": [{"instance": b.instance, "kind": b.kind, "layer": b.layer,
                            "cycles_per_frame": b.cycles_per_frame, **b.knobs} for b in self.blocks],
                "plans": {k: v.to_dict() for k, v in self.plans.items()}, "ir": self.ir.to_dict()}


class _Top:
    """Text of the generated top: stream wires, instances, and the files they need."""

    def __init__(self, name: str, out_dir: Path) -> None:
        self.name, self.out_dir = name, out_dir
        self.lines: list[str] = []
        self.files: list[Path] = []
        self.blocks: list[Block] = []

    def add_files(self, files) -> None:
        for f in files:
            if Path(f) not in self.files:
                self.files.append(Path(f))

    def wires(self, s: Stream) -> None:
        self.lines.append(f"    wire [{s.width - 1}:0] {s.name}_tdata;\n"
                          f"    wire {s.name}_tvalid, {s.name}_tready, {s.name}_tlast;")

    def instance(self, module: str, inst: str, src: Stream, dst: Stream, params: dict | None = None,
                 extra: str = "") -> None:
        p = f" #({', '.join(f'.{k}({v})' for k, v in params.items())})" if params else ""
        self.lines.append(
            f"    {module}{p} {inst} (.clk(clk), .rst(rst),\n"
            f"        .s_axis_tdata({src.name}_tdata), .s_axis_tvalid({src.name}_tvalid), "
            f".s_axis_tready({src.name}_tready), .s_axis_tlast({src.name}_tlast),\n"
            f"        .m_axis_tdata({dst.name}_tdata), .m_axis_tvalid({dst.name}_tvalid), "
            f".m_axis_tready({dst.name}_tready), .m_axis_tlast({dst.name}_tlast){extra});")


def _stream(name: str, layer_out_shape, fmt: FixedFormat, parallelism: int = 1) -> Stream:
    shape = tuple(layer_out_shape)
    if len(shape) == 3:
        return Stream(name, parallelism * shape[2], fmt, shape[0] * shape[1] // parallelism, shape)
    return Stream(name, shape[0], fmt, 1, shape)


def _requant(layer: LayerIR) -> tuple[FixedFormat, bool, bool]:
    """The (format, relu, symmetric) every block of a layer ends in: the IR's, so streams carry the IR's
    formats (with no requantiser, the exact accumulator: saturation there never triggers)."""
    return (layer.out_format, bool(layer.requant and layer.requant.relu),
            bool(layer.requant and layer.requant.symmetric))


STREAM_OPS = ("conv2d", "maxpool", "avgpool", "dense", "quant", "flatten", "identity", "zeropad", "reshape",
              "global_avgpool", "add", "concat")
JOIN_OPS = ("add", "concat")
_PARALLEL = "build this model's stages as fully parallel cores (IO_TYPE=io_parallel, stages small enough)"


def _check_streamable(layer: LayerIR) -> None:
    """The streaming cores build a chain of these ops, each layer reading one stream (checked before any
    block is written, so a stage fails whole)."""
    if layer.op not in STREAM_OPS:
        raise PlanError(f"layer {layer.name!r} ({layer.op}) has no streaming block yet (streaming: "
                        f"{', '.join(STREAM_OPS)}): {_PARALLEL}")
    if len(layer.inputs) != 1 and layer.op not in JOIN_OPS:
        raise PlanError(f"layer {layer.name!r} ({layer.op}) has {len(layer.inputs)} inputs; the streaming cores "
                        f"join streams only in Add and Concatenate: {_PARALLEL}")
    if len(set(layer.inputs)) != len(layer.inputs):
        raise PlanError(f"layer {layer.name!r} ({layer.op}) reads one tensor twice; the streaming join takes "
                        f"distinct streams: {_PARALLEL}")
    if layer.op == "reshape" and (len(layer.in_shape) not in (1, 3) or len(layer.out_shape) not in (1, 3)):
        raise PlanError(f"layer {layer.name!r}: a stream carries (H, W, C) pixels or a vector; Reshape "
                        f"{layer.in_shape} -> {layer.out_shape} is neither: reshape to (H, W, C) or flatten, or "
                        f"{_PARALLEL}")


class _Builder:
    def __init__(self, ir: StageIR, plans: dict[str, LayerPlan], out_dir: Path, name: str, parallelism: int):
        self.ir, self.plans, self.p = ir, plans, parallelism
        self.top = _Top(name, out_dir)
        self.name = name
        self.out_dir = out_dir
        self.streams: dict[str, Stream] = {}
        self.readers: dict[str, list[str]] = {}     # stream -> its readers (layer names, 'm_logits', 'm_fwd')
        self.taken: dict[str, int] = {}
        self.branch_depths = skip_fifo_depths(ir, READ_FIFO_DEPTH)   # (stream, reader) -> FIFO depth

    def reader_stream(self, src: str, reader: str) -> Stream:
        """The stream ``reader`` reads: ``src`` itself, or its fork branch when ``src`` has several readers."""
        s = self.streams[src]
        readers = self.readers[src]
        if len(readers) == 1:
            return s
        if src not in self.taken:
            self._fork(s, len(readers), [self.branch_depths.get((src, r), READ_FIFO_DEPTH) for r in readers])
            self.taken[src] = 0
        i = readers.index(reader)
        return Stream(f"{s.name}_r{i}", s.elements, s.fmt, s.beats, s.shape)

    def _fork(self, s: Stream, n: int, depths: list[int] | None = None) -> None:
        fork = StreamFork(s.width, n)
        t = self.top
        t.add_files(fork.files)
        t.lines.append(f"    wire [{n * s.width - 1}:0] {s.name}_fk_tdata;\n    wire [{n - 1}:0] {s.name}_fk_tvalid, "
                       f"{s.name}_fk_tready, {s.name}_fk_tlast;")
        t.lines.append(f"    stream_fork #(.W({s.width}), .N({n})) u_{s.name}_fork (.clk(clk), .rst(rst),\n"
                       f"        .s_axis_tdata({s.name}_tdata), .s_axis_tvalid({s.name}_tvalid), "
                       f".s_axis_tready({s.name}_tready), .s_axis_tlast({s.name}_tlast),\n"
                       f"        .m_axis_tdata({s.name}_fk_tdata), .m_axis_tvalid({s.name}_fk_tvalid), "
                       f".m_axis_tready({s.name}_fk_tready), .m_axis_tlast({s.name}_fk_tlast));")
        t.blocks.append(Block(f"u_{s.name}_fork", "fork", s.name, s.beats, {"outputs": n}))
        for i in range(n):
            raw = Stream(f"{s.name}_b{i}", s.elements, s.fmt, s.beats, s.shape)
            out = Stream(f"{s.name}_r{i}", s.elements, s.fmt, s.beats, s.shape)
            t.wires(raw)
            t.lines.append(f"    assign {raw.name}_tdata = {s.name}_fk_tdata[{i * s.width} +: {s.width}];\n"
                           f"    assign {raw.name}_tvalid = {s.name}_fk_tvalid[{i}];\n"
                           f"    assign {raw.name}_tlast = {s.name}_fk_tlast[{i}];\n"
                           f"    assign {s.name}_fk_tready[{i}] = {raw.name}_tready;")
            self.fifo(raw, out, s.name, depths[i] if depths else READ_FIFO_DEPTH)

    def fifo(self, src: Stream, dst: Stream, layer: str, depth: int = READ_FIFO_DEPTH) -> None:
        fifo = StreamFifo(src.width, depth)
        self.top.add_files(fifo.files)
        self.top.wires(dst)
        self.top.instance("stream_fifo", f"u_{dst.name}_fifo", src, dst, fifo.parameters)
        self.top.blocks.append(Block(f"u_{dst.name}_fifo", "fifo", layer, src.beats, {"depth": depth}))

    def build(self) -> None:
        ir = self.ir
        for layer in ir.layers:
            _check_streamable(layer)
        self.layout = stream_layout(ir, self.plans, self.p)
        for layer in ir.layers:
            for src in layer.inputs:
                self.readers.setdefault(src, []).append(layer.name)
        for port, src in (("m_logits", ir.logits), ("m_fwd", ir.forwarded)):
            if src is not None:
                self.readers.setdefault(src, []).append(port)
        self.streams[INPUT] = _stream("s_axis", ir.input_shape, ir.input_format, self.p)
        for layer in ir.layers:
            src = self.reader_stream(layer.inputs[0], layer.name)
            self.streams[layer.name] = getattr(self, f"_{layer.op}")(layer, src)

    # ------------------------------------------------------------ layers
    def _out(self, layer: LayerIR, elements: int | None = None, beats: int | None = None) -> Stream:
        base = _stream(f"{_ident(layer.name)}_o", layer.out_shape, layer.out_format)
        s = Stream(base.name, elements or base.elements, base.fmt, beats or base.beats, base.shape)
        self.top.wires(s)
        return s

    def _split(self, layer: LayerIR, src: Stream, pieces: int) -> Stream:
        """One beat of P pixels -> ``pieces`` beats (pixel 0 first: raster order is kept)."""
        if pieces == 1:
            return src
        split = StreamSplit(src.width // pieces, pieces)
        out = Stream(f"{_ident(layer.name)}_split", src.elements // pieces, src.fmt, src.beats * pieces, src.shape)
        t = self.top
        t.wires(out)
        t.add_files(split.files)
        t.instance("stream_split", f"u_{out.name}", src, out, split.parameters,
                   extra=f", .s_axis_tkeep({{{pieces}{{1'b1}}}})")
        t.blocks.append(Block(f"u_{out.name}", "split", layer.name, out.beats, {"pieces": pieces}))
        return out

    def _windowed(self, layer: LayerIR, src: Stream, kind: str) -> Stream:
        ls = self.layout[layer.name]
        plan = self.plans.get(layer.name, LayerPlan("kernel"))
        if ls.block == "pool":
            return self._pool(layer, src, ls)
        src = self._split(layer, src, ls.split)
        p = ls.read.pixels
        swg = build_swg(tuple(layer.in_shape), layer.in_format, layer.window, layer.strides, layer.padding, p)
        ident = _ident(layer.name)
        win = Stream(f"{ident}_win", swg.out_elements, layer.in_format, swg.out_beats, layer.out_shape)
        t = self.top
        t.wires(win)
        t.add_files(swg.verilog_files)
        t.instance("swg", f"u_{ident}_swg", src, win, swg.parameters)
        t.blocks.append(Block(f"u_{ident}_swg", "swg", layer.name, swg.frame_cycles,
                              {"window": list(layer.window), "strides": list(layer.strides), "P": p}))
        out = self._out(layer, elements=p * layer.out_shape[2], beats=win.beats)
        if kind == "conv" and plan.impl == "mvau":
            self._mvau(layer, win, out, layer.kernel.reshape(-1, layer.kernel.shape[3]), plan, vectors=win.beats)
            return out
        args = {}
        if kind == "conv":
            args = {"kernel": layer.kernel.reshape(-1, layer.kernel.shape[3]), "bias": layer.bias,
                    "output": _requant(layer)}
        kernel = build_window_kernel(f"{self.name}_{ident}", kind, swg.window_shape, layer.in_format,
                                     self.out_dir / ident, parallelism=p, **args)
        self._check_format(layer, kernel.out_format)
        t.add_files(kernel.verilog_files)
        t.instance(kernel.top, f"u_{ident}_kernel", win, out)
        t.blocks.append(Block(f"u_{ident}_kernel", "kernel", layer.name, win.beats,
                              {"lut_estimate": round(kernel.lut_estimate), "P": p}))
        return out

    def _pool(self, layer: LayerIR, src: Stream, ls: LayerStream) -> Stream:
        """K x K max pool of stride K on P pixels per beat: P / K pooled pixels per beat (hardware/pool)."""
        pool = StreamPool(tuple(layer.in_shape), layer.in_format.width, layer.window[0], ls.read.pixels,
                          layer.in_format.signed)
        if layer.out_format != layer.in_format:
            raise AssertionError(f"bug: max pool {layer.name!r} changes the format {layer.in_format} -> "
                                 f"{layer.out_format}")
        ident = _ident(layer.name)
        out = self._out(layer, elements=ls.out.elements, beats=ls.out.beats)
        self.top.add_files(pool.files)
        self.top.instance(pool.top, f"u_{ident}_pool", src, out, pool.parameters)
        self.top.blocks.append(Block(f"u_{ident}_pool", "pool", layer.name, pool.frame_cycles,
                                     {"window": list(layer.window), "P": ls.read.pixels}))
        return out

    def _conv2d(self, layer: LayerIR, src: Stream) -> Stream:
        return self._windowed(layer, src, "conv")

    def _maxpool(self, layer: LayerIR, src: Stream) -> Stream:
        return self._windowed(layer, src, "max")

    def _avgpool(self, layer: LayerIR, src: Stream) -> Stream:
        return self._windowed(layer, src, "avg")

    def _flatten(self, layer: LayerIR, src: Stream) -> Stream:
        return Stream(src.name, src.elements, src.fmt, src.beats, layer.out_shape)   # no block: same beats

    def _identity(self, layer: LayerIR, src: Stream) -> Stream:
        return src

    def _quant(self, layer: LayerIR, src: Stream) -> Stream:
        """A standalone quantiser: a 1x1 kernel whose weights are the identity, then the requantiser."""
        ident = _ident(layer.name)
        out = self._out(layer, elements=src.elements, beats=src.beats)
        kernel = build_window_kernel(f"{self.name}_{ident}", "conv", (1, 1, src.elements), layer.in_format,
                                     self.out_dir / ident, kernel=np.eye(src.elements), output=_requant(layer))
        self._check_format(layer, kernel.out_format)
        self.top.add_files(kernel.verilog_files)
        self.top.instance(kernel.top, f"u_{ident}_kernel", src, out)
        self.top.blocks.append(Block(f"u_{ident}_kernel", "kernel", layer.name, src.beats,
                                     {"lut_estimate": round(kernel.lut_estimate)}))
        return out

    def _dense(self, layer: LayerIR, src: Stream) -> Stream:
        plan = self.plans.get(layer.name, LayerPlan("kernel"))
        out = self._out(layer)
        ident = _ident(layer.name)
        if plan.impl == "mvau":
            self._mvau(layer, src, out, layer.kernel, plan, vectors=1)
            return out
        vec = src
        if src.beats > 1:   # a constant-weight kernel takes the whole vector at once
            gather = StreamGather(src.width, src.beats, aligned=True)
            vec = Stream(f"{ident}_vec", src.elements * src.beats, src.fmt, 1, src.shape)
            self.top.wires(vec)
            self.top.add_files(gather.files)
            self.top.lines.append("    // a whole frame per group (aligned): tkeep is all ones and error cannot rise\n"
                                  "    // verilator lint_off PINCONNECTEMPTY")
            self.top.instance("stream_gather", f"u_{ident}_gather", src, vec, gather.parameters,
                              extra=", .m_axis_tkeep(), .error()")
            self.top.lines.append("    // verilator lint_on PINCONNECTEMPTY")
            self.top.blocks.append(Block(f"u_{ident}_gather", "gather", layer.name, src.beats))
        kernel = build_window_kernel(f"{self.name}_{ident}", "conv", (1, 1, vec.elements), layer.in_format,
                                     self.out_dir / ident, kernel=layer.kernel, bias=layer.bias,
                                     output=_requant(layer))
        self._check_format(layer, kernel.out_format)
        self.top.add_files(kernel.verilog_files)
        self.top.instance(kernel.top, f"u_{ident}_kernel", vec, out)
        self.top.blocks.append(Block(f"u_{ident}_kernel", "kernel", layer.name, 1,
                                     {"lut_estimate": round(kernel.lut_estimate)}))
        return out

    def _mvau(self, layer: LayerIR, src: Stream, out: Stream, kernel2d: np.ndarray, plan: LayerPlan,
              vectors: int) -> None:
        ident = _ident(layer.name)
        buffered = Stream(f"{ident}_in", src.elements, src.fmt, src.beats, src.shape)
        self.fifo(src, buffered, layer.name)
        mvau = build_mvau(f"{self.name}_{ident}", self.out_dir / ident, kernel2d, layer.bias, layer.in_format,
                          src.elements, _requant(layer), plan.simd, plan.pe, plan.multiplier)
        self._check_format(layer, mvau.out_fmt)
        self.top.add_files(mvau.files)
        self.top.instance(mvau.top, f"u_{ident}_mvau", buffered, out)
        self.top.blocks.append(Block(f"u_{ident}_mvau", "mvau", layer.name, vectors * mvau.cycles_per_vector,
                                     {"simd": plan.simd, "pe": plan.pe, "multiplier": plan.multiplier,
                                      "weight_bits": mvau.weight_bits}))

    def _zeropad(self, layer: LayerIR, src: Stream) -> Stream:
        """ZeroPadding2D: a sliding window of 1x1 over the padded image, zero codes in the padding."""
        p = src.elements // layer.in_shape[2]
        swg = build_swg(tuple(layer.in_shape), layer.in_format, 1, 1, layer.padding, p)
        ident = _ident(layer.name)
        out = self._out(layer, elements=swg.out_elements, beats=swg.out_beats)
        self.top.add_files(swg.verilog_files)
        self.top.instance("swg", f"u_{ident}_swg", src, out, swg.parameters)
        self.top.blocks.append(Block(f"u_{ident}_swg", "swg", layer.name, swg.frame_cycles,
                                     {"padding": list(layer.padding), "P": p}))
        return out

    def _reshape(self, layer: LayerIR, src: Stream) -> Stream:
        """Beats in order are the C-order flatten, which Reshape keeps: only the pixel size can change."""
        shape = tuple(layer.out_shape)
        if len(shape) == 1 or src.elements == shape[2]:
            return Stream(src.name, src.elements, src.fmt, src.beats, shape)
        ident = _ident(layer.name)
        elements = shape[2]
        if src.elements % elements == 0:
            conv = StreamSplit(elements * src.fmt.width, src.elements // elements)
            beats, kind, extra = src.beats * conv.pieces, "split", ""
        elif elements % src.elements == 0:
            conv = StreamGather(src.width, elements // src.elements, aligned=True)
            beats, kind, extra = src.beats // conv.pieces, "gather", ", .m_axis_tkeep(), .error()"
        else:
            raise PlanError(f"layer {layer.name!r}: Reshape {layer.in_shape} -> {shape} cuts a beat of {src.elements} "
                            f"elements into pixels of {elements}; neither divides the other: {_PARALLEL}")
        out = self._out(layer, elements=elements, beats=beats)
        self.top.add_files(conv.files)
        if kind == "split":
            self.top.lines.append(f"    wire [{conv.pieces - 1}:0] {out.name}_keep = {{{conv.pieces}{{1'b1}}}};")
            extra = f", .s_axis_tkeep({out.name}_keep)"
        else:
            self.top.lines.append("    // whole pixels per group (aligned): tkeep is all ones and error cannot rise\n"
                                  "    // verilator lint_off PINCONNECTEMPTY")
        self.top.instance(conv.top, f"u_{ident}_{kind}", src, out, conv.parameters, extra=extra)
        if kind == "gather":
            self.top.lines.append("    // verilator lint_on PINCONNECTEMPTY")
        self.top.blocks.append(Block(f"u_{ident}_{kind}", kind, layer.name, max(src.beats, beats)))
        return out

    def _global_avgpool(self, layer: LayerIR, src: Stream) -> Stream:
        p = src.elements // layer.in_shape[2]
        gap = StreamGlobalSum(layer.in_format, layer.in_shape[2], src.beats, p)
        self._check_format(layer, gap.out_format)
        ident = _ident(layer.name)
        out = self._out(layer, elements=layer.in_shape[2], beats=1)
        self.top.add_files(gap.files)
        self.top.instance(gap.top, f"u_{ident}_sum", src, out, gap.parameters)
        self.top.blocks.append(Block(f"u_{ident}_sum", "global_sum", layer.name, src.beats))
        return out

    def _add(self, layer: LayerIR, src: Stream) -> Stream:
        return self._join(layer, src, "add")

    def _concat(self, layer: LayerIR, src: Stream) -> Stream:
        return self._join(layer, src, "concat")

    def _join(self, layer: LayerIR, first: Stream, op: str) -> Stream:
        """Joins the layer's input streams two at a time; each partial result in the exact format of the
        inputs joined so far (frontend/ir.py's rule for the layer), the last in the layer's."""
        ident = _ident(layer.name)
        streams = [first] + [self.reader_stream(i, layer.name) for i in layer.inputs[1:]]
        shape = tuple(layer.in_shape)
        pixels = 1 if len(shape) == 1 else first.elements // shape[-1]
        if any(s.beats != first.beats or (len(shape) == 3 and s.elements // s.shape[-1] != pixels) for s in streams):
            raise PlanError(f"layer {layer.name!r} ({op}): its inputs' streams differ in beats per frame or pixels "
                            f"per beat ({', '.join(f'{s.beats} x {s.elements}' for s in streams)}): {_PARALLEL}")
        if op == "concat" and len(shape) == 1 and first.beats != 1:
            raise PlanError(f"layer {layer.name!r}: Concatenate of vectors split over {first.beats} beats; "
                            f"concatenate (H, W, C) tensors or dense outputs: {_PARALLEL}")
        acc = first
        for k, s in enumerate(streams[1:], start=1):
            last = k == len(streams) - 1
            if last:
                fmt = layer.out_format
            else:
                fmts = [t.fmt for t in streams[:k + 1]]
                frac = max(f.frac for f in fmts)
                lo, hi = ((sum(f.min_value for f in fmts), sum(f.max_value for f in fmts)) if op == "add" else
                          (min(f.min_value for f in fmts), max(f.max_value for f in fmts)))
                fmt = covering_format(lo, hi, frac)
            join = StreamJoin(op, (acc.fmt, s.fmt), (acc.elements // pixels, s.elements // pixels), fmt, pixels)
            if last:
                out = self._out(layer, elements=pixels * join.out_channels, beats=first.beats)
            else:
                out = Stream(f"{ident}_j{k}", pixels * join.out_channels, fmt, first.beats, shape)
                self.top.wires(out)
            inst = f"u_{ident}_join{k}"
            self.top.add_files(join.files)
            params = ", ".join(f".{n}({v})" for n, v in join.parameters.items())
            self.top.lines.append(
                f"    stream_join #({params}) {inst} (.clk(clk), .rst(rst),\n" +
                "".join(f"        .s{j}_axis_tdata({t.name}_tdata), .s{j}_axis_tvalid({t.name}_tvalid), "
                        f".s{j}_axis_tready({t.name}_tready), .s{j}_axis_tlast({t.name}_tlast),\n"
                        for j, t in enumerate((acc, s))) +
                f"        .m_axis_tdata({out.name}_tdata), .m_axis_tvalid({out.name}_tvalid), "
                f".m_axis_tready({out.name}_tready), .m_axis_tlast({out.name}_tlast));")
            self.top.blocks.append(Block(inst, "join", layer.name, first.beats, {"op": op}))
            acc = out
        return acc

    def _check_format(self, layer: LayerIR, got: FixedFormat) -> None:
        if got != layer.out_format:
            raise AssertionError(f"bug: layer {layer.name!r} block output {got} is not the IR's {layer.out_format}")


def _ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def build_stream_stage(ir: StageIR, plans: dict[str, LayerPlan], out_dir: Path, name: str,
                       parallelism: int = 1) -> StreamStage:
    """Write the streaming core ``name`` of a fused stage IR (frontend.ir.fuse_requantisers) into ``out_dir``."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"stage name {name!r} is not a Verilog identifier; use letters, digits and _")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    b = _Builder(ir, plans, out_dir, name, parallelism)
    b.build()
    t = b.top
    ports, assigns = [], []
    logits = forwarded = None
    fwd_beats, fwd_shape = 0, None
    if ir.logits is not None:
        s = b.reader_stream(ir.logits, "m_logits")
        if s.beats != 1:
            raise PlanError(f"stage {ir.name}: the exit logits ({ir.logits}) must be one vector, not {s.beats} beats")
        logits = PortTensor("logits", (s.elements,), s.fmt)
        ports.append(f"    output [{s.width - 1}:0] m_logits_tdata,\n    output m_logits_tvalid,\n"
                     "    input m_logits_tready,")
        assigns.append(f"    assign m_logits_tdata = {s.name}_tdata;\n    assign m_logits_tvalid = {s.name}_tvalid;\n"
                       f"    assign {s.name}_tready = m_logits_tready;")
    if ir.forwarded is not None:
        s = b.reader_stream(ir.forwarded, "m_fwd")
        forwarded = PortTensor("forwarded", (s.elements,), s.fmt)
        fwd_beats, fwd_shape = s.beats, s.shape
        ports.append(f"    output [{s.width - 1}:0] m_fwd_tdata,\n    output m_fwd_tvalid,\n    input m_fwd_tready,\n"
                     "    output m_fwd_tlast,")
        assigns.append(f"    assign m_fwd_tdata = {s.name}_tdata;\n    assign m_fwd_tvalid = {s.name}_tvalid;\n"
                       f"    assign {s.name}_tready = m_fwd_tready;\n    assign m_fwd_tlast = {s.name}_tlast;")
    inp = b.streams[INPUT]
    port_text = "\n".join(ports).rstrip(",")
    text = f"""{TIMESCALE}
// Generated by hardware/stream_stage: streaming core of stage {ir.name} ({len(t.blocks)} blocks). Regenerate, do not edit.
module {name} (
    input clk,
    input rst,
    input [{inp.width - 1}:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
{port_text}
);
    // fork branches and the logits' tlast are not read by every configuration
    // verilator lint_off UNUSEDSIGNAL
{chr(10).join(t.lines)}
{chr(10).join(assigns)}
    // verilator lint_on UNUSEDSIGNAL
endmodule
"""
    top = out_dir / f"{name}.v"
    top.write_text(text)
    input_port = PortTensor("input", (inp.elements,), inp.fmt)
    return StreamStage(name, name, [*t.files, top], input_port, tuple(ir.input_shape), inp.beats, logits, forwarded,
                       fwd_shape, fwd_beats, t.blocks, dict(plans), ir)
