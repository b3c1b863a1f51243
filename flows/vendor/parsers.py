"""Parsers for Vivado/Vitis HLS and Vivado reports into ``VendorRecord``s.

One function per report kind, each reading the text or XML the tool writes:

- ``parse_csynth_xml`` / ``parse_csynth_rpt``: HLS C-synthesis (``<top>_csynth.xml`` / ``.rpt``),
  Vivado HLS and Vitis HLS: latency, interval, estimated clock, LUT/FF/DSP/BRAM_18K.
- ``parse_hls4ml_project``: a whole hls4ml project directory, read with hls4ml's own
  ``hls4ml.report.parse_vivado_report`` (C-synthesis, co-simulation and the
  ``vivado_synth.rpt`` that hls4ml's ``build(vsynth=True)`` writes).
- ``parse_utilization``: ``report_utilization`` (flat); ``parse_utilization_hierarchy``:
  ``report_utilization -hierarchical``, one record per instance.
- ``parse_timing_summary``: ``report_timing_summary`` (WNS, TNS, WHS, achieved clock).
- ``parse_power``: ``report_power`` summary (total, dynamic, static power).
"""
from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError
from flows.vendor.records import VendorRecord, vendor_record


class ReportFormatError(UserError):
    """A report file is not what its parser expects; the message names the file."""


def _read(path: Path | str) -> str:
    path = Path(path)
    if not path.is_file():
        raise ReportFormatError(f"report {path} does not exist; run the vendor flow first (FLOW=vendor)")
    return path.read_text(errors="replace")


def _num(text: str | None) -> float | None:
    """'1,234' / '1234(2.3%)' / '-' -> number or None."""
    if text is None:
        return None
    m = re.match(r"\s*(-?[\d,]*\.?\d+)", text)
    return float(m.group(1).replace(",", "")) if m else None


def _int(text: str | None) -> int | None:
    value = _num(text)
    return None if value is None else int(round(value))


# ---------------------------------------------------------------- HLS C-synthesis

