"""The pre-placement Fmax estimate against paths computed by hand from the board's delay figures."""
from __future__ import annotations

import pytest

from boards import load_board
from flows.timing import DelayFigures, MissingTimingData, estimate_timing, timing_warning

F = DelayFigures(clk_to_q_ns=0.5, setup_ns=0.1, lut_ns=0.2, net_ns=0.6, carry4_chain_ns=0.1, carry4_entry_ns=0.4,
                 carry4_sum_ns=0.25, muxf_ns=0.3, bram_clk_to_out_ns=2.0, dsp_clk_to_out_ns=1.5, hard_setup_ns=0.5)


def _cell(kind: str, ins: dict[str, list[int]], outs: dict[str, list[int]]) -> dict:
    return {"type": kind, "port_directions": {**{p: "input" for p in ins}, **{p: "output" for p in outs}},
            "connections": {**ins, **outs}}


def _netlist(cells: dict, ports: dict | None = None) -> dict:
    return {"modules": {"top": {"cells": cells, "ports": ports or {}}}}


def test_three_luts_between_two_flip_flops():
    # clk = bit 1; ff_a.Q = 2 -> l1 -> 3 -> l2 -> 4 -> l3 -> 5 -> ff_b.D
    cells = {"ff_a": _cell("FDRE", {"C": [1], "D": [9], "CE": ["1"], "R": ["0"]}, {"Q": [2]}),
             "l1": _cell("LUT1", {"I0": [2]}, {"O": [3]}),
             "l2": _cell("LUT2", {"I0": [3], "I1": [2]}, {"O": [4]}),
             "l3": _cell("LUT1", {"I0": [4]}, {"O": [5]}),
             "ff_b": _cell("FDRE", {"C": [1], "D": [5], "CE": ["1"], "R": ["0"]}, {"Q": [9]})}
    est = estimate_timing(_netlist(cells), "top", F)
    # by hand: 0.5 clock-to-out, three hops of (0.6 net + 0.2 LUT), 0.6 net into ff_b, 0.1 setup
    assert est.critical_path_ns == pytest.approx(0.5 + 3 * 0.8 + 0.6 + 0.1)
    assert est.fmax_mhz == pytest.approx(1000 / 3.6, abs=0.1)
    assert (est.luts_on_path, est.carry4_on_path, est.lut_levels) == (3, 0, 3)
    assert est.levels_ns == pytest.approx(est.critical_path_ns)   # a pure LUT path: both figures agree
    assert est.start == "ff_a" and est.end == "ff_b"


def test_a_carry_chain_costs_entry_chain_and_sum_without_routing_between_its_cells():
    # ff -> LUT -> CARRY4 (S) -> CARRY4 (CI) -> CARRY4 (CI, leaves on O) -> ff
    cells = {"ff_a": _cell("FDRE", {"C": [1], "D": [20]}, {"Q": [2]}),
             "lut": _cell("LUT2", {"I0": [2], "I1": [2]}, {"O": [3]}),
             "c1": _cell("CARRY4", {"S": [3, 3, 3, 3], "CI": ["0"], "DI": ["0"] * 4}, {"CO": [4, 5, 6, 7],
                                                                                   "O": [30, 31, 32, 33]}),
             "c2": _cell("CARRY4", {"S": ["1"] * 4, "CI": [7], "DI": ["0"] * 4}, {"CO": [8, 9, 10, 11],
                                                                               "O": [34, 35, 36, 37]}),
             "c3": _cell("CARRY4", {"S": ["1"] * 4, "CI": [11], "DI": ["0"] * 4}, {"CO": [12, 13, 14, 15],
                                                                                "O": [16, 17, 18, 19]}),
             "ff_b": _cell("FDRE", {"C": [1], "D": [19]}, {"Q": [20]})}
    est = estimate_timing(_netlist(cells), "top", F)
    by_hand = 0.5 + (0.6 + 0.2) + 0.4 + 0.1 + (0.1 + 0.25) + 0.6 + 0.1
    assert est.critical_path_ns == pytest.approx(by_hand)
    assert (est.luts_on_path, est.carry4_on_path) == (1, 3)
    assert est.levels_ns < est.critical_path_ns            # LUT levels alone miss the carry chain


def test_ports_count_as_registers_outside_and_the_slowest_of_two_paths_wins():
    # in port 2 -> l1 -> ff (1 LUT); ff.Q 4 -> l2 -> l3 -> out port 6 (2 LUTs)
    cells = {"l1": _cell("LUT1", {"I0": [2]}, {"O": [3]}),
             "ff": _cell("FDRE", {"C": [1], "D": [3]}, {"Q": [4]}),
             "l2": _cell("LUT1", {"I0": [4]}, {"O": [5]}),
             "l3": _cell("LUT1", {"I0": [5]}, {"O": [6]})}
    ports = {"clk": {"direction": "input", "bits": [1]}, "a": {"direction": "input", "bits": [2]},
             "y": {"direction": "output", "bits": [6]}}
    est = estimate_timing(_netlist(cells, ports), "top", F)
    assert est.critical_path_ns == pytest.approx(0.5 + 2 * 0.8 + 0.6 + 0.1)
    assert est.end == "output port"


def test_a_chain_of_instantiated_luts_through_yosys(tmp_path):
    """Four LUT6 instances between registers, synthesised by Yosys: the estimate is the hand sum."""
    from flows.yosys import synth_xilinx

    src = tmp_path / "chain.v"
    luts = "\n".join(f"    LUT6 #(.INIT(64'h6996966996696996)) l{i} (.O(w[{i + 1}]), .I0(w[{i}]), .I1(r[1]), "
                     f".I2(r[2]), .I3(r[3]), .I4(r[4]), .I5(r[5]));" for i in range(4))
    src.write_text(f"""`timescale 1ns / 1ps
module chain(input clk, input [5:0] a, output reg q);
    reg [5:0] r;
    wire [4:0] w;
    assign w[0] = r[0];
    always @(posedge clk) r <= a;
{luts}
    always @(posedge clk) q <= w[4];
endmodule
""")
    record = synth_xilinx([src], "chain", work_dir=tmp_path / "y")
    board = load_board("pynq-z2")
    figures = DelayFigures.from_board(board)
    from flows.timing import estimate_netlist_file

    est = estimate_netlist_file(tmp_path / "y" / "chain.netlist.json", "chain", figures, record.lut_levels)
    assert record.lut_levels == 4
    by_hand = figures.clk_to_q_ns + 4 * (figures.net_ns + figures.lut_ns) + figures.net_ns + figures.setup_ns
    assert est.critical_path_ns == pytest.approx(by_hand)
    assert est.luts_on_path == 4


def test_warning_only_below_the_board_clock_and_boards_without_figures_say_so():
    slow = estimate_timing(_netlist({"ff_a": _cell("FDRE", {"C": [1], "D": [50]}, {"Q": [2]}),
                                     **{f"l{i}": _cell("LUT1", {"I0": [2 + i]}, {"O": [3 + i]}) for i in range(20)},
                                     "ff_b": _cell("FDRE", {"C": [1], "D": [22]}, {"Q": [50]})}), "top", F)
    assert slow.fmax_mhz < 100
    assert "below the 100 MHz board clock" in timing_warning("stage 1", slow, 100.0)
    assert timing_warning("stage 1", slow, slow.fmax_mhz - 1) is None
    with pytest.raises(MissingTimingData, match="zcu104.*timing"):
        DelayFigures.from_board(load_board("zcu104"))
