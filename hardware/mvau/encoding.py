"""How a weight code is stored in the ROM word, and so how the datapath multiplies by it.

* ``twos``: the code in two's complement (or unsigned), ``width`` bits; the LUT
  datapath sums one bit plane per weight bit.
* ``pow2``: every code is 0 or +-2**k (binary, ternary, power-of-two weights).
  The word holds [nonzero][sign][exponent index] per weight, each field only if
  it varies: a product is x shifted by a multiplexer and negated by XOR (its +1
  collected in a popcount), so a weight with a single set bit needs no adder.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frontend.fixedpoint import FixedFormat


@dataclass(frozen=True)
class WeightEncoding:
    kind: str                         # "twos" or "pow2"
    fmt: FixedFormat                  # covering format of the codes
    exponents: tuple[int, ...] = ()   # pow2: the exponents k that occur, in index order
    has_sign: bool = False            # pow2: a sign field (some code is negative)
    has_zero: bool = False            # pow2: a nonzero field (some code is 0)

    @property
    def exponent_bits(self) -> int:
        return max(0, (len(self.exponents) - 1).bit_length())

    @property
    def width(self) -> int:
        """Bits per weight in a ROM word."""
        if self.kind == "twos":
            return self.fmt.width
        return int(self.has_zero) + int(self.has_sign) + self.exponent_bits

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Integer codes -> the unsigned field values stored in the ROM."""
        codes = np.asarray(codes, dtype=np.int64)
        if self.kind == "twos":
            return codes & ((1 << self.fmt.width) - 1)
        magnitude = np.abs(codes)
        index = np.zeros_like(codes)
        for i, k in enumerate(self.exponents):
            index[magnitude == 1 << k] = i
        value = index
        if self.has_sign:
            value = value | ((codes < 0).astype(np.int64) << self.exponent_bits)
        if self.has_zero:
            value = value | ((codes != 0).astype(np.int64) << (self.exponent_bits + int(self.has_sign)))
        return value


def choose_encoding(codes: np.ndarray, fmt: FixedFormat, multiplier: str) -> WeightEncoding:
    """pow2 for LUT multipliers when every code is 0 or +-2**k (and some field varies), else twos."""
    codes = np.asarray(codes, dtype=np.int64)
    magnitude = np.abs(codes)
    nonzero = magnitude[magnitude != 0]
    if multiplier == "lut" and nonzero.size and np.all(nonzero & (nonzero - 1) == 0):
        exponents = tuple(sorted({int(m).bit_length() - 1 for m in np.unique(nonzero)}))
        pow2 = WeightEncoding("pow2", fmt, exponents, bool(np.any(codes < 0)), bool(np.any(codes == 0)))
        if pow2.width:
            return pow2
    return WeightEncoding("twos", fmt)
