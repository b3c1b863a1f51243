"""The hardware library: every hand-written Verilog primitive and every RTL generator, one folder each.

See README.md for the folders and the stream convention they share. ``source("fifo/pl_fifo.v")``
is the path of a hand-written module; generators write their output under the caller's build folder.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def source(relative: str) -> Path:
    """Absolute path of a hand-written module of the library, e.g. ``source("fifo/pl_fifo.v")``."""
    path = ROOT / relative
    if not path.is_file():
        raise FileNotFoundError(f"hardware library file {relative} does not exist under {ROOT}")
    return path
