"""The board loader: what a board file says is what the flow gets, and bad files fail with the fix."""
from pathlib import Path

import pytest
import yaml

from boards import UnknownBoard, known_boards, load_board
from boards.board import BOARD_DIR, BoardError

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


def test_board_file_missing_fields_gives_one_line_per_missing_field(tmp_path):
    path = tmp_path / "half.yaml"
    path.write_text("name: half\npart: xc7a35t\n")
    with pytest.raises(BoardError) as err:
        load_board(path)
    lines = err.value.lines()
    assert [line.split(": ")[1] for line in lines] == ["family", "clock_mhz", "resources"]
    assert all(line.startswith(f"{path}: ") and ": missing; " in line and "e.g." in line for line in lines)


def _pynq_with(tmp_path, change) -> Path:
    data = yaml.safe_load((BOARD_DIR / "pynq-z2.yaml").read_text())
    change(data)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("change, field, problem", [
    (lambda d: d.update(clock_mhz="fast"), "clock_mhz", "'fast' is not a number"),
    (lambda d: d.update(clock_mhz=0), "clock_mhz", "0 is not > 0.0"),
    (lambda d: d["resources"].update(lut="many"), "resources.lut", "'many' is not a whole number"),
    (lambda d: d["resources"].pop("dsp"), "resources.dsp", "missing"),
    (lambda d: d["power"].update(ps_w=1.5), "power.ps_w", "1.5 is a bare number"),
    (lambda d: d["energy"]["lut_pj_per_toggle"].pop("value"), "energy.lut_pj_per_toggle.value", "missing"),
    (lambda d: d["reconfiguration"].pop("port"), "reconfiguration.port", "missing"),
])
def test_board_file_with_a_wrong_field_names_the_field_the_problem_and_the_fix(tmp_path, change, field, problem):
    path = _pynq_with(tmp_path, change)
    with pytest.raises(BoardError) as err:
        load_board(path)
    (line,) = err.value.lines()
    assert line.startswith(f"{path}: {field}: {problem}; ") and len(line.split("; ", 1)[1]) > 5, line


def test_every_shipped_board_validates_and_keeps_its_blocks_as_written():
    for name in known_boards():
        raw = yaml.safe_load((BOARD_DIR / f"{name}.yaml").read_text())
        board = load_board(name)
        assert board.resources == raw["resources"] and board.clock_mhz == raw["clock_mhz"]
        assert board.extra == {k: v for k, v in raw.items()
                               if k not in ("name", "part", "family", "clock_mhz", "resources")}
