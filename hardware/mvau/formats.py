"""Exact number formats of a matrix-vector unit: weight/bias codes and the accumulator.

Weights and biases arrive as real values on some fixed-point grid (what a QKeras
``quantized_bits`` kernel holds). ``covering_format`` finds the narrowest
FixedFormat holding every value exactly, so the ROM stores no bit more than the
actual codes need. ``accumulator_range`` bounds every partial sum the unit can
form, computed from the actual weight and bias codes and the input range: the
accumulator never overflows, whatever the order of the additions.
"""
from __future__ import annotations

import numpy as np

from frontend.fixedpoint import FixedFormat

MAX_CODE_BITS = 32   # widest weight or bias code a ROM word holds
MAX_FRAC_BITS = 48   # finest grid searched for (finer values are not fixed point in practice)


class MVAUConfigError(ValueError):
    """Bad input to the MVAU generator; the message names the problem and the fix."""


def bits_for_range(lo: int, hi: int) -> tuple[int, bool]:
    """(width, signed) of the narrowest code holding every integer in [lo, hi]."""
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        return max(hi.bit_length(), 1), False
    return signed_width(lo, hi), True


def signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's complement code holding every integer in [lo, hi]."""
    return max((-min(int(lo), 0) - 1).bit_length() if lo < 0 else 0, max(int(hi), 0).bit_length()) + 1


def covering_format(values: np.ndarray, what: str) -> FixedFormat:
    """Narrowest FixedFormat on whose grid every value lies exactly; MVAUConfigError if none is narrow enough."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise MVAUConfigError(f"{what} holds non-finite values; pass quantised real values")
    if not np.any(v):
        return FixedFormat(width=1, frac=0, signed=False)
    for frac in range(-MAX_CODE_BITS, MAX_FRAC_BITS + 1):  # integrality only improves with more fraction bits
        scaled = v * 2.0**frac
        if np.array_equal(np.rint(scaled), scaled):
            break
    else:
        bad = np.unravel_index(int(np.argmax(np.rint(v * 2.0**MAX_FRAC_BITS) != v * 2.0**MAX_FRAC_BITS)), v.shape)
        raise MVAUConfigError(f"{what} value {v[bad]!r} at index {tuple(int(i) for i in bad)} is not on a "
                              f"fixed-point grid; quantise it first (e.g. QKeras quantized_bits(..., alpha=1))")
    codes = np.rint(v * 2.0**frac)
    width, signed = bits_for_range(int(codes.min()), int(codes.max()))
    if width > MAX_CODE_BITS:
        raise MVAUConfigError(f"{what} needs {width}-bit codes on its 2^-{frac} grid, more than {MAX_CODE_BITS}; "
                              f"quantise it to fewer bits (e.g. QKeras quantized_bits(8, ...))")
    return FixedFormat(width=width, frac=frac, signed=signed)


def accumulator_range(w_codes: np.ndarray, product_shift: int, x_fmt: FixedFormat,
                      b_codes: np.ndarray | None, bias_shift: int) -> tuple[int, int]:
    """Range [lo, hi] of every value an output's accumulator takes, in accumulator codes.

    Output o starts at its bias and adds products w[i, o] * x[i] in any order;
    each product lies in [min(w*xmin, w*xmax), max(...)], which contains 0
    (x may be 0), so every partial sum lies in bias + [sum of minima, sum of
    maxima]. Never wider than hls_templates/precision.py's symmetric bound
    |b| + sum|w| * max|x|.
    """
    w = np.asarray(w_codes).astype(object)
    ends = np.stack([w * x_fmt.min_code, w * x_fmt.max_code])
    lo = ends.min(axis=0).sum(axis=0) * (1 << product_shift)   # (OUT,)
    hi = ends.max(axis=0).sum(axis=0) * (1 << product_shift)
    if b_codes is not None:
        b = np.asarray(b_codes).astype(object) * (1 << bias_shift)
        lo, hi = lo + b, hi + b
    return int(min(lo)), int(max(hi))
