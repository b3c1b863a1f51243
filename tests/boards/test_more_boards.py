"""The extra board files: each loads, is listed, and names a real part with its device totals."""
import pytest

from boards import known_boards, load_board

# part, Yosys family, LUT, FF, RAMB36, DSP (the numbers cited in each board file's `# source:` comment)
EXPECTED = {
    "zcu104": ("xczu7ev-ffvc1156-2-e", "xcup", 230400, 460800, 312, 1728),
    "ultra96-v2": ("xczu3eg-sbva484-1-e", "xcup", 70560, 141120, 216, 360),
    "kv260": ("xck26-sfvc784-2LV-c", "xcup", 117120, 234240, 144, 1248),
    "arty-a7-100t": ("xc7a100tcsg324-1", "xc7", 63400, 126800, 135, 240),
}


def test_known_boards_lists_the_new_boards_beside_the_pynq_z2():
    assert set(EXPECTED) | {"pynq-z2"} <= set(known_boards())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_board_file_loads_with_part_family_clock_and_resources(name):
    part, family, lut, ff, bram36, dsp = EXPECTED[name]
    board = load_board(name)
    assert board.name == name
    assert (board.part, board.family) == (part, family)
    assert board.resources == {"lut": lut, "ff": ff, "bram36": bram36, "dsp": dsp}
    assert board.clock_mhz == 100 and board.clock_period_ns == pytest.approx(10.0)
    assert board.extra["vendor"] and board.extra["vivado_board_part"].count(":") == 3


def test_every_board_file_has_a_cited_source_for_its_resources():
    from boards.board import BOARD_DIR

    for name in EXPECTED:
        assert "# source:" in (BOARD_DIR / f"{name}.yaml").read_text(), name
