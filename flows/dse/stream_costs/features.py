"""What each primitive's cost model reads: structural quantities computed from its knobs.

``describe(kind, knobs)`` gives, per block, numbers that the hardware's size follows directly
(memory shapes and their mapping, register bits, adder bits, da4ml's kernel cost); the fitted
models (models.py) are linear in a few of them. The same function describes a probe (probes.py)
and a block of a stage to predict, so a fit and its use cannot read different things.

Kernel costs come from tracing one window with da4ml (``trace_window_kernel``, the code the
generator itself runs), cached on disk by content (``KernelCostCache``): tens of seconds for a
LeNet conv2 kernel, once. MVAU structure comes from a dry run of the generator
(``build_mvau`` into a scratch folder, milliseconds): the adder widths of its dot-product tree,
the ROM shape, accumulator and result widths.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from hardware.mvau import build_mvau

from .blocks import (CondBufferKnobs, ExitUnitKnobs, FifoKnobs, ForkKnobs, GatherKnobs, GlobalSumKnobs, JoinKnobs,
                     KernelKnobs, MvauKnobs, PoolKnobs, SplitKnobs, SwgKnobs)
from .memory import lutram_cells, ram_map, rom_map

ADDER_LEVELS_PER_REGISTER = 4   # hardware/stage/emit.py: da4ml pipeline registers every 4 adder levels


def clog2(n: int) -> int:
    return max(1, (int(n) - 1).bit_length())


def knob_digest(kind: str, knobs) -> str:
    """Content hash of a block's knobs, weights included (what its Verilog and cost depend on)."""
    h = hashlib.sha256(kind.encode())
    for name, value in sorted(vars(knobs).items()):
        h.update(name.encode() + b"=")
        if isinstance(value, np.ndarray):
            h.update(str(value.shape).encode() + np.ascontiguousarray(value, dtype=np.float64).tobytes())
        else:
            h.update(repr(value).encode())
        h.update(b";")
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- swg


def describe_swg(k: SwgKnobs) -> dict[str, float]:
    (h, w, c), (kh, kw), p = k.in_shape, k.kernel, k.parallelism
    pix = c * k.bits
    depth = w // p if kh > 1 else 0
    width = (kh - 1) * p * pix
    mem = ram_map(depth, width) if depth > 1 else None
    registered = width if depth == 1 else 0          # a one-word line buffer is a register
    return {"one": 1.0, "lb_depth": depth, "lb_width": width, "lb_bits": depth * width,
            "lb_lutram": float(mem is not None and mem.kind == "lutram"),
            "lb_read_reg": width if mem is not None and mem.kind == "lutram" else registered,
            "lutram_cells": mem.lutram_cells if mem else 0, "ramb18": mem.ramb18 if mem else 0,
            "ramb36": mem.ramb36 if mem else 0,
            "lutram_read_mux": width * (math.ceil(depth / 64) - 1) if mem and mem.kind == "lutram" else 0,
            "window_bits": kh * (kw + p - 1) * pix, "column_bits": kh * p * pix,
            "out_bits": p * kh * kw * pix, "pad": float(any(k.padding)),
            # row, step, waits and counts down (swg.v), and the line buffer's address
            "counter_bits": 6 * clog2(max(h + k.padding[0] + k.padding[1], w + k.padding[2] + k.padding[3]) + 2)
            + 2 * (clog2(depth) if depth > 1 else 0)}


# ---------------------------------------------------------------- window kernel


