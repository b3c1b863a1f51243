"""Probe points: small instances of every streaming primitive, synthesised with Yosys to fit its cost model.

The points span the knobs the Branchy-LeNet (examples/lenet.yaml) and the digits example use:
line buffers of 7..64 words on both sides of the LUTRAM/BRAM switch, 8-bit pixels and 4-bit
activations, window kernels from a 2x2 max to a 5x5x1 conv with P = 2 and 4, MVAUs with 3- and 4-bit
weights on 4- and 8-bit inputs, ROMs in LUTs and in BRAM, LUT multipliers. Weights are
seeded random codes on the weight grid (da4ml's cost and the MVAU's structure, which the models
read, follow the actual weights); splits, stride-K max pools, joins and global sums of P-wide streams.

Every probe is a ``SynthJob`` (flows/dse/jobs.py) of Verilog written into a folder named by the
content hash of its knobs, so the job cache (keyed on the Verilog) and the generated files agree.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat
from hardware import source
from hardware.stage.emit import TIMESCALE
from hardware.swg import build_swg

from ..jobs import SynthJob
from .blocks import (CondBufferKnobs, ExitUnitKnobs, FifoKnobs, ForkKnobs, GatherKnobs, GlobalSumKnobs, JoinKnobs,
                     KernelKnobs, MvauKnobs, PoolKnobs, SplitKnobs, SwgKnobs)
from .features import knob_digest

PIXEL8 = FixedFormat(8, 8, False)     # stage 1 input: quantized_relu(8, 0)
ACT4 = FixedFormat(4, 2, False)       # quantized_relu(4, 2) activations
RELU4 = (FixedFormat(4, 2, False), True)
LOGITS16 = (FixedFormat(16, 9, True), False)   # quantized_bits(16, 6): the exit logits
ACT4_SUM = FixedFormat(5, 2, False)   # the exact sum of two ACT4 values (Add)


@dataclass(frozen=True)
class Probe:
    kind: str
    knobs: object
    label: str

    @property
    def key(self) -> str:
        return knob_digest(self.kind, self.knobs)


def _weights(shape: tuple[int, int], bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random signed ``bits``-bit codes on a 2**-(bits-1) grid, a bias on 2**-4."""
    rng = np.random.default_rng(seed)
    half = 1 << (bits - 1)
    return rng.integers(-half, half, shape) / half, rng.integers(-16, 16, shape[1]) / 16


def _swg(label, shape, bits, k, s=1, pad=(0, 0, 0, 0), p=1) -> Probe:
    return Probe("swg", SwgKnobs(shape, bits, (k, k), (s, s), pad, p), label)


def _kernel(label, op, window, fmt, out_cols=None, bits=4, p=1, output=RELU4, seed=0, bias=True) -> Probe:
    if op != "conv":
        return Probe("kernel", KernelKnobs(op, window, fmt, p), label)
    w, b = _weights((int(np.prod(window)), out_cols), bits, seed)
    return Probe("kernel", KernelKnobs("conv", window, fmt, p, weights=w, bias=b if bias else None, output=output),
                 label)


def _mvau(label, vec, out, in_elems, fmt, bits, simd, pe, multiplier="lut", output=RELU4, seed=0) -> Probe:
    w, b = _weights((vec, out), bits, seed)
    return Probe("mvau", MvauKnobs(w, b, fmt, in_elems, output, simd, pe, multiplier), label)


