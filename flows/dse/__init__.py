"""Hardware-aware design-space exploration of early-exit designs (exits kept, thresholds, folding)."""

from .run import run_dse

__all__ = ["run_dse"]
