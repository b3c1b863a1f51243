"""Weight-memory matrix-vector unit (MVAU): y = quantise(x @ W + bias), folded PE x SIMD as in FINN's mvu.

An input vector x of VEC codes arrives as BEATS beats of IN_ELEMS elements
(element e of a beat at bits [e*IN_B +: IN_B]); the unit emits one output beat
with all OUT elements (element o at [o*OUT_B +: OUT_B]) per vector, its tlast
that of the vector's last input beat. Each cycle it multiplies SIMD inputs by
PE columns of W held in a weight ROM (word = PE*SIMD codes, one word per
step), so a beat takes (IN_ELEMS/SIMD) * (OUT/PE) cycles, back to back.

Blocks of the generated top ``<name>`` (see hardware/mvau/README.md):

    mvau_control.v     beat register, step counters, output credits (hand-written)
    <name>_weights     weight ROM: synchronous read, $readmemh of <name>_weights.mem
    x slice            SIMD elements of the held beat, registered beside the ROM read
    <name>_dot x PE    one lane's dot product (tree.py: LUT shift-and-add or DSP `*`)
    accumulators       PE accumulators + a bank of the other output folds' partial sums
    <name>_quant x PE  relu, round half to even, saturate (frontend/fixedpoint semantics)
    gather, results    the OUT results of a vector -> one output beat (a register, or pl_fifo when short
                       vectors need more result slots to keep the rate)

Every width is exact: weight and bias codes use the narrowest format covering
their values, the accumulator holds every partial sum of the actual codes
(formats.accumulator_range), and every tree node its own range.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat

import hardware
from hardware.mvau.encoding import WeightEncoding, choose_encoding
from hardware.mvau.formats import MVAUConfigError, accumulator_range, covering_format, signed_width
from hardware.mvau.quantizer import quantizer_module
from hardware.mvau.tree import Node, dot_module, resized

CONTROL_SOURCE = hardware.source("mvau/mvau_control.v")
FIFO_SOURCE = hardware.source("fifo/pl_fifo.v")
TIMESCALE = "`timescale 1ns / 1ps"
MULTIPLIERS = ("lut", "dsp")

Quantizer = tuple | None   # (output format, relu first[, symmetric]) or None = the exact accumulator


@dataclass(frozen=True)
class MVAU:
    """A generated MVAU: its files, ports, formats, folding and timing."""

    name: str
    top: str
    files: tuple[Path, ...]
    in_fmt: FixedFormat
    weight_fmt: FixedFormat
    bias_fmt: FixedFormat | None
    acc_fmt: FixedFormat
    out_fmt: FixedFormat
    relu: bool
    vec: int
    out: int
    in_elems: int
    simd: int
    pe: int
    multiplier: str
    cycles_per_beat: int      # (IN_ELEMS / SIMD) * (OUT / PE)
    cycles_per_vector: int    # BEATS * cycles_per_beat: back to back vectors, no stalls, no bubble
    latency_cycles: int       # last input beat accepted -> output beat valid, no stalls
    weight_encoding: str      # "twos" (two's complement codes) or "pow2" (codes 0 / +-2**k: no adder per product)
    weight_bits: int          # bits of the weight ROM (VEC * OUT * bits per weight)
    rom_depth: int
    rom_width: int
    fifo_depth: int           # result slots: 1 = one output register, else a pl_fifo of that depth
    tree_stages: int          # register stages of a lane's dot product

    @property
    def beats(self) -> int:
        return self.vec // self.in_elems

    @property
    def in_width(self) -> int:
        return self.in_elems * self.in_fmt.width

    @property
    def out_width(self) -> int:
        return self.out * self.out_fmt.width

    def beat_words(self, x_codes: np.ndarray) -> list[int]:
        """(n, VEC) input codes -> n * BEATS packed beats, in stream order."""
        x = np.asarray(x_codes, dtype=np.int64).reshape(-1, self.beats, self.in_elems)
        return [pack_codes(beat, self.in_fmt.width) for vector in x for beat in vector]

    def output_codes(self, words: list[int]) -> np.ndarray:
        """Output beats -> (n, OUT) codes of out_fmt."""
        return np.array([unpack_codes(w, self.out, self.out_fmt) for w in words], dtype=np.int64).reshape(-1, self.out)


def pack_codes(codes, width: int) -> int:
    """Element e at bits [e*width +: width], two's complement."""
    mask = (1 << width) - 1
    return sum((int(c) & mask) << (e * width) for e, c in enumerate(codes))


