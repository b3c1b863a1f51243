"""Serial exit unit: one logit per beat (class 0 first), II = C beats.

Same arithmetic and same decisions as the parallel unit (the reference model
does not depend on the variant). ``margin`` keeps a running top-2. ``max_prob``
and ``entropy`` need z_max before any exp term, so they make two passes: pass 1
finds the max while writing the logits into one bank of ``eu_logit_buffer``
(LUTRAM), pass 2 reads them back over C cycles and accumulates S (and A) while
pass 1 of the next sample fills the other bank. The last beat of a sample
waits until pass 2 is free. Latency is counted from the last beat's handshake.
"""
from __future__ import annotations

from pathlib import Path

from hardware.exit_unit.generate import RTL_DIR, _assemble, _bits, _lut_index_expr, _Module, _tail, _zext
from exit_unit.reference import ExitUnitConfig

BUFFER = RTL_DIR / "eu_logit_buffer.v"


def _unused(line: str, reason: str) -> list[str]:
    """A declaration some of whose bits are read nowhere, by design (no reason: all bits are read)."""
    if not reason:
        return [line]
    return [f"  // {reason}", "  // verilator lint_off UNUSEDSIGNAL", line, "  // verilator lint_on UNUSEDSIGNAL"]


def serial_unit(cfg: ExitUnitConfig, top: str) -> tuple[str, int, int, list[Path]]:
    """Verilog text, latency, II and the hand-written sources it instantiates."""
    C, W, cb = cfg.classes, cfg.logit.width, cfg.class_bits
    sg = "signed " if cfg.logit.signed else ""
    pb = _bits(C - 1)
    m = _Module()
    ctl = [
        f"  wire {sg}[{W - 1}:0] x = s_axis_tdata;",
        f"  reg [{pb - 1}:0] pos;",
        f"  reg {sg}[{W - 1}:0] rm;",
        f"  reg [{cb - 1}:0] ridx;",
        "  wire in_fire = s_axis_tvalid && s_axis_tready;",
        f"  wire last_beat = (pos == {pb}'d{C - 1});",
        f"  wire first_beat = (pos == {pb}'d0);",
        "  wire take = first_beat || (x > rm);  // strictly greater: lowest index wins ties",
        f"  wire {sg}[{W - 1}:0] fm = take ? x : rm;",
        f"  wire [{cb - 1}:0] fidx = take ? pos : ridx;",
    ]
    if cfg.policy == "margin":
        minc = cfg.logit.min_code % (1 << W)
        ctl += [
            f"  reg {sg}[{W - 1}:0] rm2;",
            f"  wire {sg}[{W - 1}:0] fm2 = first_beat ? {W}'d{minc} : (x > rm) ? rm : (x > rm2) ? x : rm2;",
            "  always @(posedge clk)",
            "    if (rst) pos <= 0;",
            f"    else if (in_fire) begin pos <= last_beat ? {pb}'d0 : pos + 1'b1; rm <= fm; rm2 <= fm2; ridx <= fidx; end",
        ]
        conf = m.wire("w_margin", W, "fm - fm2")
        out = m.register([(conf, W, False), ("fidx", cb, False), (m.wire("w_exit", 1, f"({conf} >= thr_q)"), 1, False)])
        text = _assemble(m, cfg, top, out, W, valid_in="in_fire && last_beat", ready="!last_beat || adv",
                         control=ctl, latency=m.stages, ii=C)
        return text, m.stages, C, []

    aw = _bits(2 * C - 1)
    sb = cfg.sum_bits
    entropy = cfg.policy == "entropy"
    ab = cfg.xsum_bits
    ctl += [
        "  reg bank;",
        "  reg p2_busy, p2_bank;",
        f"  reg [{pb - 1}:0] p2_cnt;",
        f"  reg {sg}[{W - 1}:0] p2_max;",
        f"  reg [{cb - 1}:0] p2_idx;",
        f"  reg [{sb - 1}:0] acc_s;",
        f"  wire [{W - 1}:0] rz;",
        f"  wire [{aw - 1}:0] waddr = bank ? {aw}'d{C} + pos : {{{aw - pb}'d0, pos}};" if aw > pb else
        f"  wire [{aw - 1}:0] waddr = bank ? {aw}'d{C} + pos : pos;",
        f"  wire [{aw - 1}:0] raddr = p2_bank ? {aw}'d{C} + p2_cnt : {{{aw - pb}'d0, p2_cnt}};" if aw > pb else
        f"  wire [{aw - 1}:0] raddr = p2_bank ? {aw}'d{C} + p2_cnt : p2_cnt;",
        f"  eu_logit_buffer #(.WIDTH({W}), .DEPTH({2 * C}), .AW({aw})) buffer (",
        "    .clk(clk), .we(in_fire), .waddr(waddr), .wdata(s_axis_tdata), .raddr(raddr), .rdata(rz));",
        *_unused(f"  wire [{W - 1}:0] d = p2_max - rz;",
                 f"the LUT index drops d's low {cfg.shift} bits (finer than one LUT step)" if cfg.shift else ""),
        f"  wire [{cfg.index_bits - 1}:0] lidx = {_lut_index_expr(cfg, 'd')};",
        f"  wire [{sb - 1}:0] s_next = acc_s + {_zext('exp_lut(lidx)', _bits(cfg.exp_table.max()), sb)};",
        f"  wire p2_last = p2_busy && (p2_cnt == {pb}'d{C - 1});",
        "  wire handoff = p2_last && adv;",
        "  wire p2_step = p2_busy && (!p2_last || adv);",
    ]
    if entropy:
        ctl += [f"  reg [{ab - 1}:0] acc_a;",
                f"  wire [{ab - 1}:0] a_next = acc_a + {_zext('xexp_lut(lidx)', _bits(cfg.xexp_table.max()), ab)};"]
    start_a = " acc_a <= 0;" if entropy else ""
    step_a = " acc_a <= a_next;" if entropy else ""
    ctl += [
        "  always @(posedge clk)",
        "    if (rst) begin pos <= 0; bank <= 1'b0; end",
        f"    else if (in_fire) begin pos <= last_beat ? {pb}'d0 : pos + 1'b1; rm <= fm; ridx <= fidx;"
        " if (last_beat) bank <= !bank; end",
        "  always @(posedge clk)",
        "    if (rst) p2_busy <= 1'b0;",
        "    else if (in_fire && last_beat) begin",
        f"      p2_busy <= 1'b1; p2_cnt <= 0; p2_bank <= bank; p2_max <= fm; p2_idx <= fidx; acc_s <= 0;{start_a}",
        f"    end else if (p2_step) begin p2_cnt <= p2_cnt + 1'b1; acc_s <= s_next;{step_a}"
        " if (p2_last) p2_busy <= 1'b0; end",
    ]
    out = _tail(m, cfg, "s_next", "a_next" if entropy else None, "p2_idx", register_sums=True)
    latency = C + m.stages
    text = _assemble(m, cfg, top, out, W, valid_in="handoff", ready="!last_beat || !p2_busy || handoff",
                     control=ctl, latency=latency, ii=C)
    return text, latency, C, [BUFFER]
