"""Compile da4ml's numba functions once, when `make venv` installs it, not inside a user's first run.

da4ml's solver is numba-jitted with ``cache=True``: the first solve in a new venv compiles it and keeps the
machine code beside da4ml, and every later process loads it. Measured on 2 cores: about 2.5 minutes, which
a fresh `make dse` spent before its first cost probe (and a fresh `make synth` before its first stage core).
Building one small window kernel goes through every jitted function the flow calls.

    python -m hardware.stage.jit_cache
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def compile_da4ml() -> float:
    """Build a 3x3 conv window kernel (random 4-bit weights) in a scratch folder; the seconds it took."""
    from frontend.fixedpoint import FixedFormat
    from hardware.window_kernel import build_window_kernel

    rng = np.random.default_rng(0)
    weights = rng.integers(-8, 8, (9, 2)) / 8
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        build_window_kernel("jit_warm", "conv", (3, 3, 1), FixedFormat(8, 0, False), Path(folder),
                            kernel=weights, bias=np.zeros(2), output=(FixedFormat(4, 2, False), True))
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"da4ml's numba functions compiled and cached ({compile_da4ml():.0f} s)")
