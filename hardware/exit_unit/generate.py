"""Emit a configured exit-decision unit as Verilog from an ExitUnitConfig.

One generator, one place for the parameters: the pipeline plan (where the
registers go) is ``PIPELINE`` below, the LUT contents are the reference
model's own tables (``cfg.exp_table`` ...), written into the module as
case-statement functions, so RTL and model cannot drift.

Interface of every unit (AXI-Stream-like, cocotbext-axi drives it directly):

* ``s_axis_tdata``: parallel: all C logits, class i at bits [i*W +: W];
  serial: one logit per beat, class 0 first (C beats per sample);
* ``m_axis_tdata`` = {confidence, class, exit}: bit 0 exit flag, then
  ``class_bits`` bits of predicted class, then the confidence code;
* ``thr_we``/``thr_data``: the threshold register (host-writable; samples
  compare against the value held when they reach the last stage);
* ``rst`` synchronous, active high. Parallel: II = 1, fixed latency
  ``LATENCY`` cycles from input handshake to output valid (whole pipeline
  stalls while the output is back-pressured).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from exit_unit.reference import ExitUnitConfig

VARIANTS = ("parallel", "serial")
RTL_DIR = Path(__file__).resolve().parent

# Register placement for the parallel unit: tree levels of the top-1/top-2
# scan per pipeline stage, and adder-tree levels per stage.
PIPELINE = {"scan_levels_per_stage": 2, "sum_levels_per_stage": 4,
            "register_lookups": {"max_prob": True, "entropy": False},
            "register_sums": {"max_prob": False, "entropy": True}}


@dataclass
class GeneratedUnit:
    cfg: ExitUnitConfig
    variant: str
    top: str
    files: list[Path]
    latency_cycles: int
    ii: int
    params: dict = field(default_factory=dict)

    @property
    def output_width(self) -> int:
        return 1 + self.cfg.class_bits + self.cfg.confidence_format.width


def unit_name(cfg: ExitUnitConfig, variant: str) -> str:
    return cfg.name + ("_serial" if variant == "serial" else "")


class _Module:
    """Tiny text builder for one pipelined module."""

    def __init__(self) -> None:
        self.decl: list[str] = []
        self.body: list[str] = []
        self.stages = 0

    def wire(self, name: str, width: int, expr: str, signed: bool = False) -> str:
        sg = "signed " if signed else ""
        self.decl.append(f"  wire {sg}[{width - 1}:0] {name};")
        self.body.append(f"  assign {name} = {expr};")
        return name

    def unused_bits(self, name: str, reason: str) -> None:
        """Some bits of ``name`` are read nowhere, by design: say why to the reader and to the linter."""
        i = next(j for j, line in enumerate(self.decl) if line.endswith(f" {name};"))
        self.decl[i:i + 1] = [f"  // {reason}", "  // verilator lint_off UNUSEDSIGNAL", self.decl[i],
                              "  // verilator lint_on UNUSEDSIGNAL"]

    def register(self, signals: list[tuple[str, int, bool]]) -> list[str]:
        """Register signals (name, width, signed) into the next stage, enabled by adv."""
        self.stages += 1
        k = self.stages
        out = []
        lines = ["  always @(posedge clk) if (adv) begin"]
        done: dict[str, str] = {}
        for name, width, signed in signals:
            if name in done:  # the same signal registered twice (e.g. a pass-through node): one register
                out.append(done[name])
                continue
            sg = "signed " if signed else ""
            base = re.sub(r"^(w|r\d+)_", "", name)
            q = done[name] = f"r{k}_{base}"
            self.decl.append(f"  reg {sg}[{width - 1}:0] {q};")
            lines.append(f"    {q} <= {name};")
            out.append(q)
        lines.append("  end")
        self.body.extend(lines)
        return out


def _lut_function(name: str, index_bits: int, out_bits: int, values) -> str:
    lines = [f"  function [{out_bits - 1}:0] {name};",
             f"    input [{index_bits - 1}:0] i;",
             "    begin",
             "      case (i)"]
    for j, v in enumerate(values):
        lines.append(f"        {index_bits}'d{j}: {name} = {out_bits}'d{int(v)};")
    lines += [f"        default: {name} = {out_bits}'d0;", "      endcase", "    end", "  endfunction"]
    return "\n".join(lines)


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def _zext(expr: str, width: int, to: int) -> str:
    """expr (``width`` bits, unsigned) zero-extended to ``to`` bits, so no operator widens it implicitly."""
    return expr if to <= width else f"{{{to - width}'d0, {expr}}}"


def _tables(cfg: ExitUnitConfig) -> list[str]:
    if cfg.policy == "margin":
        return []
    out = [_lut_function("exp_lut", cfg.index_bits, _bits(cfg.exp_table.max()), cfg.exp_table)]
    if cfg.policy == "entropy":
        out.append(_lut_function("xexp_lut", cfg.index_bits, _bits(cfg.xexp_table.max()), cfg.xexp_table))
        out.append(_lut_function("ln_lut", cfg.norm_bits, _bits(cfg.ln_table.max()), cfg.ln_table))
        out.append(_lut_function("recip_lut", cfg.norm_bits, _bits(cfg.recip_table.max()), cfg.recip_table))
        kb = _bits(cfg.exponent_count - 1)
        out.append(_lut_function("kln_lut", kb, _bits(cfg.kln_table.max()), cfg.kln_table))
    return out


def _lut_index_expr(cfg: ExitUnitConfig, d: str) -> str:
    """min(d >> shift, 2**K - 1) as Verilog on a W-bit unsigned d."""
    s, k, w = cfg.shift, cfg.index_bits, cfg.diff_bits
    field_ = f"{d}[{s + k - 1}:{s}]"
    if s + k >= w:
        return field_
    return f"(|{d}[{w - 1}:{s + k}]) ? {{{k}{{1'b1}}}} : {field_}"


def _header(top: str, cfg: ExitUnitConfig, in_width: int, latency: int, ii: int) -> list[str]:
    conf = cfg.confidence_format
    ow = 1 + cfg.class_bits + conf.width
    return [
        "`timescale 1ns / 1ps",
        f"// Generated by exit_unit/generate.py: {cfg.classes} classes, logits {cfg.logit}, policy {cfg.policy}.",
        f"// Latency {latency} cycles, II {ii}. m_axis_tdata = {{confidence {conf}, class[{cfg.class_bits}], exit}}.",
        f"// Exit when confidence {'>=' if cfg.higher_is_confident else '<='} threshold.",
        "// Do not edit: regenerate from the reference model instead.",
        f"module {top} #(",
        f"  // threshold register after reset; default: the code that lets the fewest samples out",
        f"  parameter [{conf.width - 1}:0] THRESHOLD_INIT = {conf.width}'d{cfg.never_exit_code}",
        ") (",
        "  input  wire clk,",
        "  input  wire rst,",
        f"  input  wire [{in_width - 1}:0] s_axis_tdata,",
        "  input  wire s_axis_tvalid,",
        "  output wire s_axis_tready,",
        f"  output wire [{ow - 1}:0] m_axis_tdata,",
        "  output wire m_axis_tvalid,",
        "  input  wire m_axis_tready,",
        "  input  wire thr_we,",
        f"  input  wire [{conf.width - 1}:0] thr_data",
        ");",
        "  // timing as stated for readers and tools that parse this file; the registers below set it",
        "  // verilator lint_off UNUSEDPARAM",
        f"  localparam LATENCY = {latency};",
        f"  localparam II = {ii};",
        "  // verilator lint_on UNUSEDPARAM",
    ]


def _threshold_reg(cfg: ExitUnitConfig) -> list[str]:
    w = cfg.confidence_format.width
    return [f"  reg [{w - 1}:0] thr_q;",
            "  always @(posedge clk) if (rst) thr_q <= THRESHOLD_INIT; else if (thr_we) thr_q <= thr_data;"]


def _compare(cfg: ExitUnitConfig, conf: str) -> str:
    return f"({conf} >= thr_q)" if cfg.higher_is_confident else f"({conf} <= thr_q)"


# ---------------------------------------------------------------- parallel
def _parallel(cfg: ExitUnitConfig, top: str) -> tuple[str, int]:
    C, W = cfg.classes, cfg.logit.width
    m = _Module()
    z = [m.wire(f"w_z{i}", W, f"s_axis_tdata[{i * W + W - 1}:{i * W}]", cfg.logit.signed) for i in range(C)]
    idx = [m.wire(f"w_c{i}", cfg.class_bits, f"{cfg.class_bits}'d{i}") for i in range(C)]
    out = _top2_pipeline(m, cfg, z, idx) if cfg.policy == "margin" else _softmax_pipeline(m, cfg, z, idx)
    return _assemble(m, cfg, top, out, C * W), m.stages


def _top2_pipeline(m: _Module, cfg: ExitUnitConfig, z: list[str], idx: list[str]) -> list[str]:
    """margin: a tree of (top, second, class) nodes; leaves pair up by compare-exchange."""
    C, W, sg, cb = cfg.classes, cfg.logit.width, cfg.logit.signed, cfg.class_bits
    nodes = []
    for p in range(0, C - 1, 2):
        a, b = z[p], z[p + 1]
        sel = m.wire(f"w_l0s{p}", 1, f"({b} > {a})")  # strictly greater: the lower index wins ties
        nodes.append((m.wire(f"w_l0h{p}", W, f"{sel} ? {b} : {a}", sg),
                      m.wire(f"w_l0o{p}", W, f"{sel} ? {a} : {b}", sg),
                      m.wire(f"w_l0i{p}", cb, f"{sel} ? {idx[p + 1]} : {idx[p]}")))
    if C % 2:
        lowest = m.wire(f"w_l0o{C - 1}", W, f"{W}'d{cfg.logit.min_code % (1 << W)}", sg)
        nodes.append((z[C - 1], lowest, idx[C - 1]))
    level = 1
    while len(nodes) > 1:
        if level % PIPELINE["scan_levels_per_stage"] == 0:
            regs = m.register([(x, W if j < 2 else cb, sg and j < 2) for n in nodes for j, x in enumerate(n)])
            nodes = [tuple(regs[3 * i:3 * i + 3]) for i in range(len(nodes))]
        nxt = []
        for p in range(0, len(nodes) - 1, 2):
            (a1, a2, ai), (b1, b2, bi) = nodes[p], nodes[p + 1]
            t = f"l{level}n{p}"
            sel = m.wire(f"w_{t}s", 1, f"({b1} > {a1})")
            # second = max(loser's top, winner's second)
            x = m.wire(f"w_{t}x", W, f"{sel} ? {a1} : {a2}", sg)
            y = m.wire(f"w_{t}y", W, f"{sel} ? {b2} : {b1}", sg)
            nxt.append((m.wire(f"w_{t}h", W, f"{sel} ? {b1} : {a1}", sg),
                        m.wire(f"w_{t}o", W, f"({y} > {x}) ? {y} : {x}", sg),
                        m.wire(f"w_{t}i", cb, f"{sel} ? {bi} : {ai}")))
        nodes = nxt + ([nodes[-1]] if len(nodes) % 2 else [])
        level += 1
    hi, lo, ix = m.register([(nodes[0][0], W, sg), (nodes[0][1], W, sg), (nodes[0][2], cb, False)])
    conf = m.wire("w_margin", W, f"{hi} - {lo}")
    return m.register([(conf, W, False), (ix, cb, False), (m.wire("w_exit", 1, _compare(cfg, conf)), 1, False)])


def _softmax_pipeline(m: _Module, cfg: ExitUnitConfig, z: list[str], idx: list[str]) -> list[str]:
    """max_prob / entropy: top-1 tree (logits carried alongside), distances, LUTs, sums, tail."""
    C, W, sg, cb = cfg.classes, cfg.logit.width, cfg.logit.signed, cfg.class_bits
    nodes, zs, level = list(zip(z, idx)), list(z), 0
    while len(nodes) > 1:
        if level and level % PIPELINE["scan_levels_per_stage"] == 0:
            regs = m.register([(v, W, sg) for v, _ in nodes] + [(i, cb, False) for _, i in nodes]
                              + [(x, W, sg) for x in zs])
            n = len(nodes)
            nodes, zs = list(zip(regs[:n], regs[n:2 * n])), regs[2 * n:]
        nxt = []
        for p in range(0, len(nodes) - 1, 2):
            (a, ai), (b, bi) = nodes[p], nodes[p + 1]
            t = f"l{level}n{p}"
            sel = m.wire(f"w_{t}s", 1, f"({b} > {a})")  # strictly greater: the lower index wins ties
            nxt.append((m.wire(f"w_{t}v", W, f"{sel} ? {b} : {a}", sg), m.wire(f"w_{t}i", cb, f"{sel} ? {bi} : {ai}")))
        nodes = nxt + ([nodes[-1]] if len(nodes) % 2 else [])
        level += 1
    regs = m.register([(nodes[0][0], W, sg), (nodes[0][1], cb, False)] + [(x, W, sg) for x in zs])
    zmax, zidx, zs = regs[0], regs[1], regs[2:]
    eb, gb = _bits(cfg.exp_table.max()), _bits(cfg.xexp_table.max())
    terms, xterms = [], []
    for i, zi in enumerate(zs):
        d = m.wire(f"w_d{i}", W, f"{zmax} - {zi}")  # >= 0 and < 2**W: W-bit modular difference is exact
        if cfg.shift:
            m.unused_bits(d, f"the LUT index drops d's low {cfg.shift} bits (finer than one LUT step)")
        ix = m.wire(f"w_x{i}", cfg.index_bits, _lut_index_expr(cfg, d))
        terms.append(m.wire(f"w_e{i}", eb, f"exp_lut({ix})"))
        if cfg.policy == "entropy":
            xterms.append(m.wire(f"w_g{i}", gb, f"xexp_lut({ix})"))
    if PIPELINE["register_lookups"][cfg.policy]:
        regs = m.register([(zidx, cb, False)] + [(t, eb, False) for t in terms] + [(t, gb, False) for t in xterms])
        zidx, terms, xterms = regs[0], regs[1:1 + C], regs[1 + C:]
    terms = [m.wire(f"w_se{i}", cfg.sum_bits, _zext(t, eb, cfg.sum_bits)) for i, t in enumerate(terms)]
    xterms = [m.wire(f"w_ae{i}", cfg.xsum_bits, _zext(t, gb, cfg.xsum_bits)) for i, t in enumerate(xterms)]
    trees = [("s", terms, cfg.sum_bits)] + ([("a", xterms, cfg.xsum_bits)] if xterms else [])
    sums, (zidx,) = _adder_trees(m, trees, [(zidx, cb, False)])
    a = sums[1] if xterms else None
    return _tail(m, cfg, sums[0], a, zidx, register_sums=PIPELINE["register_sums"][cfg.policy])


def _tail(m: _Module, cfg: ExitUnitConfig, s: str, a: str | None, zidx: str, register_sums: bool) -> list[str]:
    """From the sums S (and A) to the registered outputs [confidence, class, exit]."""
    sb, cb = cfg.sum_bits, cfg.class_bits
    if cfg.policy == "max_prob":
        return m.register([(s, sb, False), (zidx, cb, False), (m.wire("w_exit", 1, _compare(cfg, s)), 1, False)])
    ab = cfg.xsum_bits
    if register_sums:
        s, a, zidx = m.register([(s, sb, False), (a, ab, False), (zidx, cb, False)])
    # Normalise S = 1.m * 2**k: k from the leading one, m the next norm_bits bits.
    nb, kb, f = cfg.norm_bits, _bits(cfg.exponent_count - 1), cfg.lut_frac_bits
    kexpr = " : ".join(f"{s}[{f + k}] ? {kb}'d{k}" for k in reversed(range(1, cfg.exponent_count))) + f" : {kb}'d0"
    kk = m.wire("w_k", kb, kexpr)
    if f > nb:
        m.unused_bits(s, f"S's low {f - nb} bits are below its {nb}-bit mantissa at any exponent")
    mexpr = " : ".join(f"{s}[{f + k}] ? {s}[{f + k - 1}:{f + k - nb}]" for k in reversed(range(1, cfg.exponent_count)))
    mm = m.wire("w_m", nb, (mexpr + " : " if mexpr else "") + f"{s}[{f - 1}:{f - nb}]")
    rb, lb = _bits(cfg.recip_table.max()), _bits(cfg.ln_table.max() + cfg.kln_table.max()) - 1
    rec = m.wire("w_rec", rb, f"recip_lut({mm})")
    lnb, klb = _bits(cfg.ln_table.max()), _bits(cfg.kln_table.max())
    lnm = m.wire("w_lnm", lb + 1, f"{_zext(f'ln_lut({mm})', lnb, lb + 1)} + {_zext(f'kln_lut({kk})', klb, lb + 1)}")
    a, rec, lnm, kk, zidx = m.register([(a, ab, False), (rec, rb, False), (lnm, lb + 1, False),
                                        (kk, kb, False), (zidx, cb, False)])
    pw = ab + rb
    prod = m.wire("w_prod", pw, f"{a} * {rec}")
    prod, lnm, kk, zidx = m.register([(prod, pw, False), (lnm, lb + 1, False), (kk, kb, False), (zidx, cb, False)])
    cw = cfg.confidence_format.width
    t = m.wire("w_t", pw, f"({prod} >> {cfg.product_shift}) >> {kk}")
    m.unused_bits(t, f"A/S is at most the bound ExitUnitConfig.confidence_format sizes {cw} bits for")
    h = m.wire("w_h", cw, f"{_zext(lnm, lb + 1, cw)} + {t}[{cw - 1}:0]")
    return m.register([(h, cw, False), (zidx, cb, False), (m.wire("w_exit", 1, _compare(cfg, h)), 1, False)])


def _adder_trees(m: _Module, trees: list[tuple[str, list[str], int]],
                 carry: list[tuple[str, int, bool]]) -> tuple[list[str], list[str]]:
    """Balanced adder trees summed in lockstep; registers every sum_levels_per_stage
    levels cut all trees and the carried signals (e.g. the class) together."""
    sums = [list(terms) for _, terms, _ in trees]
    names = [c[0] for c in carry]
    level = 0
    while any(len(t) > 1 for t in sums):
        if level and level % PIPELINE["sum_levels_per_stage"] == 0:
            flat = [(x, w, False) for (_, _, w), t in zip(trees, sums) for x in t]
            regs = m.register(flat + [(n, w, sg) for n, (_, w, sg) in zip(names, carry)])
            for t in sums:
                t[:], regs = regs[:len(t)], regs[len(t):]
            names = regs
        for (tag, _, width), t in zip(trees, sums):
            nxt = [m.wire(f"w_{tag}{level}_{p}", width, f"{t[p]} + {t[p + 1]}") for p in range(0, len(t) - 1, 2)]
            t[:] = nxt + ([t[-1]] if len(t) % 2 else [])
        level += 1
    return [t[0] for t in sums], names


def _assemble(m: _Module, cfg: ExitUnitConfig, top: str, out: list[str], in_width: int,
              valid_in: str = "s_axis_tvalid", ready: str = "adv", control: list[str] | None = None,
              latency: int | None = None, ii: int = 1) -> str:
    """Wrap the pipeline: valid chain advancing with adv, stream ports, tables."""
    conf, cls, ex = out
    n = m.stages
    lines = _header(top, cfg, in_width, n if latency is None else latency, ii)
    lines += _threshold_reg(cfg)
    lines += [f"  reg [{n - 1}:0] valid;",
              f"  wire adv = !valid[{n - 1}] || m_axis_tready;",
              f"  assign s_axis_tready = {ready};",
              "  always @(posedge clk)",
              f"    if (rst) valid <= {n}'d0;",
              f"    else if (adv) valid <= {{valid[{max(n - 2, 0)}:0], {valid_in}}};" if n > 1 else
              f"    else if (adv) valid <= {valid_in};",
              f"  assign m_axis_tvalid = valid[{n - 1}];",
              f"  assign m_axis_tdata = {{{conf}, {cls}, {ex}}};"]
    lines += _tables(cfg)
    lines += m.decl + (control or []) + m.body + ["endmodule", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- public
def write_unit(cfg: ExitUnitConfig, variant: str = "parallel", out_dir: Path = Path("build/exit_unit/rtl")) -> GeneratedUnit:
    """Write the configured unit's Verilog into out_dir and describe it."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown exit-unit variant {variant!r}; use parallel or serial")
    top = unit_name(cfg, variant)
    if variant == "parallel":
        text, latency = _parallel(cfg, top)
        ii, extra = 1, []
    else:
        from hardware.exit_unit.serial import serial_unit
        text, latency, ii, extra = serial_unit(cfg, top)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{top}.v"
    path.write_text(text)
    return GeneratedUnit(cfg=cfg, variant=variant, top=top, files=[path, *extra], latency_cycles=latency, ii=ii)