class KernelCostCache:
    """da4ml cost and adder depth of one kernel copy, traced once per content, kept as JSON files."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else None
        self.memo: dict[str, dict] = {}

    def path(self, k: KernelKnobs) -> Path | None:
        """Named by the kernel's knobs and the generator's code and da4ml's version (probes.generator_digest)."""
        from .probes import generator_digest

        if self.folder is None:
            return None
        return self.folder / f"{knob_digest('kernel', _one_copy(k))}_{generator_digest('kernel')}.json"

    def known(self, k: KernelKnobs) -> bool:
        """Traced before (in memory or on disk): get() is cheap."""
        key = knob_digest("kernel", _one_copy(k))
        return key in self.memo or (self.path(k) is not None and self.path(k).is_file())

    def screen(self, k: KernelKnobs) -> dict:
        """A trace record with kernel_screen_cost in place of da4ml's cost (no trace)."""
        adder_depth = math.ceil(math.log2(max(2, math.prod(k.window)))) + 2
        out = k.weights.shape[1] if k.op == "conv" else k.window[2]
        width = k.output[0].width if k.op == "conv" and k.output else k.in_fmt.width + 8
        return {"cost": kernel_screen_cost(k), "adder_depth": adder_depth, "out_elements": out, "out_width": width,
                "screen": True}

    def get(self, k: KernelKnobs) -> dict:
        key = knob_digest("kernel", _one_copy(k))
        if key in self.memo:
            return self.memo[key]
        path = self.path(k)
        if path is not None and path.is_file():
            record = json.loads(path.read_text())
        else:
            record = trace_kernel(k)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(record, indent=1))
                tmp.replace(path)
        self.memo[key] = record
        return record


SCREEN_FACTOR = 0.25   # screening cost / CSD adder bits: below da4ml's ratio (0.5-0.7) on every kernel traced


def csd_digits(codes: np.ndarray) -> np.ndarray:
    """Nonzero digits of each integer in canonical signed-digit form (the adders a constant product needs + 1)."""
    x = np.abs(np.asarray(codes, dtype=np.int64))
    count = np.zeros_like(x)
    while np.any(x):
        odd = (x & 1) == 1
        digit = np.where(odd, 2 - (x & 3), 0)     # +1 or -1 where odd (CSD), 0 where even
        count += odd
        x = (x - digit) >> 1
    return count


def kernel_screen_cost(k: KernelKnobs) -> float:
    """A cheap estimate of da4ml's cost of one kernel copy, meant to stay below it: the shift-and-add
    adders of the weights' CSD digits (minus one per output), times the input width, times SCREEN_FACTOR.
    Pools: one comparison per cell and channel."""
    if k.op != "conv":
        return float(max(1, math.prod(k.window[:2]) - 1) * k.window[2] * k.in_fmt.width)
    w = np.asarray(k.weights, dtype=np.float64)
    digits = csd_digits(np.round(w * 2.0**24)).sum(axis=0)
    adders = np.maximum(digits - 1, 0).sum()
    return float(SCREEN_FACTOR * adders * (k.in_fmt.width + 2))


def _one_copy(k: KernelKnobs) -> KernelKnobs:
    from dataclasses import replace

    return replace(k, parallelism=1)


def trace_kernel(k: KernelKnobs) -> dict:
    """Trace one window of the kernel as hardware/window_kernel does; its da4ml cost and widths."""
    from da4ml.trace import comb_trace

    from hardware.window_kernel import trace_window_kernel

    start = time.perf_counter()
    if k.op == "conv":
        inputs, out = trace_window_kernel("conv", k.window, k.in_fmt, k.weights, k.bias, k.output)
    else:
        inputs, out = trace_window_kernel(k.op, k.window, k.in_fmt)
    comb = comb_trace(inputs._vars.ravel(), out.vars._vars.ravel())
    return {"cost": float(comb.cost), "adder_depth": float(comb.latency[1]), "out_elements": int(out.vars.size),
            "out_width": int(out.fmt.width), "seconds": round(time.perf_counter() - start, 2)}


def describe_kernel(k: KernelKnobs, traced: dict) -> dict[str, float]:
    p = k.parallelism
    kh, kw, c = k.window
    in_bits = kh * (kw + p - 1) * c * k.in_fmt.width   # P overlapping windows: Yosys merges the shared registers
    out_bits = p * traced["out_elements"] * traced["out_width"]
    stages = max(1, math.ceil(traced["adder_depth"] / ADDER_LEVELS_PER_REGISTER))
    latency = stages + 1                              # emit_stage: input register, stage boundaries, output
    shell_depth = 1 << clog2(latency + 2)             # stream_shell's pl_fifo of results
    return {"one": 1.0, "cost": p * traced["cost"], "in_bits": in_bits, "out_bits": out_bits,
            "latency": latency, "shell_depth": shell_depth,
            "lutram_cells": lutram_cells(shell_depth, out_bits + 1), "ramb18": 0, "ramb36": 0}