def probe_points() -> list[Probe]:
    """The probe set, each labelled with the layer shape it stands for."""
    return [
        # sliding-window generators: LeNet's five, conv1 at P = 2, 4, 'same' padding, a 64- and a 128-word buffer
        _swg("conv1 28x28x1 5x5", (28, 28, 1), 8, 5),
        _swg("conv1 P=2", (28, 28, 1), 8, 5, p=2),
        _swg("conv1 P=4", (28, 28, 1), 8, 5, p=4),
        _swg("pool1 24x24x6 2x2/2", (24, 24, 6), 4, 2, 2),
        _swg("exit pool 12x12x6 2x2/2", (12, 12, 6), 4, 2, 2),
        _swg("conv2 12x12x6 5x5", (12, 12, 6), 4, 5),
        _swg("pool2 8x8x16 2x2/2", (8, 8, 16), 4, 2, 2),
        _swg("3x3 same 12x12x6", (12, 12, 6), 4, 3, pad=(1, 1, 1, 1)),
        _swg("64-word line buffer", (16, 64, 8), 8, 3),
        _swg("128-word line buffer (BRAM)", (8, 128, 4), 8, 3),
        # window kernels: convs of 4-bit weights on 8- and 4-bit inputs, pools, 1x1 dense kernels
        _kernel("conv1 5x5x1->6", "conv", (5, 5, 1), PIXEL8, 6),
        _kernel("conv1 5x5x1->6 P=2", "conv", (5, 5, 1), PIXEL8, 6, p=2),
        _kernel("conv1 5x5x1->6 P=4", "conv", (5, 5, 1), PIXEL8, 6, p=4),
        _kernel("conv 3x3x3->4", "conv", (3, 3, 3), ACT4, 4, seed=1),
        _kernel("conv 3x3x6->8 3-bit", "conv", (3, 3, 6), ACT4, 8, bits=3, seed=2),
        _kernel("max 2x2x6", "max", (2, 2, 6), ACT4),
        _kernel("max 2x2x16", "max", (2, 2, 16), ACT4),
        _kernel("avg 2x2x6", "avg", (2, 2, 6), ACT4),
        _kernel("dense 36->10 logits", "conv", (1, 1, 36), ACT4, 10, output=LOGITS16, seed=3),
        _kernel("dense 64->10 logits", "conv", (1, 1, 64), ACT4, 10, output=LOGITS16, seed=4),
        # MVAUs (LUT multipliers): LeNet conv2 / conv1 / dense shapes, ROM in LUTs and in BRAM
        _mvau("conv2 150->16 3b 5x2", 150, 16, 150, ACT4, 3, 5, 2),
        _mvau("conv2 150->16 3b 15x4", 150, 16, 150, ACT4, 3, 15, 4),
        _mvau("conv2 150->16 4b 25x8", 150, 16, 150, ACT4, 4, 25, 8),
        _mvau("conv1 25->6 8b-in 5x2", 25, 6, 25, PIXEL8, 4, 5, 2),
        _mvau("conv1 25->6 8b-in 25x1", 25, 6, 25, PIXEL8, 4, 25, 1),
        _mvau("dense 256->84 16x16 beats 16x2", 256, 84, 16, ACT4, 4, 16, 2),
        _mvau("dense 256->84 16x16 beats 8x4", 256, 84, 16, ACT4, 4, 8, 4),
        _mvau("exit dense 216->10 36 beats 3x1", 216, 10, 6, ACT4, 4, 3, 1, output=LOGITS16),
        _mvau("exit dense 216->10 36 beats 6x2", 216, 10, 6, ACT4, 4, 6, 2, output=LOGITS16),
        _mvau("dense 84->10 4x2", 84, 10, 84, ACT4, 4, 4, 2, output=LOGITS16),
        # stream FIFOs on both sides of the LUTRAM/BRAM switch (the stage's are 16 deep)
        Probe("fifo", FifoKnobs(24, 16), "24b x 16"),
        Probe("fifo", FifoKnobs(64, 16), "64b x 16"),
        Probe("fifo", FifoKnobs(600, 16), "600b x 16 (conv2 windows)"),
        Probe("fifo", FifoKnobs(16, 128), "16b x 128 (LUTRAM)"),
        Probe("fifo", FifoKnobs(32, 128), "32b x 128 (BRAM)"),
        Probe("fifo", FifoKnobs(8, 512), "8b x 512 (BRAM)"),
        Probe("fifo", FifoKnobs(64, 1024), "64b x 1024 (BRAM)"),
        Probe("fork", ForkKnobs(24, 2), "24b x 2"),
        Probe("fork", ForkKnobs(64, 3), "64b x 3"),
        Probe("fork", ForkKnobs(8, 2), "8b x 2"),
        Probe("gather", GatherKnobs(24, 36), "24b x 36 (exit dense)"),
        Probe("gather", GatherKnobs(64, 16), "64b x 16"),
        Probe("gather", GatherKnobs(8, 4), "8b x 4"),
        Probe("gather", GatherKnobs(24, 9), "24b x 9"),
        Probe("gather", GatherKnobs(8, 32), "8b x 32"),
        # P-wide streams: splits to one pixel per beat (LeNet stage 1 input at P = 4, stage 2 read at P = 2),
        # stride-K max pools (LeNet's pools at P = 4 and 2), joins and global sums of residual stages
        Probe("split", SplitKnobs(8, 4), "8b x 4 (28x28x1 at P=4)"),
        Probe("split", SplitKnobs(24, 2), "24b x 2 (12x12x6 at P=2)"),
        Probe("split", SplitKnobs(64, 2), "64b x 2 (8x8x16 at P=2)"),
        Probe("split", SplitKnobs(24, 4), "24b x 4"),
        Probe("pool", PoolKnobs((24, 24, 6), 4, 2, 4, False), "pool1 24x24x6 P=4"),
        Probe("pool", PoolKnobs((24, 24, 6), 4, 2, 2, False), "pool1 24x24x6 P=2"),
        Probe("pool", PoolKnobs((12, 12, 6), 4, 2, 2, False), "exit pool 12x12x6 P=2"),
        Probe("pool", PoolKnobs((8, 8, 16), 4, 2, 2, False), "pool2 8x8x16 P=2"),
        Probe("join", JoinKnobs("add", (ACT4, ACT4), (6, 6), ACT4_SUM, 1), "add 6ch 4b P=1"),
        Probe("join", JoinKnobs("add", (ACT4, ACT4), (8, 8), ACT4_SUM, 2), "add 8ch 4b P=2"),
        Probe("join", JoinKnobs("add", (PIXEL8, ACT4), (4, 4), FixedFormat(11, 8, False), 1), "add 4ch 8b+4b"),
        Probe("join", JoinKnobs("concat", (ACT4, ACT4), (6, 6), ACT4, 1), "concat 6+6ch 4b"),
        Probe("global_sum", GlobalSumKnobs(ACT4, 6, 64, 1), "6ch 8x8 P=1"),
        Probe("global_sum", GlobalSumKnobs(ACT4, 16, 16, 1), "16ch 4x4 P=1"),
        Probe("global_sum", GlobalSumKnobs(ACT4, 8, 32, 2), "8ch 8x8 P=2"),
        Probe("cond_buffer", CondBufferKnobs(24, 144, 256), "24b, 144-beat frames, 256 (LeNet stage 1)"),
        Probe("cond_buffer", CondBufferKnobs(24, 144, 1024), "24b, 144-beat frames, 1024"),
        Probe("cond_buffer", CondBufferKnobs(8, 16, 32), "8b, 16-beat frames, 32 (LUTRAM)"),
        Probe("cond_buffer", CondBufferKnobs(64, 64, 128), "64b, 64-beat frames, 128"),
        # exit units, each policy: LeNet's (10 classes of 16-bit logits), fewer classes, narrower logits
        *(Probe("exit_unit", ExitUnitKnobs(c, FixedFormat(w, 9 if w == 16 else 4, True), policy),
                f"{policy} {c} x {w}b")
          for policy in ("max_prob", "entropy", "margin") for c, w in ((10, 16), (4, 16), (10, 8))),
    ]


