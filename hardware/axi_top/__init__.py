"""The AXI-wrapped top of the multi-exit pipeline (what goes on the board), its register map and driver.

``write_axi_top(pipeline, thresholds, out_dir)`` (generate.py) writes the top; its ``regmap``
(regmap.py) renders regmap.md / regmap.h / regmap.json; ``driver.py`` is the host side (PYNQ).
"""
from .generate import AxiTopError, AxiTopParams, AxiTopRtl, write_axi_top

__all__ = ["AxiTopError", "AxiTopParams", "AxiTopRtl", "write_axi_top"]
