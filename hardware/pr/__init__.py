"""Partial-reconfiguration hardware: the reconfigurable-module wrapper (rm.py), the static stream
paths (static.py), the DFX top (dfx_top.py) and their hand-written modules (decoupler, region
wrapper, exit tap, stream adapter) in this folder. The Vivado Tcl that builds them is flows/pr/tcl.py."""
from pathlib import Path

RTL_DIR = Path(__file__).resolve().parent
RM_MODULE = "stage_rm"        # every reconfigurable module of the partition has this name
DATA_W = 32                   # AXI DMA stream width