# ---------------------------------------------------------------- Verilog of a probe

_STREAM = [("s_axis_tdata", "input", "IN"), ("s_axis_tvalid", "input", 1), ("s_axis_tready", "output", 1),
           ("s_axis_tlast", "input", 1), ("m_axis_tdata", "output", "OUT"), ("m_axis_tvalid", "output", 1),
           ("m_axis_tready", "input", 1), ("m_axis_tlast", "output", 1)]


def _wrapper(top: str, module: str, params: dict, ports: list[tuple[str, str, int]]) -> str:
    """A top whose ports are the instance's, so Yosys keeps everything that drives an output."""
    decl = ",\n".join(f"    {d} [{w - 1}:0] {n}" for n, d, w in ports)
    conn = ", ".join(f".{n}({n})" for n, _, _ in ports)
    par = ", ".join(f".{k}({v})" for k, v in params.items())
    return f"""{TIMESCALE}
// Generated by flows/dse/stream_costs/probes.py: a cost probe of {module}. Synthesis only.
module {top} (
    input clk,
    input rst,
{decl}
);
    {module} #({par}) dut (.clk(clk), .rst(rst), {conn});
endmodule
"""


def _stream_ports(in_w: int, out_w: int, extra=()) -> list[tuple[str, str, int]]:
    return [(n, d, in_w if w == "IN" else out_w if w == "OUT" else w) for n, d, w in _STREAM] + list(extra)


