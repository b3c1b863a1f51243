"""Input records of the partial-reconfiguration model and where they come from.

Stage and exit-unit costs come from the resource report of the stage cores
(Yosys ``synth_xilinx``) and the pipeline simulation; exit rates from
calibration; configuration-port, frame and power figures from the board file
(``boards/<board>.yaml`` keys ``reconfiguration:`` and ``power:``, each figure
``{value: ..., source: ...}``). Tests build these records by hand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flows.errors import UserError

RESOURCES = ("lut", "ff", "dsp", "bram")


class PrError(UserError):
    """Bad input to the PR model; the message names the problem and the fix."""


@dataclass(frozen=True)
class StageCost:
    """One stage core: resources, timing in clock cycles, and DDR traffic per sample.

    latency_cycles: first input to last output of one sample (exit decision included);
    ii_cycles: cycles between samples when streaming; in_bytes/out_bytes: what one
    sample reads from and writes back to DDR when the stage runs alone in a region.
    """

    index: int
    lut: int
    ff: int
    dsp: int = 0
    bram: float = 0.0          # RAMB36 equivalents
    latency_cycles: float = 1.0
    ii_cycles: float = 1.0
    in_bytes: int = 0
    out_bytes: int = 0

    def resources(self) -> dict[str, float]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram": self.bram}


@dataclass(frozen=True)
class ExitProfile:
    """Fraction of all samples leaving at each exit (exit 1 first; they sum to 1)."""

    rates: tuple[float, ...]

    def __post_init__(self) -> None:
        rates = tuple(float(r) for r in self.rates)
        if not rates or any(r < 0 or math.isnan(r) for r in rates):
            raise PrError(f"exit rates {list(self.rates)} must be non-negative numbers, one per exit")
        if abs(sum(rates) - 1.0) > 1e-6:
            raise PrError(f"exit rates {list(rates)} sum to {sum(rates):.6g}, not 1; give the fraction of all "
                          "samples leaving at each exit (the last exit takes the rest)")
        object.__setattr__(self, "rates", rates)

    def reach(self, k: int) -> float:
        """Fraction of samples that need stage k (1-based)."""
        return float(sum(self.rates[k - 1:]))


@dataclass(frozen=True)
class Figure:
    value: float
    source: str


@dataclass(frozen=True)
class ReconfigSpec:
    """What the board file says about reconfiguration (7-series frame model)."""

    port: str                          # pcap | icap
    port_bytes_per_s: float
    frame_bytes: int                   # 101 words x 4 bytes on 7-series
    overhead_bytes: int                # header, sync and command words of one partial bitstream
    clock_region_rows: int
    lut_per_clb_column: int            # per clock-region height
    ff_per_clb_column: int
    dsp_per_column: int
    bram_per_column: int
    frames: dict[str, int]             # clb, dsp, bram, bram_content: frames per column per clock region
    columns_per_row: dict[str, int]    # clb, dsp, bram columns across one clock-region row
    static: dict[str, float]           # static region cost (PS glue, DMA, interconnect, decoupler)
    dma_bytes_per_s: float
    dma_setup_s: float
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PowerSpec:
    pl_static_w: float
    ps_w: float
    reconfig_w: float
    w_per_klut: float
    w_per_dsp: float
    w_per_bram: float
    reference_mhz: float
    sources: dict[str, str] = field(default_factory=dict)

    def dynamic_w(self, res: dict[str, float], clock_mhz: float) -> float:
        """Active power of a core from its resources, scaled linearly with the clock."""
        w = res["lut"] / 1000 * self.w_per_klut + res["dsp"] * self.w_per_dsp + res["bram"] * self.w_per_bram
        return w * clock_mhz / self.reference_mhz


def _figure(block: dict, key: str, where: str) -> Figure:
    if key not in block:
        raise PrError(f"board file lacks {where}.{key}; add it as {{value: ..., source: ...}} "
                      "(see boards/pynq-z2.yaml)")
    item = block[key]
    if isinstance(item, dict):
        if "value" not in item:
            raise PrError(f"board file {where}.{key} has no value; write {{value: ..., source: ...}}")
        return Figure(float(item["value"]), str(item.get("source", "")))
    return Figure(float(item), "")


def reconfig_spec(board) -> ReconfigSpec:
    """Read ``reconfiguration:`` of a board; clear errors for a missing configuration port."""
    block = (board.extra or {}).get("reconfiguration")
    if not block:
        raise PrError(f"board {board.name} has no reconfiguration: block; add the configuration port, frame "
                      "and column figures (see boards/pynq-z2.yaml)")
    port = str(block.get("port", "")).lower()
    ports = block.get("ports") or {}
    if not port or port not in ports:
        raise PrError(f"board {board.name}: reconfiguration.port {port or '(none)'} has no bandwidth figure "
                      f"under reconfiguration.ports; give ports.{port or 'pcap'}.bytes_per_s with its source")
    bw = _figure(ports[port], "bytes_per_s", f"reconfiguration.ports.{port}")
    if bw.value <= 0:
        raise PrError(f"board {board.name}: configuration port {port} bandwidth must be positive")
    sources = {"port_bytes_per_s": bw.source}
    vals = {}
    for key in ("frame_words", "word_bytes", "overhead_bytes", "clock_region_rows", "lut_per_clb_column",
                "ff_per_clb_column", "dsp_per_column", "bram_per_column", "dma_bytes_per_s", "dma_setup_s"):
        fig = _figure(block, key, "reconfiguration")
        vals[key], sources[key] = fig.value, fig.source
    frames_block = block.get("frames_per_column") or {}
    frames = {}
    for key in ("clb", "dsp", "bram", "bram_content"):
        fig = _figure(frames_block, key, "reconfiguration.frames_per_column")
        frames[key], sources[f"frames_{key}"] = int(fig.value), fig.source
    row_block = block.get("columns_per_row") or {}
    columns_per_row = {}
    for key in ("clb", "dsp", "bram"):
        fig = _figure(row_block, key, "reconfiguration.columns_per_row")
        columns_per_row[key], sources[f"columns_per_row_{key}"] = int(fig.value), fig.source
    static_block = block.get("static_region") or {}
    static = {k: float(static_block.get(k, 0)) for k in RESOURCES}
    sources["static_region"] = str(static_block.get("source", ""))
    return ReconfigSpec(
        port=port, port_bytes_per_s=bw.value, frame_bytes=int(vals["frame_words"] * vals["word_bytes"]),
        overhead_bytes=int(vals["overhead_bytes"]), clock_region_rows=int(vals["clock_region_rows"]),
        lut_per_clb_column=int(vals["lut_per_clb_column"]), ff_per_clb_column=int(vals["ff_per_clb_column"]),
        dsp_per_column=int(vals["dsp_per_column"]), bram_per_column=int(vals["bram_per_column"]),
        frames=frames, columns_per_row=columns_per_row, static=static, dma_bytes_per_s=vals["dma_bytes_per_s"], dma_setup_s=vals["dma_setup_s"],
        sources=sources)


def power_spec(board) -> PowerSpec:
    block = (board.extra or {}).get("power")
    if not block:
        raise PrError(f"board {board.name} has no power: block; add pl_static_w, ps_w, reconfig_w and the "
                      "per-resource dynamic figures (see boards/pynq-z2.yaml)")
    keys = ("pl_static_w", "ps_w", "reconfig_w", "w_per_klut", "w_per_dsp", "w_per_bram", "reference_mhz")
    figs = {k: _figure(block, k, "power") for k in keys}
    return PowerSpec(**{k: f.value for k, f in figs.items()}, sources={k: f.source for k, f in figs.items()})


def device_capacity(board) -> dict[str, float]:
    r = board.resources
    return {"lut": r["lut"], "ff": r["ff"], "dsp": r["dsp"], "bram": r["bram36"]}


# ---- report.json -> input records -------------------------------------------------

def _records(block: Any, key: str) -> list[dict]:
    if isinstance(block, list):
        return block if key == "stages" else []
    if isinstance(block, dict):
        return list(block.get(key) or [])
    return []


def _bytes_of(shape: list[int] | None, element_bytes: int) -> int:
    return int(math.prod(shape) * element_bytes) if shape else 0


def _stream_bytes(bits: int | None, word_bits: int = 32) -> int:
    """Bytes one sample occupies on the 32-bit DMA stream."""
    return int(math.ceil(bits / word_bits) * word_bits // 8) if bits else 0


def pr_inputs_from_report(report: dict, element_bytes: int = 2):
    """(stages, exit_units, rates, board_name) from a report.json dict.

    Needs ``resources.stages`` (records {index, lut, ff, dsp, bram, ...}); exit
    units from ``resources.exit_units`` (may be empty); exit rates from
    ``exits[*].exit_rate``; latency from ``sim.stages[*]`` / ``sim.exits[*]``
    ``latency_cycles`` (a number or {mean: ...}) else the resource record's
    ``latency_cycles``, else 1. DDR traffic per sample is the stage input and the
    forwarded tensor (next stage's input) at ``element_bytes`` per element, or, when a ``sim.stages`` or
    resources record has the core's port widths (``in_width``/``out_width`` bits), whole 32-bit DMA words.
    """
    res_stages = _records(report.get("resources"), "stages")
    if not res_stages:
        raise PrError("report has no resources.stages block (per-stage LUT/FF/DSP/BRAM); run `make synth` with "
                      "the stage RTL and Yosys steps first, or build StageCost records by hand")
    exits = report.get("exits") or []
    if not exits:
        raise PrError("report has no exits block with exit_rate per exit; run calibration (`make synth`) first")
    rates = ExitProfile(tuple(float(e["exit_rate"]) for e in sorted(exits, key=lambda e: e["index"])))
    sim = report.get("sim") or {}
    lat: dict[int, float] = {}
    ii: dict[int, float] = {}
    for rec in _records(sim, "stages") + _records(sim, "exits"):
        value = rec.get("latency_cycles")
        if isinstance(value, dict):
            value = value.get("mean")
        if value is not None:
            lat[int(rec["index"])] = max(lat.get(int(rec["index"]), 0.0), float(value))
        if rec.get("ii_cycles") is not None:
            ii[int(rec["index"])] = float(rec["ii_cycles"])
    shapes = {int(s["index"]): s.get("input_shape") for s in report.get("stages") or []}
    widths: dict[int, dict] = {}     # port widths in bits, when the stage RTL step recorded them
    for rec in _records(sim, "stages") + res_stages:
        for key in ("in_width", "out_width"):
            if rec.get(key):
                widths.setdefault(int(rec["index"]), {})[key] = int(rec[key])
    stages = []
    for r in sorted(res_stages, key=lambda r: r["index"]):
        k = int(r["index"])
        stages.append(StageCost(
            index=k, lut=int(r["lut"]), ff=int(r["ff"]), dsp=int(r.get("dsp", 0)), bram=float(r.get("bram", 0)),
            latency_cycles=float(lat.get(k, r.get("latency_cycles") or 1)),
            ii_cycles=float(ii.get(k, r.get("ii_cycles") or 1)),
            in_bytes=_stream_bytes(widths.get(k, {}).get("in_width")) or _bytes_of(shapes.get(k), element_bytes),
            out_bytes=(_stream_bytes(widths.get(k, {}).get("out_width")) if k in widths
                       else _bytes_of(shapes.get(k + 1), element_bytes))))
    if len(stages) != len(rates.rates):
        raise PrError(f"report has resources for {len(stages)} stages but {len(rates.rates)} exit rates; "
                      "rerun `make synth` so both come from the same model")
    exit_units = [StageCost(index=int(r["index"]), lut=int(r["lut"]), ff=int(r["ff"]), dsp=int(r.get("dsp", 0)),
                            bram=float(r.get("bram", 0))) for r in _records(report.get("resources"), "exit_units")]
    return stages, exit_units, rates, report.get("board")
