"""The vendor flow: which flow runs, and the Vitis/Vivado HLS + Vivado steps when the tools exist.

Steps of ``vendor_build`` (``VENDOR_STEPS``, in order): per-stage HLS through
hls4ml's own build (C simulation, synthesis, optional co-simulation, IP
export); the exit units packaged as IP; the board's block design,
implementation and bitstream; the reports parsed into ``VendorRecord``s and
returned as the report's ``resources`` block. Scripts are always written (so they can
be read or run by hand); tools run only when found. Tool logs go to files
under the build directory; a failure names the log.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flows.errors import UserError
from flows.tools import ToolMissing, VendorTools, find_vendor_tools
from flows.vendor.records import VendorRecord

if TYPE_CHECKING:
    from flows.vendor.tcl import IpCore

FLOWS = ("open", "vendor")
INSTALL_HINT = ("put Vitis HLS / Vivado (2020.1 or later) on PATH, e.g. `source <Xilinx>/Vivado/<ver>/settings64.sh`, "
                "or use FLOW=open")


class VendorFlowError(UserError):
    """A vendor tool ran and failed; the message names its log file."""


def select_flow(requested: str | None, tools: VendorTools | None = None, io_type: str | None = None,
                hls: bool = True, part: str | None = None) -> tuple[str, str]:
    """("open" | "vendor", one line saying which flow runs and why).

    ``None``/"auto": the vendor flow when vitis_hls and vivado are on PATH and the options allow it
    (HLS on, ``io_type`` io_stream or left unset: the vendor block design streams between stage
    IPs; a ``part`` with a processing system for its DMA), else the open flow. "vendor" refuses
    options it cannot build and missing tools.
    """
    from flows.vendor.tcl import processing_system

    tools = tools or find_vendor_tools()
    choice = (requested or "auto").strip().lower()
    if choice not in (*FLOWS, "auto"):
        raise UserError(f"unknown flow {requested!r}; use FLOW=open, FLOW=vendor or leave it unset (auto)")
    if choice == "open":
        return "open", "open flow (Yosys + simulation), as requested"
    blocker = None
    if not hls:
        blocker = "HLS is off (--no-hls)"
    elif io_type not in (None, "io_stream"):
        blocker = f"IO_TYPE={io_type} (the vendor block design streams between stage IPs: IO_TYPE=io_stream)"
    elif part is not None and processing_system(part) is None:
        blocker = f"part {part} has no processing system to drive the block design's DMA (use a Zynq board)"
    if choice == "vendor" and blocker:
        raise UserError(f"FLOW=vendor cannot build with {blocker}; leave IO_TYPE unset (the vendor flow uses "
                        "io_stream), keep HLS on and pick a Zynq board, or use FLOW=open")
    if tools.complete:
        if blocker:
            return "open", (f"open flow (Yosys + simulation): vitis_hls and vivado are on PATH, but the vendor "
                            f"flow cannot build with {blocker}")
        why = "as requested" if choice == "vendor" else "vitis_hls and vivado found on PATH; FLOW=open for the open flow"
        return "vendor", f"vendor flow (HLS {tools.hls}, Vivado {tools.vivado}, IO_TYPE=io_stream): {why}"
    missing = [n for n, path in (("vitis_hls (or vivado_hls)", tools.hls), ("vivado", tools.vivado)) if path is None]
    if choice == "vendor":
        raise ToolMissing(f"FLOW=vendor needs {' and '.join(missing)} on PATH; {INSTALL_HINT}")
    return "open", f"open flow (Yosys + simulation): {' and '.join(missing)} not on PATH"


def hls_command_for(backend: str) -> str:
    """The program hls4ml 1.3 runs for its build: ``vitis-run`` (Vitis backend) or ``vivado_hls`` (Vivado)."""
    if backend not in ("Vitis", "Vivado"):
        raise ValueError(f"vendor HLS needs backend Vitis or Vivado, got {backend!r}")
    return "vitis-run" if backend == "Vitis" else "vivado_hls"


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise ToolMissing(f"{program} is not on PATH; {INSTALL_HINT}")
    return path


def build_hls_stage(hls_model, backend: str, cosim: bool = False) -> list[VendorRecord]:
    """hls4ml's own build of one stage (C sim, synthesis, optional co-sim, IP export); logs in the project dir."""
    from flows.vendor.parsers import parse_hls4ml_project

    require(hls_command_for(backend))
    project = Path(hls_model.config.get_output_dir())
    try:
        hls_model.build(csim=True, synth=True, cosim=cosim, export=True, log_to_stdout=False)
    except Exception as exc:  # hls4ml raises a bare Exception on a failed build
        raise VendorFlowError(f"HLS build of {project.name} failed ({exc}); see {project / 'build_stdout.log'}") from None
    return parse_hls4ml_project(project)


