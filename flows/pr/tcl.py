"""Vivado DFX project Tcl for the PR alternative (UG909 project flow).

One partition definition ``stage_rp`` (cell ``u_region/u_rm`` of the region
wrapper, module ``stage_rm``) with one reconfigurable module per stage; one PR
configuration per stage, each naming a module for every partition; a pblock
sized from the region estimate; ``pr_verify`` over all configurations; full and
partial bitstreams. The static design is a block design (PS7, AXI DMA in
simple mode, AXI GPIO driving the decoupler) beside ``pr_region_wrapper``
and the exit tap with one shared exit unit (``hardware.pr.static``) in the generated
top ``dfx_top.v``. Each reconfigurable module is a
module ``stage_rm`` (same ports as the stand-in ``sim/pr/stage_rm_model.v``).
Written always; run only when ``vivado`` is on PATH.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hardware.pr import DATA_W, RM_MODULE
from hardware.pr.dfx_top import dfx_top_verilog

PARTITION = "stage_rp"
RP_CELL = "u_path/u_region/u_rm"
# xc7z020 fabric coordinates used to place the pblock: the right half of the middle
# clock-region row (X1Y1), away from the PS in the top-left corner. Snapping is on, so
# Vivado aligns the rectangle to reconfigurable-tile boundaries; pr_verify/DRC checks it.
PBLOCK_ORIGIN = {"slice_x_max": 113, "row_y": 50, "rows_per_region": 50, "dsp_x_max": 2, "ramb36_x_max": 5,
                 "dsp_rows_per_region": 20, "ramb36_rows_per_region": 10}


def pblock_ranges(region) -> list[str]:
    """Site ranges for the pblock: columns counted leftwards from the right edge of row Y1."""
    o, h = PBLOCK_ORIGIN, region.height
    y0 = 0 if h == 3 else o["row_y"] if h == 1 else 0
    ranges = [f"SLICE_X{max(0, o['slice_x_max'] - 2 * region.columns['clb'] + 1)}Y{y0}:"
              f"SLICE_X{o['slice_x_max']}Y{y0 + h * o['rows_per_region'] - 1}"]
    if region.columns["dsp"]:
        d0 = y0 // o["rows_per_region"] * o["dsp_rows_per_region"]
        ranges.append(f"DSP48_X{o['dsp_x_max'] - region.columns['dsp'] + 1}Y{d0}:"
                      f"DSP48_X{o['dsp_x_max']}Y{d0 + h * o['dsp_rows_per_region'] - 1}")
    if region.columns["bram"]:
        b0 = y0 // o["rows_per_region"] * o["ramb36_rows_per_region"]
        ranges.append(f"RAMB36_X{o['ramb36_x_max'] - region.columns['bram'] + 1}Y{b0}:"
                      f"RAMB36_X{o['ramb36_x_max']}Y{b0 + h * o['ramb36_rows_per_region'] - 1}")
    return ranges


def dfx_tcl(part: str, stages: list[int], region, name: str = "dfx_stages",
            stage_sources: dict[int, list[str]] | None = None, static_sources: list[str] | None = None,
            clock_mhz: float = 100.0, data_w: int = DATA_W, resident: tuple[int, ...] = (),
            resident_sources: dict[int, list[str]] | None = None) -> str:
    """The project Tcl as text. Paths are relative to the script's folder unless absolute.

    resident: stages that stay resident (mixed mapping), each with its own AXI DMA and static
    module stage_res_<k> (resident_sources, default rtl/stage_<k>/stage_res_<k>.v)."""
    resident_sources = resident_sources or {k: [f"rtl/stage_{k}/stage_res_{k}.v"] for k in resident}
    stage_sources = stage_sources or {k: [f"rtl/stage_{k}/stage_rm_{k}.v"] for k in stages}
    missing = [k for k in stages if not stage_sources.get(k)]
    if missing:
        raise ValueError(f"no Verilog sources for stage(s) {missing}; pass stage_sources for every stage")
    static = ["rtl/dfx_top.v", *(static_sources or ["rtl/pr_static_path.v", "rtl/pr_decoupler.v",
                                                   "rtl/pr_region_wrapper.v", "rtl/pr_exit_tap.v"])]
    for k in resident:
        static += [f for f in resident_sources[k] if f not in static]
    busif = ":".join(["to_region", "from_region", *[f"res{k}_{d}" for k in resident for d in ("to", "from")]])
    resident_bd = []
    for k in resident:
        resident_bd += [
            f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_res{k}",
            "set_property -dict [list CONFIG.c_include_sg {0} CONFIG.c_sg_length_width {26} "
            f"CONFIG.c_m_axis_mm2s_tdata_width {{{data_w}}} CONFIG.c_s_axis_s2mm_tdata_width {{{data_w}}}] "
            f"[get_bd_cells dma_res{k}]",
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Master /ps7/M_AXI_GP0 Clk Auto}} "
            f"[get_bd_intf_pins dma_res{k}/S_AXI_LITE]",
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps7/S_AXI_HP0 Clk Auto}} "
            f"[get_bd_intf_pins dma_res{k}/M_AXI_MM2S]",
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps7/S_AXI_HP0 Clk Auto}} "
            f"[get_bd_intf_pins dma_res{k}/M_AXI_S2MM]",
            f"create_bd_intf_port -mode Master -vlnv xilinx.com:interface:axis_rtl:1.0 res{k}_to",
            f"create_bd_intf_port -mode Slave -vlnv xilinx.com:interface:axis_rtl:1.0 res{k}_from",
            f"connect_bd_intf_net [get_bd_intf_pins dma_res{k}/M_AXIS_MM2S] [get_bd_intf_ports res{k}_to]",
            f"connect_bd_intf_net [get_bd_intf_ports res{k}_from] [get_bd_intf_pins dma_res{k}/S_AXIS_S2MM]"]
    rm = {k: f"stage_{k}" for k in stages}
    cfg = {k: f"config_stage_{k}" for k in stages}
    t = [
        f"# Vivado DFX project: one reconfigurable partition time-shared by stages {stages}.",
        "# Generated by flows.pr (python -m flows pr); do not edit, regenerate.",
        f"# Region: {region.columns['clb']} CLB, {region.columns['dsp']} DSP, {region.columns['bram']} BRAM columns x "
        f"{region.height} clock region(s); {region.frames} frames, ~{region.bitstream_bytes} B per partial bitstream.",
        "set here [file dirname [file normalize [info script]]]",
        "proc src {p} { global here; if {[file pathtype $p] eq \"absolute\"} { return $p }; return [file join $here $p] }",
        f"create_project -force {name} [file join $here vivado] -part {part}",
        "set_property PR_FLOW 1 [current_project]",
        "",
        "# ---- static design: PS7 + AXI DMA (simple mode) + AXI GPIOs (decouple, exit threshold) in a block",
        "# design; the stream path (decoupler + partition cell + exit tap/unit) sits in dfx_top.v beside it",
        "create_bd_design static_bd",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps7",
        "apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 -config {make_external \"FIXED_IO, DDR\"} [get_bd_cells ps7]",
        f"set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {{1}} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{clock_mhz:g}}}] [get_bd_cells ps7]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma",
        "set_property -dict [list CONFIG.c_include_sg {0} CONFIG.c_sg_length_width {26} "
        f"CONFIG.c_m_axis_mm2s_tdata_width {{{data_w}}} CONFIG.c_s_axis_s2mm_tdata_width {{{data_w}}}] [get_bd_cells dma]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_gpio decouple_gpio",
        "set_property -dict [list CONFIG.C_GPIO_WIDTH {1} CONFIG.C_ALL_OUTPUTS {1} CONFIG.C_IS_DUAL {1} "
        "CONFIG.C_GPIO2_WIDTH {1} CONFIG.C_ALL_INPUTS_2 {1}] [get_bd_cells decouple_gpio]",
        "apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Master /ps7/M_AXI_GP0 Clk Auto} [get_bd_intf_pins dma/S_AXI_LITE]",
        "apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Master /ps7/M_AXI_GP0 Clk Auto} [get_bd_intf_pins decouple_gpio/S_AXI]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_gpio thr_gpio",
        "set_property -dict [list CONFIG.C_GPIO_WIDTH {32} CONFIG.C_ALL_OUTPUTS {1}] [get_bd_cells thr_gpio]",
        "apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Master /ps7/M_AXI_GP0 Clk Auto} [get_bd_intf_pins thr_gpio/S_AXI]",
        "apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Slave /ps7/S_AXI_HP0 Clk Auto} [get_bd_intf_pins dma/M_AXI_MM2S]",
        "apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Slave /ps7/S_AXI_HP0 Clk Auto} [get_bd_intf_pins dma/M_AXI_S2MM]",
        "create_bd_intf_port -mode Master -vlnv xilinx.com:interface:axis_rtl:1.0 to_region",
        "create_bd_intf_port -mode Slave -vlnv xilinx.com:interface:axis_rtl:1.0 from_region",
        "connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_ports to_region]",
        "connect_bd_intf_net [get_bd_intf_ports from_region] [get_bd_intf_pins dma/S_AXIS_S2MM]",
        "create_bd_port -dir O -type clk pl_clk",
        "connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_ports pl_clk]",
        *resident_bd,
        f"set_property CONFIG.ASSOCIATED_BUSIF {{{busif}}} [get_bd_ports pl_clk]",
        "create_bd_port -dir O -from 0 -to 0 -type rst pl_reset",
        "connect_bd_net [get_bd_pins [get_bd_cells rst_ps7*]/peripheral_reset] [get_bd_ports pl_reset]",
        "create_bd_port -dir O -from 0 -to 0 decouple_req",
        "connect_bd_net [get_bd_pins decouple_gpio/gpio_io_o] [get_bd_ports decouple_req]",
        "create_bd_port -dir I -from 0 -to 0 decouple_ack",
        "connect_bd_net [get_bd_ports decouple_ack] [get_bd_pins decouple_gpio/gpio2_io_i]",
        "create_bd_port -dir O -from 31 -to 0 thr_word",
        "connect_bd_net [get_bd_pins thr_gpio/gpio_io_o] [get_bd_ports thr_word]",
        "assign_bd_address",
        "validate_bd_design",
        "save_bd_design",
        "make_wrapper -files [get_files static_bd.bd] -top",
        "add_files -norecurse [file join $here vivado " + name + ".gen sources_1 bd static_bd hdl static_bd_wrapper.v]",
        "add_files -norecurse [lmap f [list " + " ".join(static) + "] {src $f}]",
        "set_property top dfx_top [current_fileset]",
        "update_compile_order -fileset sources_1",
        "",
        "# ---- reconfigurable partition and one module per stage",
        f"create_partition_def -name {PARTITION} -module {RM_MODULE}",
    ]
    for k in stages:
        files = " ".join(stage_sources[k])
        t += [f"create_reconfig_module -name {rm[k]} -partition_def [get_partition_defs {PARTITION}]"
              + (f" -define_from {RM_MODULE}" if k == stages[0] else ""),
              f"add_files -norecurse [lmap f [list {files}] {{src $f}}] -of_objects [get_reconfig_modules {rm[k]}]"]
    t += ["", "# ---- PR configurations: every configuration assigns a module to every partition"]
    for k in stages:
        t.append(f"create_pr_configuration -name {cfg[k]} -partitions [list {RP_CELL}:{rm[k]}]")
    t += [f"set_property PR_CONFIGURATION {cfg[stages[0]]} [get_runs impl_1]"]
    for k in stages[1:]:
        t.append(f"create_run impl_{cfg[k]} -parent_run impl_1 -flow {{Vivado Implementation 2020}} -pr_config {cfg[k]}")
    t += ["", "# ---- pblock of the region, sized from the frame estimate",
          "set xdc [file join $here vivado pblock.xdc]",
          "file mkdir [file dirname $xdc]",
          "set fh [open $xdc w]",
          "puts $fh \"create_pblock pblock_region\"",
          f"puts $fh \"add_cells_to_pblock \\[get_pblocks pblock_region\\] \\[get_cells {RP_CELL}\\]\"",
          *[f"puts $fh \"resize_pblock \\[get_pblocks pblock_region\\] -add {{{r}}}\"" for r in pblock_ranges(region)],
          "puts $fh \"set_property SNAPPING_MODE ON \\[get_pblocks pblock_region\\]\"",
          "puts $fh \"set_property RESET_AFTER_RECONFIG true \\[get_pblocks pblock_region\\]\"",
          "close $fh",
          "add_files -fileset constrs_1 -norecurse $xdc",
          "",
          "# ---- build, verify, bitstreams",
          "launch_runs synth_1 -jobs 2",
          "wait_on_run synth_1",
          "launch_runs impl_1 " + " ".join(f"impl_{cfg[k]}" for k in stages[1:]) + " -to_step write_bitstream -jobs 2",
          "wait_on_run impl_1"]
    t += [f"wait_on_run impl_{cfg[k]}" for k in stages[1:]]
    routed = [f"[file join $here vivado {name}.runs impl_1 dfx_top_routed.dcp]"] + [
        f"[file join $here vivado {name}.runs impl_{cfg[k]} dfx_top_routed.dcp]" for k in stages[1:]]
    t += [f"pr_verify -full_check -initial {routed[0]} -additional [list {' '.join(routed[1:])}] "
          "-file [file join $here vivado pr_verify.log]",
          "file mkdir [file join $here bitstreams]"]
    for k in stages:
        run = "impl_1" if k == stages[0] else f"impl_{cfg[k]}"
        t += [f"open_run {run}",
              f"write_bitstream -force -cell {RP_CELL} -bin_file "
              f"[file join $here bitstreams stage_{k}_partial.bit]"]
        if k == stages[0]:
            t.append("write_bitstream -force -bin_file [file join $here bitstreams full_stage_1.bit]")
        t.append("close_design")
    return "\n".join(t) + "\n"


def write_dfx_project(result, out_dir: Path, stage_sources: dict[int, list[Path]] | None = None,
                      exit_unit=None, run_vivado: bool = False) -> Path:
    """Write dfx_project.tcl, the static RTL (dfx_top.v, pr_static_path.v and the hand-written
    modules) into out_dir; run Vivado if asked and present. exit_unit: a hardware.pr.static.StaticExitUnit."""
    from flows.tools import find_vendor_tools

    from hardware.pr.static import write_static_path

    out_dir = Path(out_dir)
    rtl = out_dir / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    static = []
    for f in write_static_path(rtl, exit_unit, tuple(result.mapping["pr"]["static_stages"])):
        local = rtl / f.name
        if f.resolve() != local.resolve():
            shutil.copyfile(f, local)
        static.append(f"rtl/{f.name}")
    thr_w = exit_unit.threshold_width if exit_unit else 1
    resident = tuple(result.mapping["pr"]["static_stages"])
    (rtl / "dfx_top.v").write_text(dfx_top_verilog(DATA_W, thr_w, resident))
    stages = list(result.mapping["pr"]["region_stages"])
    region_sources = {k: [str(p) for p in v] for k, v in (stage_sources or {}).items() if k in stages}
    res_sources = {k: [str(p) for p in v] for k, v in (stage_sources or {}).items() if k in resident}
    text = dfx_tcl(result.part, stages, result.region, stage_sources=region_sources or None,
                   static_sources=static, clock_mhz=result.clock_mhz, resident=resident,
                   resident_sources=res_sources or None)
    path = out_dir / "dfx_project.tcl"
    path.write_text(text)
    vivado = find_vendor_tools().vivado
    if run_vivado and vivado:
        subprocess.run([vivado, "-mode", "batch", "-source", str(path), "-log", str(out_dir / "vivado.log"),
                        "-nojournal"], cwd=out_dir, check=True)
    return path
