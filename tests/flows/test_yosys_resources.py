"""flows.yosys: resource counting and LUT-level measure on tiny known designs."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from flows.yosys import ResourceRecord, count_resources, lut_levels, synth_xilinx

AND6 = """`timescale 1ns / 1ps
module and6 (input wire clk, input wire [5:0] a, output reg y);
  reg [5:0] q;
  always @(posedge clk) begin q <= a; y <= &q; end
endmodule
"""

AND36 = """`timescale 1ns / 1ps
module and36 (input wire clk, input wire [35:0] a, output reg y);
  reg [35:0] q;
  always @(posedge clk) begin q <= a; y <= &q; end
endmodule
"""


def test_wide_and_needs_more_than_one_lut_level(tmp_path):
    (tmp_path / "and36.v").write_text(AND36)
    rec = synth_xilinx([tmp_path / "and36.v"], "and36", work_dir=tmp_path)
    assert rec.ff == 37 and rec.lut >= 7 and rec.lut_levels >= 2

ADD8 = """`timescale 1ns / 1ps
module add8 (input wire clk, input wire [7:0] a, input wire [7:0] b, output reg [8:0] y);
  always @(posedge clk) y <= a + b;
endmodule
"""


def test_count_resources_adds_lutram_and_half_brams():
    counts = count_resources({"$LUT6": 3, "LUT2": 2, "FDRE": 5, "FDSE": 1, "CARRY4": 2, "RAM32M": 1,
                              "RAMB18E1": 1, "RAMB36E1": 2, "DSP48E1": 1})
    assert counts == {"lut": 9, "lut_as_memory": 4, "ff": 6, "carry4": 2, "dsp": 1, "bram": 2.5,
                      "ramb36": 2, "ramb18": 1}


def test_count_resources_knows_ultrascale_plus_cells():
    counts = count_resources({"LUT6": 4, "FDRE": 3, "CARRY8": 2, "DSP48E2": 3, "RAMB36E2": 1, "RAMB18E2": 2})
    assert (counts["carry4"], counts["dsp"], counts["bram"], counts["ramb36"], counts["ramb18"]) == (2, 3, 2.0, 1, 2)


def test_lut_levels_counts_luts_between_flip_flops_not_carries():
    # bit 1 -> LUT -> bit 2 -> CARRY4 -> bit 3 -> LUT -> bit 4 -> FD
    cell = lambda t, i, o: {"type": t, "port_directions": {"I": "input", "O": "output"},
                            "connections": {"I": [i], "O": [o]}}
    netlist = {"modules": {"top": {"cells": {
        "a": cell("LUT2", 1, 2), "b": cell("CARRY4", 2, 3), "c": cell("LUT3", 3, 4),
        "f": {"type": "FDRE", "port_directions": {"D": "input", "Q": "output"},
              "connections": {"D": [4], "Q": [1]}}}}}}
    assert lut_levels(netlist, "top") == 2


def test_synth_counts_a_six_input_and_as_one_lut_level(tmp_path):
    path = tmp_path / "and6.v"
    path.write_text(AND6)
    rec = synth_xilinx([path], "and6", log_path=tmp_path / "yosys.log")
    assert isinstance(rec, ResourceRecord) and rec.source == "yosys"
    assert (rec.lut, rec.ff, rec.lut_levels, rec.carry4, rec.dsp, rec.bram) == (1, 7, 1, 0, 0, 0)
    assert (tmp_path / "yosys.log").read_text().count("synth_xilinx") > 0


def test_parallel_syntheses_do_not_interfere(tmp_path):
    (tmp_path / "add8.v").write_text(ADD8)
    (tmp_path / "and6.v").write_text(AND6)
    with ThreadPoolExecutor(2) as pool:
        add = pool.submit(synth_xilinx, [tmp_path / "add8.v"], "add8", work_dir=tmp_path / "a")
        and6 = pool.submit(synth_xilinx, [tmp_path / "and6.v"], "and6", work_dir=tmp_path / "b")
    add, and6 = add.result(), and6.result()
    assert add.carry4 >= 2 and add.ff == 9 and add.lut_levels == 1
    assert and6.lut == 1 and and6.carry4 == 0


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="do not exist"):
        synth_xilinx([tmp_path / "nope.v"], "nope")


MEMORIES = """
module ram #(parameter integer W = 8, parameter integer DEPTH = 32) (
    input clk, input we, input [$clog2(DEPTH)-1:0] wa, ra, input [W-1:0] d, output reg [W-1:0] q);
    reg [W-1:0] mem [0:DEPTH-1];
    always @(posedge clk) begin
        if (we) mem[wa] <= d;
        q <= mem[ra];
    end
endmodule
module two_memories (input clk, input we, input [9:0] wa, ra, input [15:0] d, output [15:0] q_small, q_big);
    ram #(.W(16), .DEPTH(16)) u_pool_swg (.clk(clk), .we(we), .wa(wa[3:0]), .ra(ra[3:0]), .d(d), .q(q_small));
    ram #(.W(16), .DEPTH(1024)) u_dense_mvau_weight_rom (.clk(clk), .we(we), .wa(wa), .ra(ra), .d(d), .q(q_big));
endmodule
"""


def test_memories_are_listed_by_the_instance_that_holds_them(tmp_path):
    """16 words of 16 bits fit LUTRAM; 1,024 x 16 bits (16 kbit) is one RAMB18's worth."""
    (tmp_path / "mem.v").write_text(MEMORIES)
    rec = synth_xilinx([tmp_path / "mem.v"], "two_memories", work_dir=tmp_path)
    by_instance = {m["instance"]: m for m in rec.memories}
    assert set(by_instance) == {"u_pool_swg", "u_dense_mvau_weight_rom"}
    small, big = by_instance["u_pool_swg"], by_instance["u_dense_mvau_weight_rom"]
    assert (small["role"], small["ramb18"], small["ramb36"]) == ("line buffer", 0, 0) and small["lutram_luts"] > 0
    assert (big["role"], big["ramb18"] + 2 * big["ramb36"], big["lutram_luts"]) == ("weight ROM", 1, 0)
    assert rec.ramb18 + 2 * rec.ramb36 == 1 and rec.lut_as_memory == small["lutram_luts"]