def unpack_codes(word: int, count: int, fmt: FixedFormat) -> list[int]:
    mask = (1 << fmt.width) - 1
    codes = [(word >> (e * fmt.width)) & mask for e in range(count)]
    if fmt.signed:
        codes = [c - (1 << fmt.width) if c >> (fmt.width - 1) else c for c in codes]
    return codes


def clog2(n: int) -> int:
    """Counter width for n values, at least 1."""
    return max(1, (n - 1).bit_length())


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def _check(name: str, kernel: np.ndarray, bias, in_fmt, in_elems: int, quantizer, simd: int, pe: int,
           multiplier: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise MVAUConfigError(f"name {name!r} is not a Verilog identifier; use letters, digits and _")
    if kernel.ndim != 2:
        raise MVAUConfigError(f"kernel has shape {kernel.shape}; pass it as (VEC, OUT), e.g. a Conv2D kernel "
                              f"reshaped with kernel.reshape(-1, filters)")
    vec, out = kernel.shape
    if bias is not None and np.shape(bias) != (out,):
        raise MVAUConfigError(f"bias has shape {np.shape(bias)}; it needs one value per output, shape ({out},)")
    if not isinstance(in_fmt, FixedFormat):
        raise MVAUConfigError(f"in_fmt is a {type(in_fmt).__name__}; pass a frontend.fixedpoint.FixedFormat")
    if in_elems < 1 or vec % in_elems:
        raise MVAUConfigError(f"in_elems={in_elems} does not divide VEC={vec}; a vector is a whole number of beats "
                              f"(divisors: {_divisors(vec)})")
    if simd < 1 or in_elems % simd:
        raise MVAUConfigError(f"simd={simd} does not divide in_elems={in_elems}; use one of {_divisors(in_elems)}")
    if pe < 1 or out % pe:
        raise MVAUConfigError(f"pe={pe} does not divide OUT={out}; use one of {_divisors(out)}")
    if multiplier not in MULTIPLIERS:
        raise MVAUConfigError(f"multiplier {multiplier!r} is unknown; use 'lut' or 'dsp'")
    if quantizer is not None and not (isinstance(quantizer, tuple) and len(quantizer) in (2, 3)
                                      and isinstance(quantizer[0], FixedFormat)):
        raise MVAUConfigError(f"quantizer {quantizer!r} is not (FixedFormat, relu[, symmetric]) or None")


def _rom_words(w_codes: np.ndarray, beats: int, in_elems: int, simd: int, pe: int, enc: WeightEncoding) -> list[int]:
    """Word of step (beat b, neuron fold nf, synapse fold sf) at address (b*NF + nf)*SF + sf:
    weight W[b*IN_ELEMS + sf*SIMD + s, nf*PE + p] at bits [(p*SIMD + s)*width +: width]."""
    vec, out = w_codes.shape
    sf_count, nf_count = in_elems // simd, out // pe
    # (beats, sf, simd, nf, pe) -> (beats, nf, sf, pe, simd)
    blocks = enc.encode(w_codes).reshape(beats, sf_count, simd, nf_count, pe).transpose(0, 3, 1, 4, 2)
    return [pack_codes(block.ravel(), enc.width) for block in blocks.reshape(-1, pe * simd)]


def _weights_module(name: str, words: list[int], width: int, mem_path: Path) -> str:
    aw = clog2(len(words))
    return f"""{TIMESCALE}
// Generated by hardware/mvau/mvau.py: weight ROM, {len(words)} words x {width} bits, synchronous read.
// A plain ROM initialised from a file: Yosys maps it to BRAM when large, to LUTs when small.
// FILE is an absolute path, so Yosys, Verilator and Icarus find it from any working directory.
module {name}_weights #(
    parameter FILE = "{mem_path}"
) (
    input clk,
    input [{aw - 1}:0] addr,
    output reg [{width - 1}:0] q
);
    reg [{width - 1}:0] rom [0:{len(words) - 1}];
    initial $readmemh(FILE, rom);
    always @(posedge clk) q <= rom[addr];
endmodule
"""


def _slice_select(sf_count: int, slice_w: int) -> str:
    if sf_count == 1:
        return "    always @(posedge clk) x_r <= beat;"
    sf_w = clog2(sf_count)
    cases = [f"            {sf_w}'d{k}: x_r <= beat[{k * slice_w} +: {slice_w}];" for k in range(sf_count)]
    if sf_count < 1 << sf_w:
        cases.append(f"            default: x_r <= beat[0 +: {slice_w}];")
    return "    always @(posedge clk) begin\n        case (sf)\n" + "\n".join(cases) + "\n        endcase\n    end"


def _bias_select(bias_words: list[int], width: int) -> str:
    """Bias of the accumulating step's output fold (a small case ROM in LUTs)."""
    if len(bias_words) == 1:
        return f"    wire [{width - 1}:0] bias_word = {width}'h{bias_words[0]:x};"
    nf_w = clog2(len(bias_words))
    cases = [f"            {nf_w}'d{k}: bias_word = {width}'h{v:x};" for k, v in enumerate(bias_words)]
    if len(bias_words) < 1 << nf_w:
        cases.append(f"            default: bias_word = {width}'h0;")
    return (f"    reg [{width - 1}:0] bias_word;\n    always @* begin\n        case (a_nf)\n" + "\n".join(cases)
            + "\n        endcase\n    end")


def _lane(name: str, dot: Node, acc_b: int, product_shift: int, sf_count: int, nf_count: int, beats: int,
          simd: int, x_b: int, w_b: int, out_b: int) -> str:
    """Accumulator of lane p: starts at the bias (first beat) or the fold's saved partial sum, adds a dot per step."""
    used = acc_b - dot.shift - product_shift  # the accumulator works modulo 2**acc_b: higher dot bits drop out
    declare = f"            wire [{dot.width - 1}:0] dot;"
    if dot.width > used:
        declare = (f"            // verilator lint_off UNUSEDSIGNAL\n{declare}  // the tree's range is wider than the "
                   f"accumulator's (worst-case weights); its top bits drop out\n"
                   f"            // verilator lint_on UNUSEDSIGNAL")
    lines = [declare,
             f"            {name}_dot lane_dot (.clk(clk), .x(x_step), .w(weights[p*{simd * w_b} +: {simd * w_b}]), "
             f".dot(dot));",
             f"            wire [{acc_b - 1}:0] bias = bias_word[p*{acc_b} +: {acc_b}];",
             f"            reg [{acc_b - 1}:0] acc;"]
    saved_w = (nf_count - 1) * acc_b
    if beats > 1 and nf_count > 1:
        lines.append(f"            reg [{saved_w - 1}:0] saved;  // partial sums of the other output folds")
        head = f"saved[{saved_w - 1} -: {acc_b}]"
        shift_in = "acc" if nf_count == 2 else f"{{saved[{saved_w - acc_b - 1}:0], acc}}"
    else:
        head = "acc"
    start = "bias" if beats == 1 else f"(a_beat_first ? bias : {head})"
    base = f"(a_sf_first ? {start} : acc)" if sf_count > 1 else start
    op = "-" if dot.neg else "+"
    lines.append(f"            always @(posedge clk) begin")
    lines.append(f"                if (a_valid) acc <= {base} {op} {resized(dot, acc_b, dot.shift + product_shift)};")
    if beats > 1 and nf_count > 1:
        lines.append(f"                if (a_valid && a_sf_first) saved <= {shift_in};")
    lines.append("            end")
    lines.append(f"            {name}_quant lane_quant (.acc(acc), .q(q_all[p*{out_b} +: {out_b}]));")
    return "\n".join(lines)


def _top(name: str, p: dict) -> str:
    """Top module text from the parameter dict of build_mvau (see the block list in the module doc)."""
    delay, flags_w = p["delay"], p["nf_w"] + 6
    flags_now = "{nf, beat_last, beat_first, nf_last, sf_last, sf_first, last}"
    flag_shift = ("flag_sr <= flags_now;" if delay == 1 else
                  f"flag_sr <= {{flag_sr[{(delay - 1) * flags_w - 1}:0], flags_now}};")
    valid_shift = ("valid_sr <= rst ? 1'b0 : issue;" if delay == 1 else
                   f"valid_sr <= rst ? {delay}'d0 : {{valid_sr[{delay - 2}:0], issue}};")
    group_w = p["pe"] * p["out_b"]
    gather_w = (p["nf"] - 1) * group_w
    if p["nf"] == 1:
        gather, push_data = "", "{q_last, q_all}"
    else:
        shifted = "q_all" if p["nf"] == 2 else f"{{q_all, gather[{gather_w - 1}:{group_w}]}}"
        gather = (f"    reg [{gather_w - 1}:0] gather;  // output folds 0..NF-2 of the vector, fold 0 at bit 0\n"
                  f"    always @(posedge clk) if (q_valid) gather <= {shifted};\n")
        push_data = "{q_last, q_all, gather}"
    slice_w = p["slice_w"]
    if p["rom_depth"] == 1:
        rom = (f"    // stage 1: the step's SIMD slice of the held beat; one step per vector, so the weights are a constant\n"
               f"    wire [{p['rom_w'] - 1}:0] weights = {p['rom_w']}'h{p['rom_words'][0]:x};\n"
               f"    reg [{slice_w - 1}:0] x_r;\n{_slice_select(p['sf'], slice_w)}\n"
               f"    wire [{slice_w - 1}:0] x_step = x_r;")
        addr_port = ".addr()"
    else:
        # Yosys maps a LUT ROM addressed straight from the step counter about 4x larger (it folds the counter's
        # next-state logic into the ROM); a plain address register keeps it at one LUT6 per 64 words and bit
        rom = (f"    // stage 1: the ROM address and the step's SIMD slice of the held beat; stage 2: the weight word\n"
               f"    reg [{p['addr_w'] - 1}:0] rom_addr;\n"
               f"    always @(posedge clk) rom_addr <= addr;\n"
               f"    wire [{p['rom_w'] - 1}:0] weights;\n"
               f"    {name}_weights weight_rom (.clk(clk), .addr(rom_addr), .q(weights));\n"
               f"    reg [{slice_w - 1}:0] x_r, x_step;\n{_slice_select(p['sf'], slice_w)}\n"
               f"    always @(posedge clk) x_step <= x_r;")
        addr_port = ".addr(addr)"
    if p["depth"] == 1:  # a vector's result is taken before the next one's is final: one output register
        results = f"""    reg [{p['out_w']}:0] result;
    reg result_valid;
    always @(posedge clk) if (push) result <= {push_data};
    always @(posedge clk) begin
        if (rst) result_valid <= 1'b0;
        else if (push) result_valid <= 1'b1;
        else if (out_taken) result_valid <= 1'b0;
    end
    assign {{m_axis_tlast, m_axis_tdata}} = result;
    assign m_axis_tvalid = result_valid;"""
    else:
        results = f"""    // the control issues a vector's final step only while a FIFO entry is free: s_ready is never needed
    // verilator lint_off PINCONNECTEMPTY
    pl_fifo #(.W({p['out_w'] + 1}), .DEPTH({p['depth']})) results (
        .clk(clk), .rst(rst), .s_data({push_data}), .s_valid(push), .s_ready(),
        .m_data({{m_axis_tlast, m_axis_tdata}}), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready));
    // verilator lint_on PINCONNECTEMPTY"""
    addr_wire = f"    wire [{p['addr_w'] - 1}:0] addr;\n" if p["rom_depth"] > 1 else ""
    sf_wire = f"    wire [{p['sf_w'] - 1}:0] sf;\n" if p["sf"] > 1 else ""
    sf_port = ".sf(sf)" if p["sf"] > 1 else ".sf()"
    return f"""{TIMESCALE}
// Generated by hardware/mvau/mvau.py: matrix-vector unit {name}, VEC={p['vec']} ({p['beats']} beat(s) of
// {p['in_elems']}) -> OUT={p['out']}, SIMD={p['simd']}, PE={p['pe']}, {p['multiplier']} multipliers.
// {p['sf']} * {p['nf']} = {p['sf'] * p['nf']} cycle(s) per input beat; {p['depth']} result slot(s).
module {name} (
    input clk,
    input rst,
    input [{p['in_w'] - 1}:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    output [{p['out_w'] - 1}:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    wire issue, sf_first, sf_last, nf_last, beat_first, beat_last, last;
    wire [{p['in_w'] - 1}:0] beat;
{sf_wire}    wire [{p['nf_w'] - 1}:0] nf;
{addr_wire}    wire out_taken = m_axis_tvalid && m_axis_tready;

    // verilator lint_off PINCONNECTEMPTY
    mvau_control #(.IN_W({p['in_w']}), .SF({p['sf']}), .NF({p['nf']}), .BEATS({p['beats']}), .DEPTH({p['depth']}),
                   .SF_W({p['sf_w']}), .NF_W({p['nf_w']}), .BEAT_W({p['beat_w']}), .ADDR_W({p['addr_w']}),
                   .OCC_W({p['occ_w']})) control (
        .clk(clk), .rst(rst), .s_data(s_axis_tdata), .s_last(s_axis_tlast), .s_valid(s_axis_tvalid),
        .s_ready(s_axis_tready), .issue(issue), .beat(beat), {sf_port}, .nf(nf), {addr_port}, .sf_first(sf_first),
        .sf_last(sf_last), .nf_last(nf_last), .beat_first(beat_first), .beat_last(beat_last), .last(last),
        .out_taken(out_taken));
    // verilator lint_on PINCONNECTEMPTY

{rom}

    // step flags travel beside the datapath to the accumulators ({delay} cycle(s) after issue)
    wire [{flags_w - 1}:0] flags_now = {flags_now};
    reg [{delay * flags_w - 1}:0] flag_sr;
    reg [{delay - 1}:0] valid_sr;
    always @(posedge clk) {flag_shift}
    always @(posedge clk) {valid_shift}
    wire a_valid = valid_sr[{delay - 1}];
    // verilator lint_off UNUSEDSIGNAL
    wire [{p['nf_w'] - 1}:0] a_nf;  // unused when there is one output fold (the bias is a constant)
    wire a_beat_last, a_beat_first, a_nf_last, a_sf_last, a_sf_first, a_last;  // some unused for a given folding
    // verilator lint_on UNUSEDSIGNAL
    assign {{a_nf, a_beat_last, a_beat_first, a_nf_last, a_sf_last, a_sf_first, a_last}} = flag_sr[{delay * flags_w - 1} -: {flags_w}];
{_bias_select(p['bias_words'], p['pe'] * p['acc_b'])}

    // accumulators: one per lane; output folds not being computed wait in `saved`
    wire [{group_w - 1}:0] q_all;
    genvar p;
    generate
        for (p = 0; p < {p['pe']}; p = p + 1) begin : lane
{p['lane']}
        end
    endgenerate

    // a fold's sums are final the cycle after its last step of the vector's last beat
    reg q_valid, q_nf_last, q_last;
    always @(posedge clk) begin
        q_valid <= !rst && a_valid && a_sf_last && a_beat_last;
        q_nf_last <= a_nf_last;
        q_last <= a_last;
    end
{gather}    wire push = q_valid && q_nf_last;

{results}
endmodule
"""


def build_mvau(name: str, out_dir: Path, kernel: np.ndarray, bias: np.ndarray | None, in_fmt: FixedFormat,
               in_elems: int, quantizer: Quantizer, simd: int, pe: int, multiplier: str = "lut") -> MVAU:
    """Write the MVAU ``name`` computing quantizer(x @ kernel + bias) into ``out_dir``; return its description.

    kernel: real values (VEC, OUT) on a fixed-point grid (a quantised Keras kernel, a Conv2D one reshaped
    to (kh*kw*cin, filters)); bias: (OUT,) real values or None; in_fmt: format of the input codes;
    quantizer: (FixedFormat, relu) or (FixedFormat, relu, symmetric) (saturating to +-max, quantized_bits
    symmetric=1), or None for the exact accumulator; simd | in_elems, pe | OUT.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    _check(name, kernel, bias, in_fmt, in_elems, quantizer, simd, pe, multiplier)
    vec, out = kernel.shape
    beats, sf_count, nf_count = vec // in_elems, in_elems // simd, out // pe
    w_fmt = covering_format(kernel, "kernel")
    w_codes = w_fmt.to_codes(kernel)
    enc = choose_encoding(w_codes, w_fmt, multiplier)
    bias = None if bias is None or not np.any(bias) else np.asarray(bias, dtype=np.float64)
    b_fmt = covering_format(bias, "bias") if bias is not None else None
    b_codes = b_fmt.to_codes(bias) if bias is not None else None

    product_frac = in_fmt.frac + w_fmt.frac
    acc_frac = product_frac if b_fmt is None else max(product_frac, b_fmt.frac)
    product_shift = acc_frac - product_frac
    bias_shift = acc_frac - b_fmt.frac if b_fmt else 0
    acc_lo, acc_hi = accumulator_range(w_codes, product_shift, in_fmt, b_codes, bias_shift)
    acc_fmt = FixedFormat(width=signed_width(acc_lo, acc_hi), frac=acc_frac, signed=True)
    out_fmt, relu, *sym = quantizer if quantizer is not None else (acc_fmt, False)

    dot_text, dot, tree_stages = dot_module(f"{name}_dot", simd, in_fmt, enc, int(w_codes.min()),
                                            int(w_codes.max()), multiplier)
    quant_text = quantizer_module(f"{name}_quant", acc_fmt, (acc_lo, acc_hi), out_fmt, relu, quantizer is None,
                                  symmetric=bool(sym and sym[0]))
    rom_words = _rom_words(w_codes, beats, in_elems, simd, pe, enc)
    delay = (2 if len(rom_words) > 1 else 1) + tree_stages   # issue -> weight word and x slice -> dot -> accumulate
    cycles_per_beat = sf_count * nf_count
    # A vector holds its result slot from its final step's issue until its output beat is taken: delay + 2 cycles
    # without stalls, so floor((delay + 2) / cycles_per_vector) earlier vectors may still hold theirs.
    slots = (delay + 2) // (beats * cycles_per_beat) + 1
    depth = 1 if slots == 1 else 1 << clog2(slots)
    acc_mask = (1 << acc_fmt.width) - 1
    bias_lanes = (b_codes << bias_shift if b_codes is not None else np.zeros(out, dtype=np.int64)).reshape(nf_count, pe)
    params = dict(vec=vec, out=out, beats=beats, in_elems=in_elems, simd=simd, pe=pe, multiplier=multiplier,
                  sf=sf_count, nf=nf_count, depth=depth, delay=delay, in_w=in_elems * in_fmt.width,
                  out_w=out * out_fmt.width, out_b=out_fmt.width, acc_b=acc_fmt.width, slice_w=simd * in_fmt.width,
                  sf_w=clog2(sf_count), nf_w=clog2(nf_count), beat_w=clog2(beats),
                  addr_w=clog2(beats * cycles_per_beat), occ_w=depth.bit_length(), rom_depth=len(rom_words),
                  rom_w=pe * simd * enc.width, rom_words=rom_words,
                  bias_words=[pack_codes([int(c) & acc_mask for c in row], acc_fmt.width) for row in bias_lanes])
    params["lane"] = _lane(name, dot, acc_fmt.width, product_shift, sf_count, nf_count, beats, simd,
                           in_fmt.width, enc.width, out_fmt.width)
    top_text = _top(name, params)

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [CONTROL_SOURCE, FIFO_SOURCE]
    if len(rom_words) > 1:
        mem_path = out_dir / f"{name}_weights.mem"
        digits = (params["rom_w"] + 3) // 4
        mem_path.write_text("".join(f"{w:0{digits}x}\n" for w in rom_words))
        weights_v = out_dir / f"{name}_weights.v"
        weights_v.write_text(_weights_module(name, rom_words, params["rom_w"], mem_path))
        files.append(weights_v)
    for suffix, text in (("_dot", TIMESCALE + "\n" + dot_text), ("_quant", TIMESCALE + "\n" + quant_text),
                         ("", top_text)):
        path = out_dir / f"{name}{suffix}.v"
        path.write_text(text)
        files.append(path)
    return MVAU(name=name, top=name, files=tuple(files), in_fmt=in_fmt, weight_fmt=w_fmt, bias_fmt=b_fmt,
                acc_fmt=acc_fmt, out_fmt=out_fmt, relu=relu, vec=vec, out=out, in_elems=in_elems, simd=simd,
                pe=pe, multiplier=multiplier, cycles_per_beat=cycles_per_beat,
                cycles_per_vector=beats * cycles_per_beat, latency_cycles=cycles_per_beat + delay + 2,
                weight_encoding=enc.kind, weight_bits=vec * out * enc.width, rom_depth=len(rom_words), rom_width=params["rom_w"],
                fifo_depth=depth, tree_stages=tree_stages)