GENERATORS = {"kernel": ("hardware/window_kernel", "hardware/stage"), "mvau": ("hardware/mvau",),
              "exit_unit": ("hardware/exit_unit", "exit_unit")}


@lru_cache(maxsize=None)
def generator_digest(kind: str) -> str:
    """Hash of the Python that generates a kind's Verilog (and da4ml's version): a changed generator
    writes its probes afresh instead of reusing files generated before (read once per process)."""
    import hashlib

    from flows.content_key import tool_version

    h = hashlib.sha256(tool_version("da4ml").encode())
    root = Path(__file__).resolve().parents[3]
    for folder in GENERATORS.get(kind, ()):
        for f in sorted((root / folder).glob("*.py")):
            h.update(f.read_bytes())
    return h.hexdigest()[:8]


def probe_job(probe: Probe, rtl_dir: Path, family: str = "xc7") -> SynthJob:
    """Write the probe's Verilog under rtl_dir/<kind>_<hash>/ (once) and describe its synthesis."""
    folder = Path(rtl_dir).resolve() / f"{probe.kind}_{probe.key}_{generator_digest(probe.kind)}"
    top = f"probe_{probe.kind}_{probe.key}"
    manifest = folder / "job.json"
    if manifest.is_file():   # generated before (a kernel's trace takes seconds): the same knobs, the same files
        job = json.loads(manifest.read_text())
        if all(Path(f).is_file() for f in job["files"]):
            return SynthJob(tuple(job["files"]), job["top"], family)
    job = _generate(probe, folder, top, family)
    manifest.write_text(json.dumps({"files": list(job.files), "top": job.top}))
    return job