def run_vivado(tcl: Path, log_dir: Path, timeout: float | None = None) -> float:
    """``vivado -mode batch -source tcl`` with its log in ``log_dir``; returns the seconds it took."""
    vivado = require("vivado")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{Path(tcl).stem}.vivado.log"
    start = time.time()
    proc = subprocess.run([vivado, "-mode", "batch", "-notrace", "-source", str(Path(tcl).resolve()), "-log", str(log),
                           "-journal", str(log_dir / f"{Path(tcl).stem}.jou")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=log_dir, timeout=timeout)
    if proc.returncode != 0:
        raise VendorFlowError(f"Vivado failed on {Path(tcl).name} (exit {proc.returncode}); see {log}")
    return time.time() - start


@dataclass
class VendorScripts:
    exit_unit_ip: list[Path] = field(default_factory=list)
    block_design: Path | None = None
    report_dir: Path | None = None


def write_vendor_scripts(design, exit_unit_sources: dict[str, list[Path]], out_dir: Path) -> VendorScripts:
    """Write the exit-unit packaging Tcl (one per unit) and the block-design/implementation Tcl."""
    from flows.vendor.tcl import block_design_tcl, exit_unit_ip_tcl

    out_dir = Path(out_dir)
    tcl_dir = out_dir / "tcl"
    tcl_dir.mkdir(parents=True, exist_ok=True)
    scripts = VendorScripts(report_dir=out_dir / "reports")
    packaged = set()
    for unit in design.exit_units:
        if unit.vlnv in packaged:      # identical exit units share one IP
            continue
        packaged.add(unit.vlnv)
        path = tcl_dir / f"package_{unit.name}.tcl"
        path.write_text(exit_unit_ip_tcl(unit.vlnv.split(":")[2], exit_unit_sources[unit.name], design.board.part,
                                         unit.repo))
        scripts.exit_unit_ip.append(path)
    scripts.block_design = tcl_dir / "block_design.tcl"
    scripts.block_design.write_text(block_design_tcl(design, out_dir / "vivado", scripts.report_dir))
    return scripts


def stage_ip_core(hls_model, index: int) -> "IpCore":
    """The IP hls4ml exports for a stage (``build(export=True)``): VLNV, repository and stream names.

    Needs ``io_stream``: the block design moves data with AXI DMA, and only stream ports
    become AXI4-Stream interfaces (named after the top function's arguments).
    """
    from flows.vendor.tcl import IpCore

    config = hls_model.config
    if config.get_config_value("IOType") != "io_stream":
        raise ValueError(f"stage {index}: the vendor block design needs IO_TYPE=io_stream (got "
                         f"{config.get_config_value('IOType')}); convert with --io-type io_stream")
    name = config.get_project_name()
    project = Path(config.get_output_dir())
    return IpCore(name=f"stage_{index}", vlnv=f"xilinx.com:hls:{name}:1.0",
                  repo=project / f"{name}_prj" / "solution1" / "impl" / "ip",
                  streams_in=[v.name for v in hls_model.get_input_variables()],
                  streams_out=[v.name for v in hls_model.get_output_variables()])


def exit_unit_ip_core(unit, index: int, ip_root: Path) -> "IpCore":
    """Where ``exit_unit_ip_tcl`` packages a generated exit unit, and its interfaces."""
    from flows.vendor.tcl import IP_LIBRARY, IP_VENDOR, IpCore

    return IpCore(name=f"exit_unit_{index}", vlnv=f"{IP_VENDOR}:{IP_LIBRARY}:{unit.top}:1.0",
                  repo=Path(ip_root) / unit.top, streams_in=["s_axis"], streams_out=["m_axis"])


def block_design_for(board, hls_models: list, units: list, ip_root: Path):
    """The ``BlockDesign`` of one build: its stage IPs (hls4ml) and generated exit units, in stage order."""
    from flows.vendor.tcl import BlockDesign

    if len(hls_models) != len(units):
        raise ValueError(f"{len(hls_models)} stages but {len(units)} exit units; give one exit unit per stage")
    first_input = hls_models[0].get_input_variables()[0].type.precision.width
    return BlockDesign(
        board=board, stages=[stage_ip_core(m, k) for k, m in enumerate(hls_models, start=1)],
        exit_units=[exit_unit_ip_core(u, k, ip_root) for k, u in enumerate(units, start=1)],
        threshold_bits=[u.cfg.confidence_format.width for u in units],
        decision_bits=[u.output_width for u in units],
        input_bytes=max(1, -(-first_input // 8)) * _stream_lanes(hls_models[0]),
        decision_bytes=max(-(-u.output_width // 8) for u in units))


def _stream_lanes(hls_model) -> int:
    """Elements per beat of hls4ml's input stream: one pixel's channels (last dimension)."""
    shape = hls_model.get_input_variables()[0].shape
    return int(shape[-1]) if len(shape) > 1 else int(shape[0])


def implementation_records(report_dir: Path, design) -> tuple[list[VendorRecord], list[VendorRecord], VendorRecord]:
    """Per-stage and per-exit-unit records from the hierarchical report, and the design total with timing/power."""
    from flows.vendor.parsers import implementation_record, parse_utilization_hierarchy
    from flows.vendor.tcl import REPORTS

    rows = {r.name: r for r in parse_utilization_hierarchy(report_dir / REPORTS["hierarchy"])}
    total = implementation_record(report_dir / REPORTS["utilization"], report_dir / REPORTS["timing"],
                                  report_dir / REPORTS["power"])

    def pick(ips):
        out = []
        for k, ip in enumerate(ips, start=1):
            record = rows.get(ip.name)
            if record is None:
                raise VendorFlowError(f"instance {ip.name} missing from {report_dir / REPORTS['hierarchy']}")
            record.index = k
            out.append(record)
        return out

    return pick(design.stages), pick(design.exit_units), total


def run_vendor_flow(design, exit_unit_sources: dict[str, list[Path]], out_dir: Path):
    """Package exit units, build and implement the block design, parse the reports (needs vivado on PATH)."""
    scripts = write_vendor_scripts(design, exit_unit_sources, out_dir)
    logs = Path(out_dir) / "logs"
    for tcl in scripts.exit_unit_ip:
        run_vivado(tcl, logs)
    seconds = run_vivado(scripts.block_design, logs)
    stages, units, total = implementation_records(scripts.report_dir, design)
    total.seconds = round(seconds, 1)
    return stages, units, total


VENDOR_STEPS = ("hls4ml build per stage (csim, synth, cosim?, export)", "package exit units as IP",
                "block design, implementation, bitstream", "parse utilisation, timing and power")


def vendor_build(board, hls_models: list, units: list, out_dir: Path, backend: str = "Vitis",
                 cosim: bool = False, progress=None) -> dict:
    """Run every vendor step for one build; returns the ``resources`` block (same shape as the open flow's).

    ``progress(step_title)`` is called before each step (for the CLI's progress display).
    """
    tools = find_vendor_tools()
    if not tools.complete:
        select_flow("vendor", tools)   # raises the one-line ToolMissing
    say = progress or (lambda title: None)
    out_dir = Path(out_dir)
    say(VENDOR_STEPS[0])
    hls = [build_hls_stage(m, backend, cosim) for m in hls_models]
    design = block_design_for(board, hls_models, units, out_dir / "ip")
    say(VENDOR_STEPS[1] + " / " + VENDOR_STEPS[2])
    stages, exit_units, total = run_vendor_flow(design, {ip.name: u.files for ip, u in zip(design.exit_units, units)},
                                                out_dir)
    say(VENDOR_STEPS[3])
    for record, estimates in zip(stages, hls):  # latency / II come from HLS (or co-simulation)
        record.latency_cycles, record.ii_cycles = estimates[0].latency_cycles, estimates[0].ii_cycles
    capacity = dict(board.resources)
    used = {"lut": total.lut, "ff": total.ff, "dsp": total.dsp, "bram36": total.bram}
    pct = {k: (None if used[k] is None else 100.0 * used[k] / capacity[k]) for k in used}
    return {"stages": [r.to_dict() for r in stages], "exit_units": [r.to_dict() for r in exit_units],
            "hls": [r.to_dict() for est in hls for r in est], "total": total.to_dict(), "capacity": capacity,
            "utilisation_pct": pct, "fits": all(v is not None and v <= 100.0 for v in pct.values())}


# ---------------------------------------------------------------- the board design around the wrapped top
@dataclass
class BoardScripts:
    package: Path
    block_design: Path
    report_dir: Path
    overlay_dir: Path


def write_board_scripts(design, out_dir: Path, overlay_dir: Path) -> BoardScripts:
    """Write the IP packaging and the block-design Tcl of a ``flows.vendor.tcl.BoardDesign``."""
    from flows.vendor.tcl import board_block_design_tcl, board_top_ip_tcl

    out_dir = Path(out_dir)
    tcl_dir = out_dir / "tcl"
    tcl_dir.mkdir(parents=True, exist_ok=True)
    scripts = BoardScripts(tcl_dir / "package_board_top.tcl", tcl_dir / "board_design.tcl", out_dir / "reports",
                           Path(overlay_dir))
    scripts.package.write_text(board_top_ip_tcl(design, out_dir / "ip"))
    scripts.block_design.write_text(board_block_design_tcl(design, out_dir / "ip", out_dir / "vivado",
                                                           scripts.report_dir, scripts.overlay_dir))
    return scripts


def run_board_design(scripts: BoardScripts, out_dir: Path) -> VendorRecord:
    """Package the wrapped top, build and implement the board design (needs vivado on PATH); the total record."""
    from flows.vendor.parsers import implementation_record
    from flows.vendor.tcl import REPORTS

    logs = Path(out_dir) / "logs"
    run_vivado(scripts.package, logs)
    seconds = run_vivado(scripts.block_design, logs)
    r = scripts.report_dir
    record = implementation_record(r / REPORTS["utilization"], r / REPORTS["timing"], r / REPORTS["power"])
    record.seconds = round(seconds, 1)
    return record
