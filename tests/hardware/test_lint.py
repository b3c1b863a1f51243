"""Every hand-written module of the hardware library is clean under `verilator --lint-only -Wall`; the
streaming primitives also at the corners of their parameters (1-bit data, one-beat frames, N = 1...)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from flows.tools import setup_verilator
from hardware import ROOT
from hardware.cond_buffer import CondBuffer
from hardware.dwc import StreamGather, StreamSplit
from hardware.fifo import StreamFifo
from hardware.fork import StreamFork
from hardware.primitive import Primitive

HAND_WRITTEN = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.v"))
FOLDERS = sorted({p.parent for p in ROOT.rglob("*.v")})
# a module that instantiates a generated one is linted beside the stand-in the project simulates it with
# (copied under the module's name, so Verilator finds it as a library file and checks only the wrapper)
STAND_INS = {"pr/pr_region_wrapper.v": {"stage_rm": ROOT.parent / "sim" / "pr" / "stage_rm_model.v"}}

CORNERS: list[Primitive] = [
    StreamFifo(1, 2), StreamFifo(24, 512), StreamFifo(33, 64),
    StreamFork(1, 1), StreamFork(7, 3),
    CondBuffer(1, 1, 2), CondBuffer(24, 144, 256), CondBuffer(8, 16, 16), CondBuffer(5, 7, 8),
    StreamGather(1, 2), StreamGather(5, 3, aligned=True), StreamGather(8, 8),
    StreamSplit(1, 2), StreamSplit(5, 3), StreamSplit(8, 8),
]


def lint(path, parameters: dict[str, int] | None = None, library: list | None = None) -> subprocess.CompletedProcess:
    setup_verilator()
    params = [f"-G{k}={v}" for k, v in (parameters or {}).items()]
    search = [arg for folder in [*FOLDERS, *(library or [])] for arg in ("-y", str(folder))]  # what it instantiates
    return subprocess.run(["verilator", "--lint-only", "-Wall", *search, *params, str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("relative", HAND_WRITTEN)
def test_hand_written_module_is_lint_clean(relative, tmp_path):
    for module, stand_in in STAND_INS.get(relative, {}).items():
        shutil.copy(stand_in, tmp_path / f"{module}.v")
    result = lint(ROOT / relative, library=[tmp_path])
    assert result.returncode == 0, f"{relative}:\n{result.stderr}"


@pytest.mark.parametrize("primitive", CORNERS, ids=repr)
def test_streaming_primitive_is_lint_clean_at_parameter_corners(primitive):
    (path,) = primitive.files
    result = lint(path, primitive.parameters)
    assert result.returncode == 0, f"{primitive}:\n{result.stderr}"
