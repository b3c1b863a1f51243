"""Load and validate ``boards/<name>.yaml``. A board is data, not code."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BOARD_DIR = Path(__file__).resolve().parent
RESOURCE_KEYS = ("lut", "ff", "bram36", "dsp")


class UnknownBoard(ValueError):
    pass


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
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = BOARD_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UnknownBoard(f"unknown board {str(name_or_path)!r}; known boards: {', '.join(known_boards())}")
    data = yaml.safe_load(path.read_text()) or {}
    missing = [k for k in ("name", "part", "family", "clock_mhz", "resources") if k not in data]
    if missing:
        raise ValueError(f"board file {path} lacks {', '.join(missing)}; add them (see boards/pynq-z2.yaml)")
    resources = data["resources"]
    absent = [k for k in RESOURCE_KEYS if k not in resources]
    if absent:
        raise ValueError(f"board file {path} lacks resources {', '.join(absent)}")
    clock = float(data["clock_mhz"])
    if clock <= 0:
        raise ValueError(f"board file {path}: clock_mhz must be positive, got {clock}")
    known = {"name", "part", "family", "clock_mhz", "resources"}
    return Board(
        name=str(data["name"]),
        part=str(data["part"]),
        family=str(data["family"]),
        clock_mhz=clock,
        resources={k: int(v) for k, v in resources.items()},
        extra={k: v for k, v in data.items() if k not in known},
    )
