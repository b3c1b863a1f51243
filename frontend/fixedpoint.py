"""Fixed-point semantics of the whole flow, in one place.

QKeras quantisers, the exit unit's reference model, calibration, the stage
RTL tracer and the tests all import from here; nothing re-implements rounding
or saturation locally.

A value is carried as an integer *code*; its real value is code * 2**-frac.
QKeras rounds half to even (``tf.round``) and saturates, which hls4ml maps to
``AP_RND_CONV``/``AP_SAT``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FixedFormat:
    """A two's complement (or unsigned) fixed-point format.

    width: total bits including the sign bit; frac: bits right of the binary
    point (may be negative or exceed width); signed: two's complement or not.
    """

    width: int
    frac: int
    signed: bool = True

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"fixed-point width must be >= 1, got {self.width}")

    @property
    def integer(self) -> int:
        """Integer bits including the sign bit (ap_fixed's I)."""
        return self.width - self.frac

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def min_value(self) -> float:
        return self.min_code * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_code * self.lsb

    def hls_type(self, rounding: str = "AP_RND_CONV", saturation: str = "AP_SAT") -> str:
        """The matching ap_fixed/ap_ufixed type string for hls4ml."""
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width},{self.integer},{rounding},{saturation}>"

    def quantize(self, x, rounding: str = "half_even", saturate: bool = True) -> np.ndarray:
        """Real values -> integer codes, rounding and saturating like QKeras."""
        scaled = np.asarray(x, dtype=np.float64) * 2.0**self.frac
        codes = round_codes(scaled, rounding)
        if saturate:
            codes = np.clip(codes, self.min_code, self.max_code)
        else:
            codes = wrap_codes(codes, self.width, self.signed)
        return codes.astype(np.int64)

    def to_codes(self, x) -> np.ndarray:
        """Exact conversion of values already on this grid; raises otherwise."""
        scaled = np.asarray(x, dtype=np.float64) * 2.0**self.frac
        codes = np.rint(scaled)
        if not np.array_equal(codes, scaled):
            raise ValueError(f"values are not on the {self} grid")
        if codes.size and (codes.min() < self.min_code or codes.max() > self.max_code):
            raise ValueError(f"values outside the range of {self}")
        return codes.astype(np.int64)

    def to_real(self, codes) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}fixed<{self.width},{self.integer}>"


def round_codes(scaled, rounding: str = "half_even") -> np.ndarray:
    """Round scaled values to integers.

    half_even: numpy/TensorFlow rounding (QKeras, ap_fixed AP_RND_CONV);
    half_up: ap_fixed AP_RND (da4ml's RND); truncate: floor (AP_TRN).
    """
    scaled = np.asarray(scaled, dtype=np.float64)
    if rounding == "half_even":
        return np.rint(scaled)
    if rounding == "half_up":
        return np.floor(scaled + 0.5)
    if rounding == "truncate":
        return np.floor(scaled)
    raise ValueError(f"unknown rounding mode {rounding!r}; use half_even, half_up or truncate")


def wrap_codes(codes, width: int, signed: bool) -> np.ndarray:
    """Two's complement wrap-around (AP_WRAP)."""
    codes = np.asarray(codes).astype(np.int64)
    modulus = 1 << width
    wrapped = np.mod(codes, modulus)
    if signed:
        wrapped = np.where(wrapped >= modulus // 2, wrapped - modulus, wrapped)
    return wrapped


def qkeras_format(quantizer) -> FixedFormat:
    """The FixedFormat (grid and range) a QKeras ``quantized_bits``/``quantized_relu`` produces.

    Only fixed scales (alpha None or 1) are one format; a learned scale ('auto', 'auto_po2', a float) is
    rejected here (weights quantised with 'auto_po2' are read by their values, frontend/quantisers.py).
    ``symmetric=1`` keeps the format and leaves its most negative code unused.
    """
    name = type(quantizer).__name__
    bits = int(quantizer.bits)
    integer = int(np.asarray(quantizer.integer))
    if name == "quantized_bits":
        alpha = getattr(quantizer, "alpha", None)
        if alpha not in (None, 1, 1.0):
            fix = "use alpha='auto_po2' (weights) or alpha=1" if alpha == "auto" else "use alpha=1"
            raise ValueError(f"quantized_bits with alpha={alpha!r} is not one fixed-point format; {fix}")
        keep_negative = bool(quantizer.keep_negative)
        frac = bits - int(keep_negative) - integer
        return FixedFormat(width=bits, frac=frac, signed=keep_negative)
    if name == "quantized_relu":
        if getattr(quantizer, "negative_slope", 0.0) != 0.0 or getattr(quantizer, "use_sigmoid", 0):
            raise ValueError("quantized_relu with negative_slope or use_sigmoid is not supported")
        return FixedFormat(width=bits, frac=bits - integer, signed=False)
    raise ValueError(f"unsupported quantiser {name}; use quantized_bits or quantized_relu")
