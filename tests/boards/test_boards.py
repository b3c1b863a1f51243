"""The board loader: what a board file says is what the flow gets, and bad files fail with the fix."""
import pytest
import yaml

from boards import UnknownBoard, known_boards, load_board

BOARD = {"name": "demo", "part": "xc7a35tcpg236-1", "family": "xc7", "clock_mhz": 125,
         "resources": {"lut": 20800, "ff": 41600, "bram36": 50, "dsp": 90},
         "power": {"pl_static_w": {"value": 0.07, "source": "estimate"}}}


def test_a_board_file_loads_as_written_with_extra_blocks_kept(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(BOARD))
    board = load_board(path)
    assert (board.name, board.part, board.family, board.clock_mhz) == ("demo", "xc7a35tcpg236-1", "xc7", 125.0)
    assert board.resources == BOARD["resources"]
    assert board.clock_period_ns == pytest.approx(8.0)        # 125 MHz, by hand
    assert board.extra == {"power": BOARD["power"]}


def test_unknown_board_error_lists_known_boards():
    with pytest.raises(UnknownBoard) as err:
        load_board("no-such-board")
    message = str(err.value)
    assert "\n" not in message and "no-such-board" in message
    for name in known_boards():
        assert name in message


def test_board_file_missing_fields_is_rejected(tmp_path):
    path = tmp_path / "half.yaml"
    path.write_text("name: half\npart: xc7a35t\n")
    with pytest.raises(ValueError, match="lacks"):
        load_board(path)


@pytest.mark.parametrize("change, words", [
    ({"clock_mhz": 0}, "clock_mhz must be positive"),
    ({"resources": {"lut": 1, "ff": 2}}, "lacks resources bram36, dsp"),
])
def test_bad_board_values_are_rejected_with_the_field(tmp_path, change, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BOARD, **change}))
    with pytest.raises(ValueError, match=words):
        load_board(path)
