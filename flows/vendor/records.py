"""Vendor resource records: the open flow's ``ResourceRecord`` plus what vendor reports add.

Same keys as the Yosys side (``lut, ff, carry4, dsp, bram, lut_levels, source,
seconds``; ``bram`` in RAMB36 equivalents = RAMB36 + RAMB18 / 2) so compare and
the report treat both flows alike. A field a report does not give is ``None``
(e.g. HLS estimates have no CARRY4 count and no LUT levels). On UltraScale+
parts ``carry4`` counts the CARRY8 cells (the family's carry primitive).
"""
from __future__ import annotations

from dataclasses import dataclass

from flows.yosys import ResourceRecord

SOURCES = ("vivado_hls", "vitis_hls", "vivado_synth", "vivado_impl")


@dataclass
class VendorRecord(ResourceRecord):
    index: int | None = None            # stage / exit-unit index when the record is one block of a design
    name: str | None = None             # instance or top-level name the figures belong to
    latency_cycles: int | None = None   # worst-case latency (HLS estimate or co-simulation)
    latency_min_cycles: int | None = None
    ii_cycles: int | None = None        # initiation interval (max)
    clock_ns: float | None = None       # estimated (HLS) or achieved (Vivado timing) clock period
    target_clock_ns: float | None = None
    wns_ns: float | None = None
    power_w: float | None = None        # total on-chip power
    dynamic_power_w: float | None = None
    part: str | None = None

    @property
    def fmax_mhz(self) -> float | None:
        return None if not self.clock_ns else 1000.0 / self.clock_ns


def vendor_record(source: str, **fields) -> VendorRecord:
    """A record with every unknown count left as None (not 0: absent is not zero)."""
    if source not in SOURCES:
        raise ValueError(f"unknown vendor report source {source!r}; use one of {', '.join(SOURCES)}")
    base = {"lut": None, "ff": None, "carry4": None, "dsp": None, "bram": None, "lut_levels": None,
            "seconds": 0.0}
    base.update(fields)
    return VendorRecord(source=source, **base)
