"""da4ml traced stage -> pipelined Verilog core, packing adapter and stream top.

Generated files for a stage called ``name`` (all modules prefixed with it, so
several stages can be compiled into one design):

- ``<name>_shift_adder`` etc.: da4ml's primitives, renamed per stage;
- ``<name>_core_stage<i>`` / ``<name>_core``: da4ml's pipeline, one register
  layer every ``adder_levels`` adder levels, plus its input and output
  registers (latency = pipeline stages + 1 cycles, no clock enable);
- ``<name>_io``: maps da4ml's packing (each element at its minimal width)
  to the project packing of :mod:`hardware.stage.packing`;
- ``<name>``: the valid/ready top, :file:`stream_shell.v` around ``<name>_io``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import da4ml.codegen.rtl as da4ml_rtl
from da4ml.cmvm.types import CombLogic, Pipeline, _minimal_kif
from da4ml.codegen.rtl.verilog import pipeline_logic_gen
from da4ml.trace import to_pipeline

from hardware import source

from .packing import PortTensor, bit_offsets, port_width

# One register layer every 4 adder levels: a 7-series carry-chain adder of ~16
# bits plus routing is ~1.5-2 ns, so 4 chained levels should fit 10 ns (100 MHz).
# Measured with Yosys synth_xilinx on the digits example's stages: 8-9 LUT levels
# between registers (carry chains not counted); no static timing analysis here.
ADDER_LEVELS_PER_REGISTER = 4
TIMESCALE = "`timescale 1ns / 1ps"
SHELL_SOURCE = source("stream_shell/stream_shell.v")
FIFO_SOURCE = source("fifo/pl_fifo.v")   # the shell's result FIFO; the pipeline's FIFOs too
SHELL_LIBRARY = [FIFO_SOURCE, SHELL_SOURCE]
_PRIMITIVES_DIR = Path(da4ml_rtl.__file__).parent / "verilog" / "source"
_PRIMITIVES = ("shift_adder", "negative", "mux", "multiplier", "lookup_table")


@dataclass
class EmittedCore:
    files: list[Path]
    top: str
    pipeline: Pipeline
    pipeline_stages: int
    latency_cycles: int


def _prefix_primitives(code: str, name: str) -> str:
    for prim in _PRIMITIVES:
        code = re.sub(rf"\b{prim}\b(?=\s*#)", f"{name}_{prim}", code)
        code = re.sub(rf"^module {prim}\b", f"module {name}_{prim}", code, flags=re.M)
    return code


def _element_widths(qints) -> list[tuple[int, int, int]]:
    """(width, fraction bits, signed) of each element in da4ml's packing."""
    out = []
    for q in qints:
        k, i, f = _minimal_kif(q)
        out.append((int(k) + int(i) + int(f), int(f), int(k)))
    return out


def _io_adapter(pipe: Pipeline, name: str, inp: PortTensor, outputs: list[PortTensor]) -> str:
    in_elems = _element_widths(pipe.inp_qint)
    out_elems = _element_widths(pipe.out_qint)
    core_in_w = sum(w for w, _, _ in in_elems)
    core_out_w = sum(w for w, _, _ in out_elems)
    lines = []
    pos, width = 0, inp.fmt.width
    for j, (w, f, _) in enumerate(in_elems):
        if w == 0:  # input element the stage never reads
            continue
        if (w, f) != (width, inp.fmt.frac):
            raise AssertionError(f"input element {j}: da4ml width {w}/frac {f} differs from {inp.fmt}")
        lines.append(f"assign core_inp[{pos + w - 1}:{pos}] = inp[{j * width + w - 1}:{j * width}];")
        pos += w
    pos = 0
    flat = [(t, base + e * t.fmt.width) for t, base in zip(outputs, bit_offsets(outputs)) for e in range(t.size)]
    if len(flat) != len(out_elems):
        raise AssertionError(f"{len(out_elems)} traced outputs for {len(flat)} port elements")
    for (t, lo), (w, f, signed) in zip(flat, out_elems):
        width, hi = t.fmt.width, lo + t.fmt.width - 1
        if w == 0:
            lines.append(f"assign out[{hi}:{lo}] = {width}'d0;")
            continue
        shift = t.fmt.frac - f
        ext = width - w - shift
        if shift < 0 or w + ext < 1:
            raise AssertionError(f"output {t.name!r}: da4ml element width {w}, frac {f} does not fit {t.fmt}")
        # the port format is the IR's exact bound (frontend/ir.py); da4ml's own range can be looser, and
        # bits above an exact bound only repeat the sign (or are zero), so they are dropped
        src = f"core_out[{pos + w - 1 + min(ext, 0)}:{pos}]"
        ext = max(ext, 0)
        parts = []
        if ext:
            parts.append(f"{{{ext}{{core_out[{pos + w - 1}]}}}}" if signed else f"{ext}'d0")
        parts.append(src)
        if shift:
            parts.append(f"{shift}'d0")
        lines.append(f"assign out[{hi}:{lo}] = {{{', '.join(parts)}}};")
        pos += w
    body = "\n    ".join(lines)
    return f"""{TIMESCALE}
// Packing adapter: project port packing <-> da4ml's minimal-width packing.
module {name}_io (
    input clk,
    // input bits da4ml's core does not read (e.g. bits its quantisers drop) are not used
    // verilator lint_off UNUSEDSIGNAL
    input [{port_width([inp]) - 1}:0] inp,
    // verilator lint_on UNUSEDSIGNAL
    output [{port_width(outputs) - 1}:0] out
);
    wire [{core_in_w - 1}:0] core_inp;
    wire [{core_out_w - 1}:0] core_out;
    {name}_core core (.clk(clk), .model_inp(core_inp), .model_out(core_out));
    {body}
endmodule
"""


