"""Region sizing (7-series frame model) and the stage-to-region mappings.

A reconfigurable partition is a rectangle ``height`` clock regions tall and a
whole number of CLB, DSP and BRAM columns wide. A 7-series configuration frame
spans one column of one clock region (UG470), so the partial bitstream holds
``height * sum(columns * frames per column)`` frames plus one pad frame per
clock-region row and a fixed header. Reconfiguration time = bytes / port bandwidth.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .inputs import RESOURCES, PrError, ReconfigSpec, StageCost


@dataclass(frozen=True)
class Region:
    stages: tuple[int, ...]
    need: dict[str, float]          # largest assigned stage per resource, with the margin
    height: int                     # clock regions
    columns: dict[str, int]         # clb, dsp, bram
    provides: dict[str, float]      # what the pblock holds
    frames: int
    bitstream_bytes: int
    reconfig_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def size_region(stages: list[StageCost], spec: ReconfigSpec, margin: float, width_scale: float = 1.0) -> Region:
    """Smallest pblock (fewest frames) holding the largest of ``stages`` plus ``margin``.

    The pblock must fit across one clock-region row (``columns_per_row``, times ``width_scale``
    for a hypothetical wider device); PrError when no height makes it fit.
    """
    if not stages:
        raise PrError("a reconfigurable region needs at least one stage")
    if margin < 0:
        raise PrError(f"region margin {margin} is negative; use e.g. 0.2 for 20 % headroom")
    need = {r: max(float(s.resources()[r]) for s in stages) * (1 + margin) for r in RESOURCES}
    f = spec.frames
    best = None
    for h in range(1, spec.clock_region_rows + 1):
        cols = {"clb": max(1, math.ceil(need["lut"] / (spec.lut_per_clb_column * h)),
                           math.ceil(need["ff"] / (spec.ff_per_clb_column * h))),
                "dsp": math.ceil(need["dsp"] / (spec.dsp_per_column * h)),
                "bram": math.ceil(need["bram"] / (spec.bram_per_column * h))}
        if any(cols[c] > spec.columns_per_row[c] * width_scale for c in cols):
            continue
        frames = h * (cols["clb"] * f["clb"] + cols["dsp"] * f["dsp"] + cols["bram"] * (f["bram"] + f["bram_content"]))
        if best is None or frames < best[0]:
            best = (frames, h, cols)
    if best is None:
        raise PrError(f"a region for stages {[s.index for s in stages]} ({need['lut']:,.0f} LUT, {need['dsp']:g} DSP, "
                      f"{need['bram']:g} BRAM with {100 * margin:g} % margin) does not fit in "
                      f"{spec.clock_region_rows} clock-region rows of {spec.columns_per_row['clb']} CLB / "
                      f"{spec.columns_per_row['dsp']} DSP / {spec.columns_per_row['bram']} BRAM columns")
    frames, h, cols = best
    provides = {"lut": cols["clb"] * spec.lut_per_clb_column * h, "ff": cols["clb"] * spec.ff_per_clb_column * h,
                "dsp": cols["dsp"] * spec.dsp_per_column * h, "bram": cols["bram"] * spec.bram_per_column * h}
    nbytes = bitstream_bytes(frames, h, spec)
    return Region(stages=tuple(s.index for s in stages), need={k: round(v, 1) for k, v in need.items()},
                  height=h, columns=cols, provides=provides, frames=frames, bitstream_bytes=nbytes,
                  reconfig_s=reconfig_seconds(nbytes, spec))


def bitstream_bytes(frames: int, height: int, spec: ReconfigSpec) -> int:
    """Partial bitstream size: frame data, one pad frame per clock-region row, header/commands."""
    return frames * spec.frame_bytes + height * spec.frame_bytes + spec.overhead_bytes


def reconfig_seconds(nbytes: int, spec: ReconfigSpec) -> float:
    return nbytes / spec.port_bytes_per_s


@dataclass(frozen=True)
class Mapping:
    """Which stages stay resident (static) and which time-share one reconfigurable region."""

    name: str                       # all_resident | single_region | mixed
    static_stages: tuple[int, ...]
    region_stages: tuple[int, ...]

    @property
    def is_pr(self) -> bool:
        return len(self.region_stages) > 1

    def region_of(self, k: int) -> int | None:
        return 0 if k in self.region_stages else None

    def to_dict(self) -> dict:
        return {"name": self.name, "static_stages": list(self.static_stages),
                "region_stages": list(self.region_stages)}


def candidate_mappings(n_stages: int) -> list[Mapping]:
    """All resident; one region for all; stages 1..m static and the rest sharing a region."""
    ks = tuple(range(1, n_stages + 1))
    out = [Mapping("all_resident", ks, ())]
    if n_stages >= 2:
        out.append(Mapping("single_region", (), ks))
    for m in range(1, n_stages - 1):
        out.append(Mapping("mixed", ks[:m], ks[m:]))
    return out


def used_resources(mapping: Mapping, stages: list[StageCost], exit_units: list[StageCost], spec: ReconfigSpec,
                   region: Region | None) -> dict[str, float]:
    """Static design + exit units + resident stages + the whole pblock (reserved even when partly empty)."""
    used = dict(spec.static)
    for s in exit_units + [s for s in stages if s.index in mapping.static_stages]:
        for r in RESOURCES:
            used[r] += s.resources()[r]
    if region is not None:
        for r in RESOURCES:
            used[r] += region.provides[r]
    return {r: round(v, 1) for r, v in used.items()}


def fits(used: dict[str, float], capacity: dict[str, float]) -> bool:
    return all(used[r] <= capacity[r] for r in RESOURCES)
