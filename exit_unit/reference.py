"""Bit-exact reference model of the hardware exit-decision unit.

The RTL (``exit_unit/generate.py``) and the frontend's calibration both use
this module: the lookup tables below are the ones written into the Verilog,
and ``decide`` is the decision the hardware makes, in integer arithmetic.

Arithmetic, per sample of C logit codes z (format ``cfg.logit``):

* top-1: z_max and its class (lowest index among equal maxima, as numpy argmax);
* d_i = z_max - z_i >= 0, then a LUT index ``min(d_i >> shift, 2**K - 1)``
  (``shift`` makes one index step 2**-lut_step_frac logit units);
* ``margin``:   confidence = z_max - (second largest z), exit when >= threshold;
* ``max_prob``: confidence = S = sum_i EXP[idx_i] (EXP = exp(-x) with
  ``lut_frac_bits`` fraction bits, EXP[0] = 1 exactly), i.e. 1/p_top.
  Exit when S <= threshold, the register holding 1/p_threshold: no division;
* ``entropy``:  H = ln S + A/S with A = sum_i XEXP[idx_i] (x exp(-x) / ln C).
  S is normalised to 1.m * 2**k (leading one); LN[m], RECIP[m] tables and a
  k*ln2/ln C constant give h = LN[m] + KLN[k] + (A * RECIP[m]) >> (k + ...),
  the entropy normalised to [0, 1]. Exit when h <= threshold.

``cfg.higher_is_confident`` tells the direction: True for margin (exit when
confidence >= threshold code, so a higher code lets fewer samples exit),
False for max_prob and entropy (exit when confidence <= threshold code, a
higher code lets more samples exit). ``threshold_code`` hides this for human
thresholds.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from frontend.fixedpoint import FixedFormat

POLICIES = ("max_prob", "entropy", "margin")
MAX_CLASSES = 1024
MAX_LOGIT_WIDTH = 32


@dataclass(frozen=True)
class ExitUnitConfig:
    """One exit unit: class count, logit format, policy and LUT sizing."""

    classes: int
    logit: FixedFormat
    policy: str
    lut_step_frac: int = 5    # LUT index step = 2**-lut_step_frac logit units (or the logit LSB if coarser)
    lut_index_bits: int = 8   # K: EXP/XEXP tables have up to 2**K entries
    lut_frac_bits: int = 9    # fraction bits of EXP/XEXP entries (and of S, A)
    norm_bits: int = 6        # entropy: mantissa bits indexing LN/RECIP
    recip_bits: int = 10      # entropy: fraction bits of RECIP entries
    conf_frac_bits: int = 10  # entropy: fraction bits of the normalised entropy

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown exit policy {self.policy!r}; use one of {', '.join(POLICIES)}")
        if not isinstance(self.classes, (int, np.integer)) or not 2 <= self.classes <= MAX_CLASSES:
            raise ValueError(f"an exit unit needs 2..{MAX_CLASSES} classes, got {self.classes!r}")
        if not isinstance(self.logit, FixedFormat):
            raise ValueError("logit must be a frontend.fixedpoint.FixedFormat (e.g. qkeras_format(quantizer))")
        if not 2 <= self.logit.width <= MAX_LOGIT_WIDTH:
            raise ValueError(f"logit width {self.logit.width} is outside 2..{MAX_LOGIT_WIDTH} bits the unit supports")
        for name, lo, hi in (("lut_index_bits", 1, 12), ("lut_frac_bits", 2, 16), ("norm_bits", 2, 10),
                             ("recip_bits", 4, 16), ("conf_frac_bits", 4, 16), ("lut_step_frac", -8, 16)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value} is outside {lo}..{hi}")
        if self.product_shift < 0:
            raise ValueError(f"conf_frac_bits={self.conf_frac_bits} exceeds lut_frac_bits + recip_bits")
        if self.norm_bits > self.lut_frac_bits:
            raise ValueError(f"norm_bits={self.norm_bits} must not exceed lut_frac_bits={self.lut_frac_bits}")
        if self.policy != "margin" and self.clamps:
            # d is clamped to the last LUT entry: that entry must already be ~0.
            tail = math.exp(-self.step * (1 << self.index_bits)) * (1 << self.lut_frac_bits)
            if tail >= 0.5:
                raise ValueError(
                    f"the exp LUT ({1 << self.index_bits} steps of {self.step:g}) cannot cover "
                    f"logit format {self.logit}: raise lut_index_bits or lower lut_step_frac")

    # ---- LUT geometry -------------------------------------------------
    @property
    def diff_bits(self) -> int:
        """Bits of d = z_max - z_i (unsigned, < 2**width)."""
        return self.logit.width

    @property
    def shift(self) -> int:
        """Right shift from d (logit codes) to the LUT index."""
        return max(0, self.logit.frac - self.lut_step_frac)

    @property
    def index_bits(self) -> int:
        return max(1, min(self.lut_index_bits, self.diff_bits - self.shift))

    @property
    def step(self) -> float:
        """LUT index step in logit units."""
        return 2.0 ** (self.shift - self.logit.frac)

    @property
    def class_bits(self) -> int:
        return max(1, (self.classes - 1).bit_length())

    def bin_centres(self) -> np.ndarray:
        """Logit distance each LUT entry stands for (0 exactly for entry 0)."""
        j = np.arange(1 << self.index_bits, dtype=np.float64)
        centres = (j * 2**self.shift + (2**self.shift - 1) / 2.0) * self.logit.lsb
        centres[0] = 0.0
        return centres

    @cached_property
    def exp_table(self) -> np.ndarray:
        """EXP[j] = exp(-x_j) * 2**lut_frac_bits, EXP[0] = 2**lut_frac_bits."""
        values = np.rint(np.exp(-self.bin_centres()) * 2**self.lut_frac_bits).astype(np.int64)
        values[0] = 1 << self.lut_frac_bits
        return values

    @cached_property
    def xexp_table(self) -> np.ndarray:
        """XEXP[j] = x_j exp(-x_j) / ln C * 2**lut_frac_bits (entropy)."""
        x = self.bin_centres()
        values = np.rint(x * np.exp(-x) / math.log(self.classes) * 2**self.lut_frac_bits).astype(np.int64)
        if self.clamps:
            values[-1] = 0  # the clamped entry stands for every d beyond the table: contributes ~0
        return values

    @property
    def clamps(self) -> bool:
        """True when large distances are clamped onto the last LUT entry."""
        return self.index_bits < self.diff_bits - self.shift

    @property
    def sum_bits(self) -> int:
        """Width of S = sum of EXP entries (value in [1, C])."""
        return int(self.classes * (1 << self.lut_frac_bits)).bit_length()

    @property
    def xsum_bits(self) -> int:
        return max(1, int(self.classes * int(self.xexp_table.max())).bit_length())

    def _mantissa_centres(self) -> np.ndarray:
        m = np.arange(1 << self.norm_bits, dtype=np.float64)
        centres = 1.0 + (m + 0.5) / 2**self.norm_bits
        centres[0] = 1.0  # S = 1.0 exactly (one dominant class) must give entropy 0
        return centres

    @cached_property
    def ln_table(self) -> np.ndarray:
        """LN[m] = ln(1.m) / ln C with conf_frac_bits fraction bits."""
        v = np.log(self._mantissa_centres()) / math.log(self.classes)
        return np.rint(v * 2**self.conf_frac_bits).astype(np.int64)

    @cached_property
    def recip_table(self) -> np.ndarray:
        """RECIP[m] = 1 / 1.m with recip_bits fraction bits (< 1)."""
        return np.rint(2**self.recip_bits / self._mantissa_centres()).astype(np.int64)

    @cached_property
    def kln_table(self) -> np.ndarray:
        """KLN[k] = k ln2 / ln C for the exponent k of S = 1.m * 2**k."""
        k = np.arange(self.exponent_count, dtype=np.float64)
        return np.rint(k * math.log(2) / math.log(self.classes) * 2**self.conf_frac_bits).astype(np.int64)

    @property
    def exponent_count(self) -> int:
        """Values k of S's leading-one position above 1.0."""
        return self.sum_bits - self.lut_frac_bits

    @property
    def product_shift(self) -> int:
        """(A * RECIP) >> (product_shift + k) gives A/S with conf_frac_bits."""
        return self.lut_frac_bits + self.recip_bits - self.conf_frac_bits

    # ---- confidence and threshold -------------------------------------
    @property
    def higher_is_confident(self) -> bool:
        return self.policy == "margin"

    @property
    def confidence_format(self) -> FixedFormat:
        """Format of the confidence output and of the threshold register."""
        if self.policy == "margin":
            return FixedFormat(self.logit.width, self.logit.frac, signed=False)
        if self.policy == "max_prob":
            return FixedFormat(self.sum_bits, self.lut_frac_bits, signed=False)
        a_max = self.classes * int(self.xexp_table.max())
        top = int(self.ln_table.max() + self.kln_table.max())
        top += (a_max * int(self.recip_table.max())) >> self.product_shift
        return FixedFormat(max(1, top.bit_length()), self.conf_frac_bits, signed=False)

    @property
    def never_exit_code(self) -> int:
        """The threshold code that lets the fewest samples out: the reset value of a unit nobody configured.

        It is the end of the register's range that the comparison (``exits``) can only just reach: the
        highest code when a higher confidence exits (margin), the lowest otherwise. For max_prob no
        sample exits at all (S >= 1.0 > 0); for margin only a full-scale margin (top logit at its
        maximum code, the second at its minimum) and for entropy only an entropy of exactly 0 (every
        other class beyond the exp table) would still exit.
        """
        fmt = self.confidence_format
        return fmt.max_code if self.higher_is_confident else fmt.min_code

    def exits(self, confidence_codes: np.ndarray, threshold_code: int) -> np.ndarray:
        """The comparison the RTL makes (monotone in threshold_code, see higher_is_confident)."""
        conf = np.asarray(confidence_codes, dtype=np.int64)
        if self.higher_is_confident:
            return conf >= int(threshold_code)
        return conf <= int(threshold_code)

    def threshold_code(self, threshold: float) -> int:
        """Human threshold -> register code.

        margin: logit units >= 0; max_prob: top-1 probability in [0, 1];
        entropy: normalised entropy in [0, 1] (1 means always exit).
        """
        fmt = self.confidence_format
        t = float(threshold)
        if self.policy == "margin":
            if not 0.0 <= t <= fmt.max_value:
                raise ValueError(f"margin threshold {t} is outside 0..{fmt.max_value} logit units")
            return int(math.ceil(t * 2**fmt.frac))
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"{self.policy} threshold {t} is outside 0..1")
        if self.policy == "max_prob":
            if t == 0.0:
                return fmt.max_code
            return int(min(fmt.max_code, math.floor(2**fmt.frac / t)))
        if t == 1.0:
            return fmt.max_code
        return int(math.floor(t * 2**fmt.frac))

    def threshold_value(self, code: int) -> float | None:
        """Register code -> human threshold (inverse of threshold_code, for reports).

        None for max_prob code 0: the unit exits when S = 1/p_top <= code, and S >= 1 always, so
        that code lets no sample out and no probability corresponds to it (1/0). Reports write
        null there beside the code itself, never an infinity (not valid JSON).
        """
        code = int(code)
        fmt = self.confidence_format
        if not fmt.min_code <= code <= fmt.max_code:
            raise ValueError(f"threshold code {code} is outside 0..{fmt.max_code} of {fmt}")
        if self.policy == "max_prob":
            return None if code == 0 else 2**fmt.frac / code
        return code * fmt.lsb

    def confidence_value(self, codes: np.ndarray) -> np.ndarray:
        """Confidence codes in human units (margin, top-1 probability, normalised entropy)."""
        codes = np.asarray(codes, dtype=np.float64)
        if self.policy == "max_prob":
            return 2.0**self.lut_frac_bits / codes
        return codes * self.confidence_format.lsb

    @property
    def name(self) -> str:
        return f"exit_unit_{self.classes}c_{self.logit.width}b_{self.policy.replace('_', '')}"