def parse_csynth_xml(path: Path | str) -> VendorRecord:
    """``<top>_csynth.xml`` of Vivado HLS or Vitis HLS (BRAM_18K halves into RAMB36 equivalents)."""
    text = _read(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReportFormatError(f"{path} is not a C-synthesis XML report ({exc})") from None
    perf, area = root.find("PerformanceEstimates"), root.find("AreaEstimates/Resources")
    if perf is None or area is None:
        raise ReportFormatError(f"{path} has no PerformanceEstimates/AreaEstimates; is it a *_csynth.xml?")

    def get(node, tag):
        found = node.find(tag)
        return None if found is None else found.text

    latency = perf.find("SummaryOfOverallLatency")
    res = {child.tag: child.text for child in area}
    bram18 = _int(res.get("BRAM_18K"))
    user = root.find("UserAssignments")
    return vendor_record(
        "vitis_hls" if _is_vitis(root) else "vivado_hls",
        name=get(user, "TopModelName") if user is not None else None,
        part=get(user, "Part") if user is not None else None,
        lut=_int(res.get("LUT")), ff=_int(res.get("FF")), dsp=_int(res.get("DSP48E", res.get("DSP"))),
        bram=None if bram18 is None else bram18 / 2, ramb18=bram18 or 0,
        latency_cycles=_int(get(latency, "Worst-caseLatency")) if latency is not None else None,
        latency_min_cycles=_int(get(latency, "Best-caseLatency")) if latency is not None else None,
        ii_cycles=_int(get(latency, "Interval-max")) if latency is not None else None,
        clock_ns=_num(get(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        target_clock_ns=_num(get(user, "TargetClockPeriod")) if user is not None else None,
    )


def _is_vitis(root: ET.Element) -> bool:
    # Vitis HLS names the DSP column "DSP" (Vivado HLS: "DSP48E") and writes Version 2020.2 or later
    return root.find("AreaEstimates/Resources/DSP") is not None


def parse_csynth_rpt(path: Path | str) -> VendorRecord:
    """The text ``<top>_csynth.rpt``: the Timing, Latency and Utilization summary tables."""
    text = _read(path)
    if "Performance Estimates" not in text or "Utilization Estimates" not in text:
        raise ReportFormatError(f"{path} lacks the Performance/Utilization Estimates sections; "
                                "pass a *_csynth.rpt from Vivado HLS or Vitis HLS")
    top = re.search(r"== (?:Vivado|Vitis) HLS Report for '([^']+)'", text)
    if top is None:
        raise ReportFormatError(f"{path} has no '== Vivado/Vitis HLS Report for' header; pass a *_csynth.rpt")
    part = re.search(r"\*\s*Target device:\s*(\S+)", text)
    timing = re.search(r"\|\s*ap_clk\s*\|\s*([\d.]+)\s*ns\s*\|\s*([\d.]+)\s*ns", text)
    # first data row after the "Latency (cycles)" header: | min | max | abs min | abs max | ii min | ii max | type |
    lat = re.search(r"\+ Latency:.*?\n\s*\|\s*(\d+)\|\s*(\d+)\|[^|]*\|[^|]*\|\s*(\d+)\|\s*(\d+)\|", text, re.S)
    util = _util_summary(text)
    bram18 = util.get("BRAM_18K")
    return vendor_record(
        "vitis_hls" if "Vitis HLS Report" in text else "vivado_hls", name=top.group(1), part=part.group(1) if part else None,
        lut=util.get("LUT"), ff=util.get("FF"), dsp=util.get("DSP48E", util.get("DSP")),
        bram=None if bram18 is None else bram18 / 2, ramb18=bram18 or 0,
        latency_min_cycles=int(lat.group(1)) if lat else None, latency_cycles=int(lat.group(2)) if lat else None,
        ii_cycles=int(lat.group(4)) if lat else None,
        target_clock_ns=float(timing.group(1)) if timing else None,
        clock_ns=float(timing.group(2)) if timing else None)


def _util_summary(text: str) -> dict[str, int]:
    """The 'Total' row of the Utilization Estimates summary table, keyed by its column names."""
    section = text.split("Utilization Estimates", 1)[1]
    header = re.search(r"^\|\s*Name\s*\|(.*)\|\s*$", section, re.M)
    total = re.search(r"^\|Total\s*\|(.*)\|\s*$", section, re.M)
    if not header or not total:
        return {}
    names = [h.strip() for h in header.group(1).split("|")]
    values = [v.strip() for v in total.group(1).split("|")]
    return {n: _int(v) for n, v in zip(names, values) if _int(v) is not None}


def parse_hls4ml_project(project_dir: Path | str) -> list[VendorRecord]:
    """An hls4ml project after ``build()``: HLS estimates and, if present, hls4ml's Vivado synthesis.

    Reads through ``hls4ml.report.parse_vivado_report`` (its console chatter is swallowed);
    co-simulation latency, when hls4ml found it, replaces the C-synthesis estimate.
    """
    from hls4ml.report import parse_vivado_report

    project_dir = Path(project_dir)
    if not (project_dir / "project.tcl").is_file():
        raise ReportFormatError(f"{project_dir} is not an hls4ml project (no project.tcl); "
                                "pass the directory given to hls4ml as output_dir")
    with contextlib.redirect_stdout(io.StringIO()):
        data = parse_vivado_report(str(project_dir)) or {}
    records = []
    csynth = data.get("CSynthesisReport")
    if csynth:
        bram18 = _int(csynth.get("BRAM_18K"))
        cosim = data.get("CosimReport") or {}
        records.append(vendor_record(
            "vitis_hls" if _vitis_project(project_dir) else "vivado_hls",
            lut=_int(csynth.get("LUT")), ff=_int(csynth.get("FF")), dsp=_int(csynth.get("DSP")),
            bram=None if bram18 is None else bram18 / 2, ramb18=bram18 or 0,
            latency_cycles=_int(str(cosim.get("LatencyMax", csynth.get("WorstLatency")))),
            latency_min_cycles=_int(str(cosim.get("LatencyMin", csynth.get("BestLatency")))),
            ii_cycles=_int(str(cosim.get("IntervalMax", csynth.get("IntervalMax")))),
            clock_ns=_num(csynth.get("EstimatedClockPeriod")), target_clock_ns=_num(csynth.get("TargetClockPeriod"))))
    if (project_dir / "vivado_synth.rpt").is_file():
        # hls4ml's own reading keeps only 4 figures; the full report gives FF split, CARRY4 and RAMB18
        records.append(parse_utilization(project_dir / "vivado_synth.rpt"))
    if not records:
        raise ReportFormatError(f"{project_dir} has no synthesis reports yet; run the vendor flow "
                                "(hls_model.build(synth=True)) first")
    return records


def _vitis_project(project_dir: Path) -> bool:
    return 'set backend "vitis"' in (project_dir / "project.tcl").read_text()


# ---------------------------------------------------------------- Vivado utilisation

def _sections(text: str) -> dict[str, str]:
    """Numbered sections ('1. Slice Logic', '2. Memory', ...) of a Vivado report, by title."""
    parts = re.split(r"^(\d+(?:\.\d+)*)\. ([^\n]+)\n-+\n", text, flags=re.M)
    return {parts[i + 1].strip(): parts[i + 2] for i in range(1, len(parts) - 2, 3)}


def _site_rows(section: str) -> dict[str, tuple[float | None, float | None]]:
    """'| Site Type | Used | ... | Available | Util% |' rows -> {site: (used, available)}."""
    rows: dict[str, tuple[float | None, float | None]] = {}
    header: list[str] | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            if cells and cells[0] in ("Site Type", "Ref Name"):
                header = cells
            continue
        name = cells[0].rstrip("*").strip()
        col = {h: c for h, c in zip(header, cells)}
        rows.setdefault(name, (_num(col.get("Used")), _num(col.get("Available"))))
    return rows


def parse_utilization(path: Path | str, source: str | None = None) -> VendorRecord:
    """Flat ``report_utilization`` (7-series 'Slice' or UltraScale 'CLB' wording).

    ``source`` is "vivado_synth" or "vivado_impl"; by default it follows the report's Design State.
    """
    text = _read(path)
    if "report_utilization" not in text and "Utilization Design Information" not in text:
        raise ReportFormatError(f"{path} is not a Vivado report_utilization file")
    state = re.search(r"\|\s*Design State\s*:\s*(.+?)\s*$", text, re.M)
    if source is None:
        source = "vivado_impl" if state and re.search(r"Routed|Placed", state.group(1), re.I) else "vivado_synth"
    # site rows are uniquely named across sections ('Slice Logic'/'Memory'/'DSP' on 7-series,
    # 'CLB Logic'/'BLOCKRAM'/'ARITHMETIC' on UltraScale+), so read them from every section but Primitives
    sections = _sections(text)
    site: dict[str, tuple[float | None, float | None]] = {}
    for title, body in sections.items():
        if title != "Primitives":
            for name, value in _site_rows(body).items():
                site.setdefault(name, value)
    prims = _site_rows(sections.get("Primitives", ""))
    lut = site.get("Slice LUTs", site.get("CLB LUTs", (None, None)))[0]
    ff = site.get("Slice Registers", site.get("CLB Registers", (None, None)))[0]
    r36 = site.get("RAMB36/FIFO", (0, None))[0] or 0
    r18 = site.get("RAMB18", (0, None))[0] or 0
    tiles = site.get("Block RAM Tile", (None, None))[0]
    dsps = site.get("DSPs", (None, None))[0]
    carry = sum(prims.get(c, (0, None))[0] or 0 for c in ("CARRY4", "CARRY8")) if prims else None
    design = re.search(r"\|\s*Design\s*:\s*(\S+)", text)
    device = re.search(r"\|\s*Device\s*:\s*(\S+)", text)
    if lut is None:
        raise ReportFormatError(f"{path}: no 'Slice LUTs' / 'CLB LUTs' row found in section 1")
    return vendor_record(
        source, name=design.group(1) if design else None, part=device.group(1) if device else None,
        lut=int(lut), ff=None if ff is None else int(ff), carry4=None if carry is None else int(carry),
        dsp=None if dsps is None else int(dsps),
        bram=float(tiles) if tiles is not None else r36 + r18 / 2,  # a Block RAM Tile is one RAMB36 site
        ramb36=int(r36), ramb18=int(r18),
        lut_as_memory=int(site.get("LUT as Memory", (0, None))[0] or 0))


def parse_utilization_hierarchy(path: Path | str, depth: int | None = None,
                                source: str = "vivado_impl") -> list[VendorRecord]:
    """``report_utilization -hierarchical``: one record per instance row (``depth`` = indent level, 0 = top)."""
    text = _read(path)
    header = None
    records = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        raw = line.strip()[1:-1].split("|")
        cells = [c.strip() for c in raw]
        if header is None:
            if cells and cells[0] == "Instance":
                header = cells
            continue
        level = (len(raw[0]) - len(raw[0].lstrip(" ")) - 1) // 2
        if depth is not None and level != depth:
            continue
        col = dict(zip(header, cells))
        r36, r18 = _int(col.get("RAMB36")) or 0, _int(col.get("RAMB18")) or 0
        dsp_col = next((k for k in header if k.startswith("DSP")), None)
        records.append(vendor_record(
            source, name=cells[0], lut=_int(col.get("Total LUTs")), ff=_int(col.get("FFs")),
            dsp=_int(col.get(dsp_col)) if dsp_col else None, bram=r36 + r18 / 2, ramb36=r36, ramb18=r18,
            lut_as_memory=(_int(col.get("LUTRAMs")) or 0) + (_int(col.get("SRLs")) or 0)))
    if header is None:
        raise ReportFormatError(f"{path} has no 'Instance' table; write it with report_utilization -hierarchical")
    return records


# ---------------------------------------------------------------- Vivado timing and power

@dataclass(frozen=True)
class TimingSummary:
    wns_ns: float
    tns_ns: float
    whs_ns: float | None
    clock: str | None
    period_ns: float | None

    @property
    def met(self) -> bool:
        return self.wns_ns >= 0 and (self.whs_ns is None or self.whs_ns >= 0)

    @property
    def achieved_clock_ns(self) -> float | None:
        """The shortest period the worst setup path allows: period - WNS."""
        return None if self.period_ns is None else self.period_ns - self.wns_ns

    @property
    def fmax_mhz(self) -> float | None:
        achieved = self.achieved_clock_ns
        return None if not achieved or achieved <= 0 else 1000.0 / achieved


def parse_timing_summary(path: Path | str) -> TimingSummary:
    """``report_timing_summary``: the Design Timing Summary row and the first clock of the Clock Summary."""
    text = _read(path)
    block = re.search(r"WNS\(ns\)\s+TNS\(ns\).*?\n\s*-+[ -]*\n\s*(\S.*)\n", text)
    if not block:
        raise ReportFormatError(f"{path} has no Design Timing Summary table; write it with report_timing_summary")
    values = block.group(1).split()
    wns, tns = float(values[0]), float(values[1])
    whs = float(values[4]) if len(values) > 4 else None
    clock = re.search(r"^Clock\s+Waveform\(ns\)\s+Period\(ns\)\s+Frequency\(MHz\)\s*\n-+.*\n(\S+)\s+\{[^}]*\}\s+"
                      r"([\d.]+)\s+([\d.]+)", text, re.M)
    return TimingSummary(wns_ns=wns, tns_ns=tns, whs_ns=whs, clock=clock.group(1) if clock else None,
                         period_ns=float(clock.group(2)) if clock else None)


@dataclass(frozen=True)
class PowerSummary:
    total_w: float
    dynamic_w: float | None
    static_w: float | None
    junction_c: float | None
    confidence: str | None


def parse_power(path: Path | str) -> PowerSummary:
    """``report_power``: the '1. Summary' table."""
    text = _read(path)

    def row(label: str) -> str | None:
        m = re.search(r"^\|\s*" + re.escape(label) + r"\s*\|\s*([^|]+?)\s*\|", text, re.M)
        return m.group(1) if m else None

    total = _num(row("Total On-Chip Power (W)"))
    if total is None:
        raise ReportFormatError(f"{path} has no 'Total On-Chip Power (W)' row; write it with report_power")
    return PowerSummary(total_w=total, dynamic_w=_num(row("Dynamic (W)")), static_w=_num(row("Device Static (W)")),
                        junction_c=_num(row("Junction Temperature (C)")), confidence=row("Confidence Level"))


def implementation_record(utilization: Path | str, timing: Path | str | None = None,
                          power: Path | str | None = None) -> VendorRecord:
    """One ``vivado_impl`` record of a whole design: utilisation + timing + power reports."""
    record = parse_utilization(utilization, source="vivado_impl")
    if timing is not None:
        t = parse_timing_summary(timing)
        record.wns_ns, record.target_clock_ns, record.clock_ns = t.wns_ns, t.period_ns, t.achieved_clock_ns
    if power is not None:
        p = parse_power(power)
        record.power_w, record.dynamic_power_w = p.total_w, p.dynamic_w
    return record