# ---------------------------------------------------------------- mvau

_KEEP_WIRE = re.compile(r"\(\* keep \*\) wire \[(\d+):0\]")
_REG = re.compile(r"^\s*reg \[(\d+):0\] r\d+;", re.M)


def dry_mvau(k: MvauKnobs) -> dict[str, float]:
    """Build the MVAU into a scratch folder and read its structure (no synthesis)."""
    with tempfile.TemporaryDirectory() as tmp:
        m = build_mvau("dry", Path(tmp), k.weights, k.bias, k.in_fmt, k.in_elems, k.output, k.simd, k.pe,
                       k.multiplier)
        dot = (Path(tmp) / "dry_dot.v").read_text()
    tree_bits = sum(int(w) + 1 for w in _KEEP_WIRE.findall(dot))        # one lane's adders
    tree_regs = sum(int(w) + 1 for w in _REG.findall(dot))              # one lane's pipeline registers
    return {"vec": m.vec, "out": m.out, "beats": m.beats, "sf": m.in_elems // m.simd, "nf": m.out // m.pe,
            "in_w": m.in_width, "out_w": m.out_width, "slice_w": m.simd * m.in_fmt.width,
            "acc_b": m.acc_fmt.width, "out_b": m.out_fmt.width, "rom_depth": m.rom_depth, "rom_width": m.rom_width,
            "tree_bits": tree_bits, "tree_regs": tree_regs, "tree_stages": m.tree_stages,
            "result_slots": m.fifo_depth, "latency_cycles": m.latency_cycles,
            "cycles_per_vector": m.cycles_per_vector, "encoding": m.weight_encoding}


def describe_mvau(k: MvauKnobs, dry: dict) -> dict[str, float]:
    pe, simd, sf, nf = k.pe, k.simd, dry["sf"], dry["nf"]
    rom = rom_map(dry["rom_depth"], dry["rom_width"])
    dsp = pe * simd if k.multiplier == "dsp" else 0
    return {"one": 1.0, "products": pe * simd, "tree": pe * dry["tree_bits"], "tree_regs": pe * dry["tree_regs"],
            "acc": pe * dry["acc_b"], "saved": pe * dry["acc_b"] * (nf - 1) if dry["beats"] > 1 else 0,
            "slice_mux": dry["slice_w"] * (sf - 1) / 4 if sf > 1 else 0, "slice": dry["slice_w"],
            "rom_luts": rom.rom_luts, "rom_addr": clog2(dry["rom_depth"]) if dry["rom_depth"] > 1 else 0,
            "in_w": dry["in_w"], "out_w": dry["out_w"], "gather": dry["out_w"] * (nf - 1) / nf,
            "quant": pe * dry["acc_b"], "dsp": dsp, "ramb18": rom.ramb18, "ramb36": rom.ramb36, "lutram_cells": 0,
            "result_fifo": lutram_cells(dry["result_slots"], dry["out_w"] + 1) if dry["result_slots"] > 1 else 0}


# ---------------------------------------------------------------- small stream primitives


def describe_fifo(k: FifoKnobs) -> dict[str, float]:
    mem = ram_map(k.depth, k.width + 1)       # data + tlast
    lutram = mem.kind == "lutram"
    return {"one": 1.0, "width": k.width + 1, "ptr": clog2(k.depth) + 1, "lutram": float(lutram),
            "read_regs": (k.width + 1) * (2 if lutram else 1),   # BRAM holds its read register inside
            "lutram_read_mux": (k.width + 1) * (math.ceil(k.depth / 64) - 1) if lutram else 0,
            "lutram_cells": mem.lutram_cells, "ramb18": mem.ramb18, "ramb36": mem.ramb36}


def describe_fork(k: ForkKnobs) -> dict[str, float]:
    return {"one": 1.0, "width": k.width + 1, "outputs": k.outputs, "lutram_cells": 0, "ramb18": 0, "ramb36": 0}