def logit_format(precision) -> FixedFormat:
    """The exit's logit format from a FixedFormat, a QKeras quantiser, or an
    hls4ml/ap type string such as ``fixed<16,7>`` / ``ap_fixed<16,7,AP_RND_CONV,AP_SAT>``."""
    if isinstance(precision, FixedFormat):
        return precision
    if isinstance(precision, str):
        m = re.fullmatch(r"\s*(?:ap_)?(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,[^>]*)?>\s*", precision)
        if not m:
            raise ValueError(f"cannot read logit precision {precision!r}; expected e.g. fixed<16,7>")
        width, integer = int(m.group(2)), int(m.group(3))
        return FixedFormat(width, width - integer, signed=not m.group(1))
    from frontend.fixedpoint import qkeras_format

    return qkeras_format(precision)


def config_for_exit(classes: int, precision, policy: str, **lut_options) -> ExitUnitConfig:
    """ExitUnitConfig for an exit whose logits have this precision (see logit_format)."""
    return ExitUnitConfig(classes=classes, logit=logit_format(precision), policy=policy, **lut_options)


@dataclass
class Decision:
    exit: np.ndarray        # bool (N,)
    cls: np.ndarray         # int64 (N,) predicted class
    confidence: np.ndarray  # int64 (N,) codes of cfg.confidence_format


