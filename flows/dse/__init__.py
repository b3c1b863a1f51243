"""Hardware-aware design-space exploration of early-exit designs (exits kept, thresholds, folding)."""
