import pytest

from boards import UnknownBoard, known_boards, load_board


def test_pynq_z2_describes_the_xc7z020():
    board = load_board("pynq-z2")
    assert board.part == "xc7z020clg400-1"
    assert board.clock_mhz == 100
    assert board.resources == {"lut": 53200, "ff": 106400, "bram36": 140, "dsp": 220}
    assert board.clock_period_ns == pytest.approx(10.0)


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
