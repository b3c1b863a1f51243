"""Weight-memory matrix-vector unit (MVAU), PE x SIMD folding: ``build_mvau`` writes one (see mvau.py)."""
from hardware.mvau.formats import MVAUConfigError
from hardware.mvau.mvau import MVAU, build_mvau

__all__ = ["MVAU", "MVAUConfigError", "build_mvau"]
