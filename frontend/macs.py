"""Multiply-accumulate counts: what each exit costs and what early exiting saves."""
from __future__ import annotations

import numpy as np


def layer_macs(layer) -> int:
    kind = type(layer).__name__
    if kind in ("QDense", "Dense"):
        return int(layer.input.shape[-1]) * int(layer.units)
    if kind in ("QConv2D", "Conv2D", "QConv2DBatchnorm"):
        _, out_h, out_w, filters = layer.output.shape
        k_h, k_w = layer.kernel_size
        return int(out_h * out_w * filters * k_h * k_w * layer.input.shape[-1])
    return 0


def stage_macs(stage) -> tuple[int, int]:
    """(backbone MACs, exit head MACs) of one stage; the last stage's head is its final classifier."""
    head_names = set(stage.plan.head)
    if getattr(stage, "ir", None) is not None:   # the stage IR counts every conv/dense, batch-norm ones too
        counts = [(layer.name, layer.macs) for layer in stage.ir.layers]
    else:
        counts = [(layer.name, layer_macs(layer)) for layer in stage.model.layers]
    backbone = head = 0
    for name, macs in counts:
        if name in head_names:
            head += macs
        else:
            backbone += macs
    return backbone, head


def cumulative_exit_macs(stages) -> list[int]:
    """MACs a sample has spent when it leaves at exit k: stages 1..k, heads included."""
    per_stage = [sum(stage_macs(s)) for s in stages]
    return [int(v) for v in np.cumsum(per_stage)]


def baseline_macs(stages) -> int:
    """MACs of the same network with its early heads removed (final exit only).

    The last stage has no separate head: its final classifier counts as backbone.
    """
    return int(sum(stage_macs(s)[0] for s in stages))