def _check_codes(cfg: ExitUnitConfig, logit_codes) -> np.ndarray:
    z = np.asarray(logit_codes)
    if z.ndim != 2 or z.shape[1] != cfg.classes:
        raise ValueError(f"logit codes must have shape (N, {cfg.classes}), got {z.shape}")
    if not np.issubdtype(z.dtype, np.integer):
        raise ValueError("logit codes must be integers; convert with cfg.logit.to_codes or .quantize")
    z = z.astype(np.int64)
    if z.size and (z.min() < cfg.logit.min_code or z.max() > cfg.logit.max_code):
        raise ValueError(f"logit codes outside {cfg.logit} ({cfg.logit.min_code}..{cfg.logit.max_code})")
    return z


def lut_index(cfg: ExitUnitConfig, z: np.ndarray) -> np.ndarray:
    """Per-class LUT indices min((z_max - z_i) >> shift, 2**K - 1)."""
    d = z.max(axis=1, keepdims=True) - z
    return np.minimum(d >> cfg.shift, (1 << cfg.index_bits) - 1)


def leading_one(s: np.ndarray) -> np.ndarray:
    """Bit position of the leading one of positive integers."""
    s = np.asarray(s, dtype=np.int64)
    pos = np.zeros(s.shape, dtype=np.int64)
    for b in range(63):
        pos = np.where(s >> b > 0, b, pos)
    return pos