def describe_gather(k: GatherKnobs) -> dict[str, float]:
    return {"one": 1.0, "bits": k.width * k.pieces, "acc_bits": k.width * (k.pieces - 1), "count": clog2(k.pieces),
            "bits_count": k.width * k.pieces * clog2(k.pieces),
            "lutram_cells": 0, "ramb18": 0, "ramb36": 0}


def describe_split(k: SplitKnobs) -> dict[str, float]:
    """The held beat (N x W) and a piece select by the piece counter (a LUT6 selects one of 4 pieces)."""
    return {"one": 1.0, "bits": k.width * k.pieces, "select_luts": k.width * math.ceil(k.pieces / 4),
            "count": clog2(k.pieces),
            "lutram_cells": 0, "ramb18": 0, "ramb36": 0}


def describe_pool(k: PoolKnobs) -> dict[str, float]:
    """K comparisons (K-1 across the beat, one with the group's rows above) per pooled pixel and channel,
    the row memory of IN_W/P words of the pooled beat (asynchronous read: LUTRAM), the output register."""
    (h, w, c), kk, p = k.in_shape, k.pool, k.parallelism
    out_bits = (p // kk) * c * k.bits
    depth = w // p
    mem = ram_map(depth, out_bits) if depth > 1 else None
    return {"one": 1.0, "compare_bits": (p // kk) * c * kk * k.bits, "out_bits": out_bits,
            "row_bits": out_bits if mem is None else 0, "counter_bits": clog2(depth) + clog2(kk),
            "lutram_cells": mem.lutram_cells if mem else 0, "ramb18": mem.ramb18 if mem else 0,
            "ramb36": mem.ramb36 if mem else 0}


def describe_join(k: JoinKnobs) -> dict[str, float]:
    """The output register (P x output channels x OUT_W) and, for add, an adder per element over the bits
    above the finer-aligned input's shift (the bits below it are the other input's, passed through)."""
    out_c = k.channels[0] if k.op == "add" else sum(k.channels)
    out_bits = k.pixels * out_c * k.out_format.width
    shift = max(k.out_format.frac - f.frac for f in k.in_formats)
    adder_bits = k.pixels * out_c * (k.out_format.width - shift) if k.op == "add" else 0
    return {"one": 1.0, "out_bits": out_bits, "adder_bits": adder_bits,
            "lutram_cells": 0, "ramb18": 0, "ramb36": 0}


def describe_global_sum(k: GlobalSumKnobs) -> dict[str, float]:
    """Per channel, an accumulator and a held sum of OUT_W bits, and P adders into the accumulator."""
    out_w = k.in_fmt.width + (k.beats * k.pixels).bit_length() - 1
    return {"one": 1.0, "acc_bits": k.channels * out_w, "adder_bits": k.pixels * k.channels * out_w,
            "counter_bits": clog2(k.beats), "lutram_cells": 0, "ramb18": 0, "ramb36": 0}


def describe_cond_buffer(k: CondBufferKnobs) -> dict[str, float]:
    mem = ram_map(k.depth, k.width)
    lutram = mem.kind == "lutram"
    return {"one": 1.0, "width": k.width, "ptr": clog2(k.depth) + 1, "lutram": float(lutram),
            "read_regs": k.width * (2 if lutram else 1),
            "lutram_read_mux": k.width * (math.ceil(k.depth / 64) - 1) if lutram else 0,
            "lutram_cells": mem.lutram_cells, "ramb18": mem.ramb18, "ramb36": mem.ramb36}


EXIT_POLICIES = ("max_prob", "entropy", "margin")


def describe_exit_unit(k: ExitUnitKnobs) -> dict[str, float]:
    """Per policy (one-hot): a constant (its tables, the threshold register, control) and the logit bits
    its scan and adder trees take (classes x logit width). Entropy multiplies the sum by a reciprocal
    once per sample: one DSP48 whatever the class count."""
    f: dict[str, float] = {"one": 1.0, "lutram_cells": 0, "ramb18": 0, "ramb36": 0,
                           "dsp": float(k.policy == "entropy"),
                           "classes": k.classes, "logit_bits": k.classes * k.logit.width}
    for policy in EXIT_POLICIES:
        on = float(k.policy == policy)
        f[policy] = on
        f[f"{policy}_bits"] = on * k.classes * k.logit.width
    return f
