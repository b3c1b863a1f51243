"""Load and validate ``boards/<name>.yaml``. A board is data, not code."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flows.errors import InvalidFile, UserError

BOARD_DIR = Path(__file__).resolve().parent


class UnknownBoard(UserError):
    """No board file of that name."""


class BoardError(InvalidFile):
    """A board file with problems; one line per problem, each naming the field and the fix."""


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    family: str
    clock_mhz: float
    resources: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)  # fields later flows add (power, reconfiguration, ...)

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def known_boards() -> list[str]:
    return sorted(p.stem for p in BOARD_DIR.glob("*.yaml"))


def load_board(name_or_path: str | Path) -> Board:
    """A board by name (``boards/<name>.yaml``) or path, validated: one line per problem in a BoardError."""
    from pydantic import ValidationError

    from flows.errors import problem_lines

    from .schema import FIXES, BoardFile

    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = BOARD_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UnknownBoard(f"unknown board {str(name_or_path)!r}; known boards: {', '.join(known_boards())} "
                           "(or pass the path of a board file)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BoardError(f"{path}: not valid YAML ({type(exc).__name__}); fix the syntax") from None
    if not isinstance(data, dict):
        raise BoardError(f"{path}: a board file is a YAML mapping; start from boards/pynq-z2.yaml")
    try:
        board = BoardFile.model_validate(data)
    except ValidationError as exc:
        raise BoardError(problem_lines(exc, str(path), FIXES, example="boards/pynq-z2.yaml")) from None
    known = {"name", "part", "family", "clock_mhz", "resources"}
    return Board(
        name=board.name,
        part=board.part,
        family=board.family,
        clock_mhz=board.clock_mhz,
        resources=board.resources.model_dump(),
        extra={k: v for k, v in data.items() if k not in known},   # as written: flows read their own blocks
    )