def _generate(probe: Probe, folder: Path, top: str, family: str) -> SynthJob:
    k = probe.knobs
    files: list[Path]
    if probe.kind == "mvau":
        from hardware.mvau import build_mvau

        m = build_mvau(top, folder, k.weights, k.bias, k.in_fmt, k.in_elems, k.output, k.simd, k.pe, k.multiplier)
        return SynthJob(tuple(str(f) for f in m.files), m.top, family)
    if probe.kind == "kernel":
        from hardware.window_kernel import build_window_kernel

        args = dict(kernel=k.weights, bias=k.bias, output=k.output) if k.op == "conv" else {}
        kern = build_window_kernel(top, k.op, k.window, k.in_fmt, folder, parallelism=k.parallelism, **args)
        return SynthJob(tuple(str(f) for f in kern.verilog_files), kern.top, family)
    if probe.kind == "exit_unit":
        from hardware.exit_unit.generate import write_unit

        unit = write_unit(k.config(), "parallel", folder)
        return SynthJob(tuple(str(f) for f in unit.files), unit.top, family)
    if probe.kind == "swg":
        swg = build_swg(k.in_shape, FixedFormat(k.bits, 0, False), k.kernel, k.stride, k.padding, k.parallelism)
        text = _wrapper(top, "swg", swg.parameters, _stream_ports(swg.in_width, swg.out_width))
        files = list(swg.verilog_files)
    elif probe.kind == "fifo":
        text = _wrapper(top, "stream_fifo", {"W": k.width, "DEPTH": k.depth}, _stream_ports(k.width, k.width))
        files = [source("fifo/stream_fifo.v")]
    elif probe.kind == "fork":
        n, w = k.outputs, k.width
        ports = [("s_axis_tdata", "input", w), ("s_axis_tvalid", "input", 1), ("s_axis_tready", "output", 1),
                 ("s_axis_tlast", "input", 1), ("m_axis_tdata", "output", n * w), ("m_axis_tvalid", "output", n),
                 ("m_axis_tready", "input", n), ("m_axis_tlast", "output", n)]
        text = _wrapper(top, "stream_fork", {"W": w, "N": n}, ports)
        files = [source("fork/stream_fork.v")]
    elif probe.kind == "gather":
        ports = _stream_ports(k.width, k.width * k.pieces, [("m_axis_tkeep", "output", k.pieces),
                                                             ("error", "output", 1)])
        text = _wrapper(top, "stream_gather", {"W": k.width, "N": k.pieces, "ALIGNED": 1}, ports)
        files = [source("dwc/stream_gather.v")]
    elif probe.kind == "split":
        ports = _stream_ports(k.width * k.pieces, k.width, [("s_axis_tkeep", "input", k.pieces)])
        text = _wrapper(top, "stream_split", {"W": k.width, "N": k.pieces}, ports)
        files = [source("dwc/stream_split.v")]
    elif probe.kind == "pool":
        from hardware.pool import StreamPool

        pool = StreamPool(k.in_shape, k.bits, k.pool, k.parallelism, k.signed)
        c = k.in_shape[2]
        ports = _stream_ports(k.parallelism * c * k.bits, pool.out_parallelism * c * k.bits)
        text = _wrapper(top, pool.top, pool.parameters, ports)
        files = [source(f) for f in pool.SOURCES]
    elif probe.kind == "join":
        from hardware.join import StreamJoin

        join = StreamJoin(k.op, k.in_formats, k.channels, k.out_format, k.pixels)
        ports = []
        for j, (f, c) in enumerate(zip(k.in_formats, k.channels)):
            ports += [(f"s{j}_axis_tdata", "input", k.pixels * c * f.width), (f"s{j}_axis_tvalid", "input", 1),
                      (f"s{j}_axis_tready", "output", 1), (f"s{j}_axis_tlast", "input", 1)]
        ports += [("m_axis_tdata", "output", k.pixels * join.out_channels * k.out_format.width),
                  ("m_axis_tvalid", "output", 1), ("m_axis_tready", "input", 1), ("m_axis_tlast", "output", 1)]
        text = _wrapper(top, join.top, join.parameters, ports)
        files = [source(f) for f in join.SOURCES]
    elif probe.kind == "global_sum":
        from hardware.global_pool import StreamGlobalSum

        gap = StreamGlobalSum(k.in_fmt, k.channels, k.beats, k.pixels)
        ports = _stream_ports(k.pixels * k.channels * k.in_fmt.width, k.channels * gap.out_format.width)
        text = _wrapper(top, gap.top, gap.parameters, ports)
        files = [source(f) for f in gap.SOURCES]
    elif probe.kind == "cond_buffer":
        held = k.depth.bit_length()
        ports = _stream_ports(k.width, k.width, [("dec_tdata", "input", 1), ("dec_tvalid", "input", 1),
                                                 ("dec_tready", "output", 1), ("frames_held", "output", held),
                                                 ("frame_error", "output", 1)])
        text = _wrapper(top, "cond_buffer", {"W": k.width, "FRAME_BEATS": k.frame_beats, "DEPTH": k.depth}, ports)
        files = [source("cond_buffer/cond_buffer.v")]
    else:
        raise ValueError(f"no probe generator for kind {probe.kind!r}")
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"{top}.v"
    wrapper.write_text(text)
    return SynthJob(tuple(str(f) for f in [*files, wrapper]), top, family)
