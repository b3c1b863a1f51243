"""Read toggle counts per instance from a SAIF file (Verilator ``--trace-saif``).

Only what the energy model needs: for every instance path (``top/u_stage1/...``)
the number of net bits and the sum of their toggle counts (TC), plus the
trace duration. ``subtree`` sums an instance and everything below it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_TC = re.compile(r"\(TC (\d+)\)")
_DURATION = re.compile(r"\(DURATION (\d+)\)")
_TIMESCALE = re.compile(r"\(TIMESCALE (\d+)\s*(fs|ps|ns|us|ms|s)\)")
_UNIT_S = {"fs": 1e-15, "ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class SaifActivity:
    duration_s: float
    toggles: dict[str, int] = field(default_factory=dict)  # instance path -> sum of TC of its own nets
    nets: dict[str, int] = field(default_factory=dict)     # instance path -> number of its own net bits

    def subtree(self, path: str) -> tuple[int, int]:
        """(toggles, net bits) of ``path`` and every instance below it."""
        prefix = path + "/"
        keys = [p for p in self.nets if p == path or p.startswith(prefix)]
        return sum(self.toggles[p] for p in keys), sum(self.nets[p] for p in keys)

    def find(self, instance: str) -> str:
        """Full path of the instance whose last component is ``instance`` (unique)."""
        hits = [p for p in self.nets if p.rsplit("/", 1)[-1] == instance]
        if len(hits) != 1:
            raise ValueError(f"instance {instance!r} occurs {len(hits)} times in the SAIF; expected once")
        return hits[0]


def read_saif(path: Path) -> SaifActivity:
    scopes: list[str] = []  # open parentheses that span lines: instance names, or '' for others
    duration, unit = 0, 1e-12
    act = SaifActivity(0.0)
    with open(path) as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            if line.startswith("(INSTANCE"):
                name = line.split(None, 1)[1].strip() if " " in line else "?"
                scopes.append(name)
                key = "/".join(s for s in scopes if s)
                act.toggles.setdefault(key, 0)
                act.nets.setdefault(key, 0)
            elif line == ")":
                if scopes:
                    scopes.pop()
            elif line.startswith("(TIMESCALE"):
                m = _TIMESCALE.search(line)
                if m:
                    unit = int(m.group(1)) * _UNIT_S[m.group(2)]
            elif line.startswith("(DURATION"):
                duration = int(_DURATION.search(line).group(1))
            elif "(TC " in line:
                key = "/".join(s for s in scopes if s)
                act.toggles[key] = act.toggles.get(key, 0) + int(_TC.search(line).group(1))
                act.nets[key] = act.nets.get(key, 0) + 1
            elif line.count("(") > line.count(")"):
                scopes.append("")  # SAIFILE, NET, ... blocks
    act.duration_s = duration * unit
    return act
