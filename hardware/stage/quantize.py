"""QKeras quantiser semantics built from da4ml trace primitives.

da4ml's ``quantize`` offers only truncation (TRN) and round-half-up (RND);
QKeras rounds half to EVEN (``tf.round``) and then saturates. Ties are common
in fixed point (e.g. a 9-fraction-bit accumulator quantised to 4 fraction
bits), so half-up is not bit-exact. Round-half-even is built here from TRN:

    with d dropped bits and kept LSB b,  rne(x) = trn(x + (2**(d-1) - 1 + b) ulp_in)

Below the half the carry never reaches the kept bits, above it always does, and
exactly at the half it does only when b = 1 (odd rounds up to even). In
hardware this is one adder with the kept LSB as carry-in term, then wiring.
Saturation follows rounding, as in QKeras (clip after round).
"""
from __future__ import annotations

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray

from frontend.fixedpoint import FixedFormat


def kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without sign, fraction bits)."""
    signed = int(fmt.signed)
    return signed, fmt.width - fmt.frac - signed, fmt.frac


def round_half_even_sat(v: FixedVariable, fmt: FixedFormat, relu: bool = False,
                        symmetric: bool = False) -> FixedVariable:
    """One traced value quantised like QKeras to ``fmt`` (optionally relu first; ``symmetric``: saturated
    to +-max, as quantized_bits(symmetric=1))."""
    if v.low == v.high:  # constant: fold with the shared numpy semantics
        value = float(v.low)
        if relu:
            value = max(value, 0.0)
        code = int(fmt.quantize(value))
        if symmetric:
            code = max(code, -fmt.max_code)
        return FixedVariable.from_const(code * fmt.lsb, hwconf=v.hwconf)
    if symmetric and fmt.signed:  # saturating to the symmetric range first leaves nothing else to clip
        v = v.max_of(-fmt.max_value)
    if relu and v.low < 0:
        v = v.relu()
        if v.low == v.high:
            return round_half_even_sat(v, fmt)
    k, i, f = kif(fmt)
    f_in = v.kif[2]
    if f_in > f:
        dropped = f_in - f
        kept_lsb = v.quantize(0, 1 - f, f)  # bit of weight 2**-f: 0 or 2**-f
        bias = (2.0 ** (dropped - 1) - 1) * 2.0**-f_in
        v = v + kept_lsb * 2.0**-dropped
        if bias:
            v = v + bias
    return v.quantize(k, i, f, overflow_mode="SAT", round_mode="TRN")


def quantize_array(x: FixedVariableArray, fmt: FixedFormat, relu: bool = False,
                   symmetric: bool = False) -> FixedVariableArray:
    """Element-wise :func:`round_half_even_sat` over a traced array."""
    flat = [round_half_even_sat(v, fmt, relu, symmetric) for v in x._vars.ravel()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return FixedVariableArray(out.reshape(x.shape), x.solver_options)
