"""The output quantiser of an MVAU lane as generated Verilog: relu, round half to even, saturate.

Same semantics as frontend/fixedpoint.FixedFormat.quantize on the real value
(QKeras): relu clamps negatives first, rounding is half to even, saturation
follows rounding. Round half to even with d dropped bits and kept LSB b is

    rne(a) = (a + 2**(d-1) - 1 + b) >> d

(the derivation is in hardware/stage/quantize.py): one adder, then wiring.
Comparisons are emitted only where the accumulator's range can leave the
output range, so an output format that holds every value costs no logic.
"""
from __future__ import annotations

from frontend.fixedpoint import FixedFormat, round_codes


def _const(value: int, width: int) -> str:
    return f"{width}'h{value & ((1 << width) - 1):x}"


def quantizer_module(name: str, acc: FixedFormat, acc_range: tuple[int, int], out: FixedFormat, relu: bool,
                     exact: bool, symmetric: bool = False) -> str:
    """Verilog of combinational module ``name`` (acc -> q); ``symmetric``: the low bound is -max_code
    (quantized_bits symmetric=1), not min_code."""
    a_w, o_w = acc.width, out.width
    header = f"module {name} (\n    input [{a_w - 1}:0] acc,\n    output [{o_w - 1}:0] q\n);"
    if exact:
        return f"// Exact accumulator out: no quantiser.\n{header}\n    assign q = acc;\nendmodule\n"
    lo, hi = acc_range
    lines = []
    if relu and lo < 0:
        lines.append(f"    wire [{a_w - 1}:0] r = acc[{a_w - 1}] ? {a_w}'d0 : acc;  // relu")
        lo, hi = 0, max(hi, 0)
    else:
        lines.append(f"    wire [{a_w - 1}:0] r = acc;")
        if relu:
            lo, hi = max(lo, 0), max(hi, 0)
    dropped = acc.frac - out.frac
    lines.append("    // verilator lint_off UNUSEDSIGNAL")
    lines.append("    // (bits above a value's range are copies of its sign)")
    if dropped > 0:
        ext_w = max(a_w, dropped + 1) + 1
        ext = f"{{{{{ext_w - a_w}{{r[{a_w - 1}]}}}}, r}}"
        half = (1 << (dropped - 1)) - 1
        lines.append(f"    wire [{ext_w - 1}:0] ext = {ext};")
        lines.append(f"    wire [{ext_w - 1}:0] rounded = ext + {_const(half, ext_w)} + "
                     f"{{{ext_w - 1}'d0, ext[{dropped}]}};  // round half to even")
        v_w = ext_w - dropped
        lines.append(f"    wire [{v_w - 1}:0] v = rounded[{ext_w - 1}:{dropped}];")
        v_lo, v_hi = (int(round_codes(b / 2.0**dropped)) for b in (lo, hi))
    else:
        v_w = a_w - dropped
        lines.append(f"    wire [{v_w - 1}:0] v = {{r, {-dropped}'d0}};" if dropped else f"    wire [{v_w - 1}:0] v = r;")
        v_lo, v_hi = lo << -dropped, hi << -dropped
    lines.append("    // verilator lint_on UNUSEDSIGNAL")
    if v_w < o_w:  # never saturates: the output format is wider than any value
        value = f"{{{{{o_w - v_w}{{v[{v_w - 1}]}}}}, v}}"
    else:
        value = f"v[{o_w - 1}:0]"
    low = -out.max_code if symmetric and out.signed else out.min_code
    over, under = v_hi > out.max_code, v_lo < low
    if over:
        lines.append(f"    wire over = $signed(v) > $signed({_const(out.max_code, v_w)});")
        value = f"over ? {_const(out.max_code, o_w)} : {value}"
    if under:
        lines.append(f"    wire under = $signed(v) < $signed({_const(low, v_w)});")
        value = f"under ? {_const(low, o_w)} : {value}"
    lines.append(f"    assign q = {value};")
    return (f"// Output quantiser: {'relu, ' if relu else ''}round half to even {acc} -> {out}, saturate"
            f"{' to +-max' if symmetric else ''}.\n"
            f"{header}\n" + "\n".join(lines) + "\nendmodule\n")
