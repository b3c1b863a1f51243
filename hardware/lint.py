"""Verilator lint of the project's RTL: ``verilator --lint-only -Wall``, no blanket waivers.

Every hand-written module and every generator's output is meant to pass with no warning at all;
where a warning is intended (bits a design drops on purpose, a constant truncated to a counter's
width), the module says so with a targeted ``// verilator lint_off <RULE>`` and a reason beside it.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from flows.tools import setup_verilator

MODULE = re.compile(r"^\s*module\s+([A-Za-z_]\w*)", re.MULTILINE)


def modules_in(path: Path) -> list[str]:
    """Names of the modules a Verilog file defines."""
    return MODULE.findall(Path(path).read_text())


def lint(sources: list[Path], top: str, parameters: dict[str, int] | None = None,
         library: list[Path] = ()) -> list[str]:
    """Warnings and errors of ``verilator --lint-only -Wall`` on ``top`` (empty: lint-clean).

    sources: the files to compile, in any order; library: folders searched for modules by file name
    (``-y``); parameters: top-level overrides (``-G``)."""
    root = setup_verilator()
    cmd = [str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-G{k}={v}" for k, v in (parameters or {}).items()]
    for folder in library:
        cmd += ["-y", str(folder)]
    seen: set[Path] = set()
    for s in sources:
        p = Path(s).resolve()
        if p not in seen:
            seen.add(p)
            cmd.append(str(p))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("%")]
    if proc.returncode and not lines:
        lines = [f"%Error: verilator exited with {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:500]}"]
    return [ln for ln in lines if not ln.startswith("%Error: Exiting due to")]
