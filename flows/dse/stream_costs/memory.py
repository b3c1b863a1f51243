"""Where Yosys puts a memory: LUTRAM or block RAM for a RAM, LUTs or block RAM for a ROM.

Yosys' ``memory_libmap`` picks, per memory, the cheapest mapping by the costs in its Xilinx
libraries (Yosys 0.70 share/xilinx): a LUTRAM cell of the simple-dual-port kind costs 8
(RAM32M: 32 words x 6 bits, RAM64M: 64 x 3; deeper memories are banks of 64 words and a read
multiplexer), a RAMB18 129 (512 x 36 ... 16,384 x 1), a RAMB36 257 (512 x 72 ... 32,768 x 1); a
ROM in logic costs 1/64 per bit (``-logic-cost-rom 0.015625``). The rule below reproduces that
choice; the stream_fifo probes (probes.py, on both sides of every switch: 33 bits switch to BRAM at
128 words, 9 bits at 512) check it against Yosys on every fit, and the fit records list them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LUTRAM_CELL_COST = 8
LUTRAM_CELL_LUTS = 4           # RAM32M / RAM64M: four LUT6 each (flows/yosys.py LUTRAM_WEIGHT)
RAMB18_COST, RAMB36_COST = 129, 257
ROM_LOGIC_COST_PER_BIT = 1 / 64
# (width, depth) aspect ratios of the block RAMs in simple-dual-port mode
RAMB18_SHAPES = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
RAMB36_SHAPES = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))


@dataclass(frozen=True)
class MemoryMap:
    """How one memory is built: LUTRAM cells (4 LUTs each), block RAMs, or LUTs of a logic ROM."""

    kind: str              # lutram | bram | logic | none
    lutram_cells: int = 0
    ramb18: int = 0
    ramb36: int = 0
    rom_luts: int = 0      # LUT6 of a ROM built as logic: one per bit per 64 words

    @property
    def lut_as_memory(self) -> int:
        return LUTRAM_CELL_LUTS * self.lutram_cells

    @property
    def bram(self) -> float:
        return self.ramb36 + self.ramb18 / 2


def _bram(depth: int, width: int) -> tuple[float, int, int]:
    """Cheapest block-RAM tiling: (cost, RAMB18, RAMB36)."""
    best = None
    for shapes, cost, is36 in ((RAMB18_SHAPES, RAMB18_COST, False), (RAMB36_SHAPES, RAMB36_COST, True)):
        for w, d in shapes:
            n = math.ceil(width / w) * math.ceil(depth / d)
            option = (n * cost, 0 if is36 else n, n if is36 else 0)
            if best is None or option[0] < best[0]:
                best = option
    return best


def lutram_cells(depth: int, width: int) -> int:
    """SDP LUTRAM cells: 32 x 6 up to 32 words, else banks of 64 x 3."""
    if depth <= 32:
        return math.ceil(width / 6)
    return math.ceil(depth / 64) * math.ceil(width / 3)


def ram_map(depth: int, width: int) -> MemoryMap:
    """A RAM with one write port and one synchronous read port (stream_fifo, swg line buffer, cond_buffer)."""
    if depth < 1 or width < 1:
        return MemoryMap("none")
    cells = lutram_cells(depth, width)
    cost, r18, r36 = _bram(depth, width)
    if LUTRAM_CELL_COST * cells <= cost:
        return MemoryMap("lutram", lutram_cells=cells)
    return MemoryMap("bram", ramb18=r18, ramb36=r36)


def rom_map(depth: int, width: int) -> MemoryMap:
    """A ROM with a synchronous read (the MVAU weights): logic LUTs or block RAM."""
    if depth <= 1 or width < 1:
        return MemoryMap("none")     # one word: a constant, no memory
    cost, r18, r36 = _bram(depth, width)
    if ROM_LOGIC_COST_PER_BIT * depth * width <= cost:
        return MemoryMap("logic", rom_luts=width * math.ceil(depth / 64))
    return MemoryMap("bram", ramb18=r18, ramb36=r36)
