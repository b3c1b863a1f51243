"""Which QKeras quantisers are exact in fixed point, and the reason for each one that is not.

Weights are quantised once: the stage IR keeps the values the layer's quantiser produces (what QKeras
multiplies by), so a weight quantiser is exact whenever those values lie on a dyadic grid. That holds for

* ``quantized_bits`` with alpha None, 1, a power of two or ``'auto_po2'`` (a power-of-two scale per
  output channel, i.e. a per-channel shift), symmetric or not;
* ``binary`` and ``ternary`` with alpha None, a power of two or ``'auto_po2'``;
* ``quantized_po2`` (signed powers of two).

``alpha='auto'`` scales by a float learned from the weights: rejected, pointing at ``'auto_po2'``.

Activations quantise every sample the same way only with a fixed grid: ``quantized_bits`` (alpha None
or 1; ``symmetric=1`` saturates to +-max, the most negative code unused) and ``quantized_relu``.
``alpha='auto'``/``'auto_po2'`` on an activation computes its scale from each batch's statistics, so the
same value maps to different codes in different batches; binary, ternary and po2 activations are not
built by the cores. Each is rejected with that reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fixedpoint import FixedFormat, qkeras_format

WEIGHT_QUANTISERS = ("quantized_bits", "binary", "ternary", "quantized_po2")
ACTIVATION_QUANTISERS = ("quantized_bits", "quantized_relu")


def kind_of(quantizer) -> str:
    return getattr(quantizer, "__name__", None) or type(quantizer).__name__


def _power_of_two(value) -> bool:
    v = np.abs(np.asarray(value, dtype=np.float64)).ravel()
    return v.size > 0 and bool(np.all(v > 0)) and all(math.frexp(float(x))[0] == 0.5 for x in v)


def _alpha_problem(kind: str, alpha, role: str) -> str | None:
    if alpha is None or (not isinstance(alpha, str) and _power_of_two(alpha)):
        return None
    if alpha == "auto_po2" and role == "weight":
        return None
    if isinstance(alpha, str) and role == "activation":
        return (f"{kind} with alpha={alpha!r} on an activation scales by statistics of each batch, so the same "
                "value gets different codes in different batches; use alpha=1")
    return (f"{kind} with alpha={alpha!r} scales by a float, which no fixed-point core reproduces; use "
            "alpha='auto_po2' (a power-of-two scale per channel) or alpha=1")


def weight_quantiser_problem(quantizer) -> str | None:
    """Why a weight quantiser is not exact in fixed point (None: it is; its values decide the grid)."""
    kind = kind_of(quantizer)
    if kind not in WEIGHT_QUANTISERS:
        return (f"weight quantiser {kind!r} is not supported; use quantized_bits(..., alpha=1 or 'auto_po2'), "
                "binary, ternary or quantized_po2")
    if getattr(quantizer, "use_stochastic_rounding", False):
        return "stochastic rounding cannot be reproduced in hardware; turn it off"
    if float(getattr(quantizer, "qnoise_factor", 1.0)) != 1.0:
        return "a quantiser with qnoise_factor != 1 mixes in unquantised values; use qnoise_factor=1"
    if kind != "quantized_po2":
        return _alpha_problem(kind, getattr(quantizer, "alpha", None), "weight")
    return None


@dataclass(frozen=True)
class ActivationGrid:
    """What an activation quantiser does: relu (optional), round half to even, saturate to ``fmt``
    (to +-max_value when ``symmetric``)."""

    fmt: FixedFormat
    relu: bool = False
    symmetric: bool = False


def activation_grid(quantizer) -> ActivationGrid:
    """The fixed-point map of an activation quantiser; ValueError naming the reason and the fix."""
    kind = kind_of(quantizer)
    if kind in ("binary", "ternary", "stochastic_binary", "stochastic_ternary", "bernoulli"):
        raise ValueError(f"a {kind} activation maps values to a few levels through float32 comparisons (tanh "
                         "for alpha=None) that the cores do not build; use quantized_bits or quantized_relu")
    if kind in ("quantized_po2", "quantized_relu_po2"):
        raise ValueError(f"a {kind} activation is exponent-coded, not a fixed-point grid; use quantized_bits or "
                         "quantized_relu")
    if kind not in ACTIVATION_QUANTISERS:
        raise ValueError(f"activation {kind!r} is not supported; use quantized_bits/quantized_relu, relu or linear")
    if kind == "quantized_relu" and getattr(quantizer, "relu_upper_bound", None) is not None:
        raise ValueError("quantized_relu with relu_upper_bound is not supported; drop the bound")
    if float(getattr(quantizer, "qnoise_factor", 1.0)) != 1.0:
        raise ValueError("a quantiser with qnoise_factor != 1 is not a fixed-point quantiser; use 1")
    if getattr(quantizer, "use_stochastic_rounding", False):
        raise ValueError("stochastic rounding cannot be reproduced in hardware; turn it off")
    if kind == "quantized_bits":
        problem = _alpha_problem(kind, getattr(quantizer, "alpha", None), "activation")
        if problem is None and getattr(quantizer, "alpha", None) not in (None, 1, 1.0):
            problem = "quantized_bits with a power-of-two alpha other than 1 on an activation is not supported; use alpha=1"
        if problem:
            raise ValueError(problem)
        if int(quantizer.bits) - int(bool(quantizer.keep_negative)) < 1:
            raise ValueError("a 1-bit signed quantized_bits is a sign function, not a fixed-point grid; use >= 2 bits")
    fmt = qkeras_format(quantizer)
    symmetric = kind == "quantized_bits" and bool(getattr(quantizer, "symmetric", 0)) and fmt.signed
    return ActivationGrid(fmt, relu=kind == "quantized_relu", symmetric=symmetric)