def stream_module(name: str, in_w: int, out_w: int, comment: str) -> str:
    """Header of a stage core top: the valid/ready ports every stage core has (StageRtl, FoldedStage)."""
    return f"""{TIMESCALE}
// {comment}
module {name} (
    input clk,
    input rst,
    input [{in_w - 1}:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    output [{out_w - 1}:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready
);
"""


def _stream_top(name: str, in_w: int, out_w: int, latency: int) -> str:
    comment = f"Valid/ready (AXI-stream style) top of stage core {name}; packing: hardware/stage/packing.py."
    return stream_module(name, in_w, out_w, comment) + f"""    wire [{in_w - 1}:0] core_in;
    wire [{out_w - 1}:0] core_out;
    {name}_io io (.clk(clk), .inp(core_in), .out(core_out));
    stream_shell #(.IN_W({in_w}), .OUT_W({out_w}), .LATENCY({latency})) shell (
        .clk(clk), .rst(rst),
        .s_data(s_axis_tdata), .s_valid(s_axis_tvalid), .s_ready(s_axis_tready),
        .m_data(m_axis_tdata), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready),
        .core_in(core_in), .core_out(core_out)
    );
endmodule
"""


def emit_stage(comb: CombLogic, inp: PortTensor, outputs: list[PortTensor], out_dir: Path, name: str,
               adder_levels: int = ADDER_LEVELS_PER_REGISTER, stream_top: bool = True) -> EmittedCore:
    """Write the stage's Verilog into ``out_dir``; returns files in compile order.

    ``stream_top`` False: no valid/ready top ``<name>`` (and no shell files); the caller wraps
    ``<name>_io`` itself (e.g. hardware/window_kernel, P copies in one shell). ``top`` is then ``<name>_io``.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"stage name {name!r} is not a Verilog identifier; use letters, digits and _")
    if adder_levels < 1:
        raise ValueError(f"adder_levels must be >= 1, got {adder_levels}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipe = to_pipeline(comb, adder_levels, retiming=True, verbose=False)
    if pipe.solutions[0].lookup_tables or any(s.lookup_tables for s in pipe.solutions):
        raise AssertionError("lookup tables are not expected in a stage core")
    codes = pipeline_logic_gen(pipe, f"{name}_core", print_latency=False, timescale=TIMESCALE)
    used = [p for p in _PRIMITIVES if any(re.search(rf"\b{p}\b\s*#", c) for c in codes.values())]
    files = []
    for prim in used:
        path = out_dir / f"{name}_{prim}.v"
        path.write_text(_prefix_primitives((_PRIMITIVES_DIR / f"{prim}.v").read_text(), name))
        files.append(path)
    for module, code in codes.items():
        path = out_dir / f"{module}.v"
        path.write_text(_prefix_primitives(code, name))
        files.append(path)
    n_stages = len(pipe.solutions)
    latency = n_stages + 1  # input register, one per stage boundary, output register
    io_path = out_dir / f"{name}_io.v"
    io_path.write_text(_io_adapter(pipe, name, inp, outputs))
    if not stream_top:
        return EmittedCore([*files, io_path], f"{name}_io", pipe, n_stages, latency)
    top_path = out_dir / f"{name}.v"
    top_path.write_text(_stream_top(name, port_width([inp]), port_width(outputs), latency))
    files += [io_path, *SHELL_LIBRARY, top_path]
    return EmittedCore(files, name, pipe, n_stages, latency)
