"""``describe(kind, knobs)``: the feature dict of one block or probe (features.py), for any kind."""
from __future__ import annotations

from .features import (KernelCostCache, describe_cond_buffer, describe_exit_unit, describe_fifo, describe_fork,
                       describe_gather, describe_global_sum, describe_join, describe_kernel, describe_mvau, describe_pool,
                       describe_split, describe_swg, dry_mvau, knob_digest)
from .models import LUT_PER_LUTRAM_CELL

_DRY_MVAU: dict[str, dict] = {}
_SMALL = {"split": describe_split, "pool": describe_pool, "join": describe_join, "global_sum": describe_global_sum}


def describe(kind: str, knobs, kernels: KernelCostCache) -> dict[str, float]:
    if kind == "swg":
        f = describe_swg(knobs)
    elif kind == "kernel":
        f = describe_kernel(knobs, kernels.get(knobs))
    elif kind == "mvau":
        key = knob_digest("mvau", knobs)
        if key not in _DRY_MVAU:
            _DRY_MVAU[key] = dry_mvau(knobs)
        f = describe_mvau(knobs, _DRY_MVAU[key])
    elif kind == "fifo":
        f = describe_fifo(knobs)
    elif kind == "fork":
        f = describe_fork(knobs)
    elif kind == "gather":
        f = describe_gather(knobs)
    elif kind in _SMALL:
        f = _SMALL[kind](knobs)
    elif kind == "cond_buffer":
        f = describe_cond_buffer(knobs)
    elif kind == "exit_unit":
        f = describe_exit_unit(knobs)
    else:
        raise ValueError(f"no cost model for block kind {kind!r}")
    return finish(f)


def finish(f: dict) -> dict[str, float]:
    """Numbers only, plus the derived features every model may read."""
    f = {k: float(v) for k, v in f.items() if not isinstance(v, str)}
    f["lutram_luts"] = LUT_PER_LUTRAM_CELL * f.get("lutram_cells", 0.0)
    f.setdefault("dsp", 0.0)
    return f


def mvau_structure(knobs) -> dict:
    """The dry-run structure of an MVAU (cycles, latency, ROM shape), memoised with describe's."""
    key = knob_digest("mvau", knobs)
    if key not in _DRY_MVAU:
        _DRY_MVAU[key] = dry_mvau(knobs)
    return _DRY_MVAU[key]
