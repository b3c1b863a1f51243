"""Every bundled board file against facts that do not come from the file itself.

Not an echo of the YAML numbers: the device totals must obey the Xilinx CLB structure
(UG474 7-series, UG574 UltraScale+: each CLB holds 8 LUTs and 16 flip-flops), the part
number must belong to the Yosys family named, and Yosys must accept that family.
"""
import pytest

from boards import known_boards, load_board

PART_PREFIXES = {"xc7": ("xc7z", "xc7a", "xc7k", "xc7v", "xc7s"), "xcup": ("xczu", "xck26", "xcku", "xcvu")}


def test_known_boards_lists_every_bundled_board():
    assert {"pynq-z2", "zcu104", "ultra96-v2", "kv260", "arty-a7-100t"} <= set(known_boards())


@pytest.mark.parametrize("name", known_boards())
def test_device_totals_follow_the_clb_structure(name):
    r = load_board(name).resources
    assert r["lut"] % 8 == 0, "a CLB has 8 LUTs"
    assert r["ff"] == 2 * r["lut"], "a CLB has two flip-flops per LUT"
    assert min(r.values()) > 0


@pytest.mark.parametrize("name", known_boards())
def test_part_belongs_to_the_family_and_names_a_vivado_board(name):
    board = load_board(name)
    assert board.family in PART_PREFIXES, f"unknown Yosys family {board.family}"
    assert board.part.lower().startswith(PART_PREFIXES[board.family])
    assert board.clock_mhz > 0
    if "vivado_board_part" in board.extra:
        assert board.extra["vivado_board_part"].count(":") == 3   # vendor:board:part0:version


def test_every_board_file_cites_a_data_sheet_for_its_resources():
    import re

    from boards.board import BOARD_DIR

    for name in known_boards():
        text = (BOARD_DIR / f"{name}.yaml").read_text()
        block = text.split("resources:", 1)[1].split("\n\n", 1)[0]
        assert re.search(r"\bDS\d{3}\b", block), f"{name}: no data sheet (DSnnn) named beside resources:"


@pytest.mark.parametrize("family", sorted({load_board(n).family for n in known_boards()}))
def test_yosys_maps_to_each_boards_family(tmp_path, family):
    """A registered 16x16 multiply through synth_xilinx -family <family>: one DSP of that family's kind
    (DSP48E1 on 7-series, DSP48E2 on UltraScale+), so the family string reaches Yosys and means the device."""
    pytest.importorskip("pyosys")
    import json

    from flows.yosys import synth_xilinx

    src = tmp_path / "mul16.v"
    src.write_text("`timescale 1ns / 1ps\nmodule mul16 (input clk, input [15:0] a, input [15:0] b, "
                   "output reg [31:0] p);\n    always @(posedge clk) p <= a * b;\nendmodule\n")
    record = synth_xilinx([src], "mul16", family=family, work_dir=tmp_path / "y")
    cells = json.loads((tmp_path / "y" / "mul16.stat.json").read_text())["modules"]["\\mul16"]["num_cells_by_type"]
    assert record.dsp == 1 and cells.get({"xc7": "DSP48E1", "xcup": "DSP48E2"}[family]) == 1
