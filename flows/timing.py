"""Pre-placement timing estimate of a Yosys synth_xilinx netlist: critical path and an estimated Fmax.

Method (``METHOD``): the longest register-to-register path of the mapped netlist (``write_json``),
each cell weighted by per-cell delays of the board's speed grade (``boards/<board>.yaml``
``timing:``, every figure with its source), each hop through general routing by one fixed net
delay. A path starts at a flip-flop output (clock-to-out), a LUTRAM/SRL output (clock-to-out, one
net, one LUT: the read through the RAM's LUT), a block RAM or DSP output, or a top-level input port
(as if a register drove it), and ends at a flip-flop, LUTRAM, BRAM or DSP input or an output port
(net + setup). Dedicated connections cost no net delay: LUT -> CARRY4 S/DI (same slice), CARRY4
CO -> CI (the carry chain), LUT -> MUXF7 -> MUXF8. A CARRY4 costs ``carry4_chain_ns`` entered on
CI, ``carry4_entry_ns`` entered on S/DI/CYINIT, plus ``carry4_sum_ns`` when the path leaves on O.

It is an estimate: no placement, so no real net delays (fan-out, distance), clock skew or jitter.
``lut_levels`` (flows/yosys.py) is reported beside it; ``levels_ns`` = that many LUT levels at
(LUT + net) each, between two registers, is the plain LUT-levels figure, always <= the path figure.

Yosys 0.70 (pyosys) was checked for what it offers: ``sta`` reads the specify arcs of the Xilinx
cells_sim.v (prjxray artix7 delays) but finds no arcs on FDRE (clock-edge arcs are unsupported),
so its paths start at clock buffers and ports, and it has no net delays; ``ltp`` counts cells of
every type alike; ``abc -D`` only sets a mapping target. None gives a register-to-register delay,
hence this weighted longest path.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

METHOD = ("estimate: longest register-to-register path of the Yosys synth_xilinx netlist, per-cell delays of "
          "the board's speed grade plus one fixed net delay per routed hop (no placement)")
FIGURES = ("clk_to_q_ns", "setup_ns", "lut_ns", "net_ns", "carry4_chain_ns", "carry4_entry_ns", "carry4_sum_ns",
           "muxf_ns", "bram_clk_to_out_ns", "dsp_clk_to_out_ns", "hard_setup_ns")


class MissingTimingData(ValueError):
    """The board file has no (complete) timing block."""


@dataclass(frozen=True)
class DelayFigures:
    clk_to_q_ns: float
    setup_ns: float
    lut_ns: float
    net_ns: float
    carry4_chain_ns: float
    carry4_entry_ns: float
    carry4_sum_ns: float
    muxf_ns: float
    bram_clk_to_out_ns: float
    dsp_clk_to_out_ns: float
    hard_setup_ns: float
    speed_grade: str = ""

    @classmethod
    def from_board(cls, board) -> "DelayFigures":
        block = board.extra.get("timing")
        if not block:
            raise MissingTimingData(f"board {board.name} has no timing: block in boards/{board.name}.yaml; add "
                                    "per-cell delays of its speed grade (see boards/pynq-z2.yaml)")
        missing = [k for k in FIGURES if k not in block]
        if missing:
            raise MissingTimingData(f"boards/{board.name}.yaml timing: lacks {', '.join(missing)}")
        values = {k: float(block[k]["value"] if isinstance(block[k], dict) else block[k]) for k in FIGURES}
        return cls(**values, speed_grade=str(block.get("speed_grade", "")))

    @property
    def per_level_ns(self) -> float:
        return self.lut_ns + self.net_ns


@dataclass
class TimingEstimate:
    critical_path_ns: float
    fmax_mhz: float                 # estimate
    luts_on_path: int
    carry4_on_path: int
    muxf_on_path: int
    lut_levels: int                 # the deepest LUT chain anywhere (may lie on another path)
    levels_ns: float                # lut_levels x (LUT + net) between two registers
    start: str
    end: str
    method: str = METHOD

    def to_dict(self) -> dict:
        return asdict(self)


SEQUENTIAL = ("FD", "RAMB", "DSP48", "SRL", "RAM")
DEDICATED = {("LUT", "CARRY4", "S"), ("LUT", "CARRY4", "DI"), ("CARRY4", "CARRY4", "CI"), ("LUT", "MUXF7", "I0"),
             ("LUT", "MUXF7", "I1"), ("MUXF7", "MUXF8", "I0"), ("MUXF7", "MUXF8", "I1")}


def _kind(cell_type: str) -> str:
    t = cell_type.lstrip("\\$")
    if (t.startswith("LUT") and t[3:].isdigit()) or t == "INV":   # Vivado maps an INV into a LUT1
        return "LUT"
    for k in ("CARRY4", "CARRY8", "MUXF7", "MUXF8", "MUXF9"):
        if t == k:
            return "CARRY4" if k.startswith("CARRY") else ("MUXF7" if k == "MUXF7" else "MUXF8")
    if t.startswith(("RAMB",)):
        return "BRAM"
    if t.startswith("DSP48"):
        return "DSP"
    if t.startswith(("SRL", "RAM")):
        return "LUTRAM"
    if t.startswith("FD"):
        return "FF"
    return "OTHER"   # buffers (IBUF, OBUF, BUFG, INV ...): zero delay, followed through


def estimate_timing(netlist: dict, top: str, figures: DelayFigures, lut_levels: int | None = None,
                    opaque: frozenset[str] = frozenset()) -> TimingEstimate:
    """The weighted longest path of ``top`` in a Yosys JSON netlist (see the module doc).

    Cells of the ``opaque`` types (black-box cores synthesised on their own) start and end paths
    like flip-flops: their ports are taken as registered."""
    f = figures
    module = netlist["modules"][top]
    drivers: dict[int, tuple[str, str, str]] = {}     # bit -> (cell name, kind, output port)
    cells = module["cells"]

    def kind_of(cell: dict) -> str:
        return "FF" if cell["type"].lstrip("\\$") in opaque else _kind(cell["type"])

    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drivers[b] = (name, kind_of(cell), port)
    clock_bits = set()
    for name, cell in cells.items():                  # clock nets are not data paths
        if kind_of(cell) in ("FF", "LUTRAM", "BRAM", "DSP"):
            for port in ("C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "clk"):
                clock_bits.update(b for b in cell["connections"].get(port, []) if isinstance(b, int))
    start = {"FF": f.clk_to_q_ns, "LUTRAM": f.clk_to_q_ns + f.net_ns + f.lut_ns, "BRAM": f.bram_clk_to_out_ns,
             "DSP": f.dsp_clk_to_out_ns}
    arrival: dict[int, float] = {}
    via: dict[int, tuple[int | None, str]] = {}       # bit -> (input bit on the worst path, cell name)

    def input_arrival(bit, sink_kind: str, sink_port: str) -> tuple[float, int | None]:
        """Arrival at a sink pin: the driver's output time plus the hop's net delay."""
        if not isinstance(bit, int) or bit in clock_bits:
            return float("-inf"), None
        d = drivers.get(bit)
        hop = 0.0 if d and (d[1], sink_kind, sink_port) in DEDICATED else f.net_ns
        if d and d[1] == "OTHER":
            hop = 0.0
        return settle(bit) + hop, bit

    def arc(kind: str, in_port: str, out_port: str) -> float:
        if kind == "LUT":
            return f.lut_ns
        if kind == "CARRY4":
            base = f.carry4_chain_ns if in_port == "CI" else f.carry4_entry_ns
            return base + (f.carry4_sum_ns if out_port == "O" else 0.0)
        if kind in ("MUXF7", "MUXF8"):
            return f.muxf_ns
        return 0.0

    entered: set[int] = set()

    def settle(bit: int) -> float:
        # iterative post-order (carry chains make recursion too deep); a combinational loop is cut
        # where it closes (the bit not yet settled counts as 0)
        stack = [bit]
        while stack:
            b = stack[-1]
            if b in arrival:
                stack.pop()
                continue
            d = drivers.get(b)
            if d is None:                              # a top-level input port (or undriven)
                arrival[b], via[b] = f.clk_to_q_ns, (None, "input port")
                stack.pop()
                continue
            name, kind, out_port = d
            if kind in start:
                arrival[b], via[b] = start[kind], (None, name)
                stack.pop()
                continue
            cell = cells[name]
            dirs = cell.get("port_directions", {})
            ins = [(p, x) for p, bits in cell["connections"].items() if dirs.get(p) == "input"
                   for x in bits if isinstance(x, int) and x not in clock_bits]
            todo = [x for _, x in ins if x not in arrival and x not in entered]
            if todo and b not in entered:
                entered.add(b)
                stack.extend(todo)
                continue
            best, best_bit = 0.0, None
            for p, x in ins:
                src = drivers.get(x, ("", "", ""))[1]
                hop = 0.0 if (src, kind, p) in DEDICATED or src == "OTHER" else f.net_ns
                t = arrival.get(x, 0.0) + hop + arc(kind, p, out_port)
                if best_bit is None or t > best:
                    best, best_bit = t, x
            arrival[b], via[b] = best, (best_bit, name)
            stack.pop()
        return arrival[bit]

    worst, worst_bit, worst_end = 0.0, None, "-"
    ends = []
    for name, cell in cells.items():
        kind = kind_of(cell)
        if kind in ("FF", "LUTRAM", "BRAM", "DSP"):
            setup = f.setup_ns if kind in ("FF", "LUTRAM") else f.hard_setup_ns
            dirs = cell.get("port_directions", {})
            ends += [(x, name, p, kind, setup) for p, bits in cell["connections"].items() if dirs.get(p) == "input"
                     for x in bits]
    for port in module.get("ports", {}).values():
        if port["direction"] == "output":
            ends += [(x, "output port", "", "PORT", f.setup_ns) for x in port["bits"]]
    for x, name, p, kind, setup in ends:
        t, bit = input_arrival(x, kind, p)
        if bit is not None and t + setup > worst:
            worst, worst_bit, worst_end = t + setup, bit, name
    luts = carries = muxes = 0
    first = "-"
    b = worst_bit
    seen_bits: set[int] = set()
    while b is not None and b in via and b not in seen_bits:
        seen_bits.add(b)
        prev, name = via[b]
        kind = drivers[b][1] if b in drivers else ""
        luts += kind == "LUT"
        carries += kind == "CARRY4"
        muxes += kind in ("MUXF7", "MUXF8")
        first = name
        b = prev
    if lut_levels is None:
        from flows.yosys import lut_levels as count_levels
        lut_levels = count_levels(netlist, top, opaque)
    levels_ns = f.clk_to_q_ns + lut_levels * f.per_level_ns + f.net_ns + f.setup_ns
    return TimingEstimate(round(worst, 3), round(1000.0 / worst, 1) if worst else float("inf"), luts, carries,
                          muxes, lut_levels, round(levels_ns, 3), first, worst_end)


def estimate_netlist_file(path: Path, top: str, figures: DelayFigures, lut_levels: int | None = None,
                          opaque: frozenset[str] = frozenset()) -> TimingEstimate:
    return estimate_timing(json.loads(Path(path).read_text()), top, figures, lut_levels, opaque)


def timing_warning(name: str, est: TimingEstimate, clock_mhz: float) -> str | None:
    """One line when the estimated Fmax is below the board clock, else None."""
    if est.fmax_mhz >= clock_mhz:
        return None
    return (f"{name}: estimated Fmax {est.fmax_mhz:.0f} MHz is below the {clock_mhz:g} MHz board clock "
            f"(critical path {est.critical_path_ns:.2f} ns: {est.luts_on_path} LUTs, {est.carry4_on_path} CARRY4; "
            "an estimate: check with Vivado, or pipeline the core deeper)")