def confidence(cfg: ExitUnitConfig, logit_codes) -> np.ndarray:
    """Confidence codes the unit computes (without the threshold)."""
    z = _check_codes(cfg, logit_codes)
    if cfg.policy == "margin":
        top2 = np.sort(z, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    idx = lut_index(cfg, z)
    s = cfg.exp_table[idx].sum(axis=1)
    if cfg.policy == "max_prob":
        return s
    a = cfg.xexp_table[idx].sum(axis=1)
    k = leading_one(s) - cfg.lut_frac_bits
    p = leading_one(s)
    m = (s >> (p - cfg.norm_bits)) & ((1 << cfg.norm_bits) - 1)
    t = (a * cfg.recip_table[m]) >> (cfg.product_shift + k)
    return cfg.ln_table[m] + cfg.kln_table[k] + t


def decide(cfg: ExitUnitConfig, logit_codes: np.ndarray, threshold_code: int) -> Decision:
    """What the hardware outputs for each row of (N, C) logit codes."""
    z = _check_codes(cfg, logit_codes)
    fmt = cfg.confidence_format
    if not fmt.min_code <= int(threshold_code) <= fmt.max_code:
        raise ValueError(f"threshold code {threshold_code} is outside 0..{fmt.max_code} of {fmt}")
    conf = confidence(cfg, z)
    return Decision(exit=cfg.exits(conf, threshold_code), cls=np.argmax(z, axis=1).astype(np.int64),
                    confidence=conf.astype(np.int64))
