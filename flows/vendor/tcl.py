"""Tcl for Vivado: exit units packaged as IP, the board's block design, implementation and reports.

One generator per script, its parameters in ``BlockDesign``. The block design:
processing system (Zynq-7000 ``processing_system7`` or Zynq UltraScale+
``zynq_ultra_ps_e``, chosen from the part), an AXI DMA whose MM2S stream feeds
stage 1, each stage's forwarded stream feeding the next stage, each stage's
logits stream feeding its exit unit, one AXI GPIO per exit unit holding its
threshold register (AXI-lite, written by the host), each exit decision padded
to whole bytes (AXI4-Stream subset converter) and all merged by an AXI4-Stream
combiner into the DMA's S2MM stream. Then synthesis,
implementation, bitstream and the utilisation (flat + hierarchical), timing
and power reports the parsers read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from boards import Board
from flows.errors import UserError

IP_VENDOR, IP_LIBRARY = "exitflow.org", "exitflow"
REPORTS = {"utilization": "utilization_routed.rpt", "hierarchy": "utilization_hier_routed.rpt",
           "timing": "timing_summary_routed.rpt", "power": "power_routed.rpt"}


def processing_system(part: str) -> str | None:
    """The PS IP of the part's family, or None for parts without one (Artix-7, ...)."""
    p = part.lower()
    if p.startswith("xc7z"):
        return "processing_system7"
    if p.startswith(("xczu", "xck26", "xck24")):
        return "zynq_ultra_ps_e"
    return None


@dataclass
class IpCore:
    name: str              # instance name in the block design: stage_1, exit_unit_1
    vlnv: str              # vendor:library:name:version
    repo: Path             # IP repository folder (hls4ml export or our packaged exit unit)
    streams_in: list[str] = field(default_factory=list)    # AXI-stream slave interfaces, in order
    streams_out: list[str] = field(default_factory=list)   # master interfaces: [logits, forwarded] for stages


@dataclass
class BlockDesign:
    board: Board
    stages: list[IpCore]
    exit_units: list[IpCore]
    threshold_bits: list[int]          # width of each exit unit's threshold register
    decision_bits: list[int] | None = None   # m_axis_tdata width of each exit unit ({confidence, class, exit})
    input_bytes: int | None = None     # TDATA bytes of stage 1's input stream (sets the DMA's MM2S width)
    decision_bytes: int = 4            # TDATA bytes of one exit decision beat on the combiner
    design_name: str = "exitflow"
    jobs: int = 2


def exit_unit_ip_tcl(top: str, verilog: list[Path], part: str, ip_dir: Path) -> str:
    """Package one generated exit unit (plain Verilog) as a Vivado IP with AXI-stream interfaces."""
    files = " ".join(f"{{{Path(f).resolve()}}}" for f in verilog)
    return "\n".join([
        f"# package exit unit {top} as IP {IP_VENDOR}:{IP_LIBRARY}:{top}:1.0",
        f"create_project -in_memory -part {part}",
        f"add_files -norecurse [list {files}]",
        f"set_property top {top} [current_fileset]",
        "update_compile_order -fileset sources_1",
        f"ipx::package_project -root_dir {{{Path(ip_dir).resolve()}}} -vendor {IP_VENDOR} -library {IP_LIBRARY} "
        "-taxonomy /UserIP -import_files -set_current true",
        "set core [ipx::current_core]",
        f"set_property name {top} $core",
        "set_property version 1.0 $core",
        # s_axis_* / m_axis_* are inferred as AXI4-Stream; tie them to clk and the active-high rst
        "ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core",
        "ipx::associate_bus_interfaces -busif s_axis -clock clk $core",
        "ipx::associate_bus_interfaces -busif m_axis -clock clk $core",
        "set_property value ACTIVE_HIGH [ipx::get_bus_parameters POLARITY -of_objects "
        "[ipx::get_bus_interfaces rst -of_objects $core]]",
        "ipx::create_xgui_files $core",
        "ipx::update_checksums $core",
        "ipx::save_core $core",
        "close_project",
        "",
    ])


def block_design_tcl(design: BlockDesign, project_dir: Path, report_dir: Path) -> str:
    b = design.board
    ps = processing_system(b.part)
    if ps is None:
        raise UserError(f"board {b.name} ({b.part}) has no processing system for the DMA/AXI-lite block design; "
                         "use FLOW=open for it, or a Zynq board (pynq-z2, zcu104, ultra96-v2, kv260)")
    if len(design.exit_units) != len(design.stages) or len(design.threshold_bits) != len(design.stages):
        raise ValueError(f"{len(design.stages)} stages need as many exit units and threshold widths")
    zynqmp = ps == "zynq_ultra_ps_e"
    project_dir, report_dir = Path(project_dir).resolve(), Path(report_dir).resolve()
    repos = sorted({str(Path(ip.repo).resolve()) for ip in design.stages + design.exit_units})
    lines = [
        f"# {design.design_name} block design for {b.name} ({b.part}), PL clock {b.clock_mhz:g} MHz",
        f"create_project {design.design_name} {{{project_dir}}} -part {b.part} -force",
    ]
    if b.extra.get("vivado_board_part"):
        lines.append(f"catch {{set_property board_part {b.extra['vivado_board_part']} [current_project]}}")
    lines += [
        "set_property ip_repo_paths [list " + " ".join(f"{{{r}}}" for r in repos) + "] [current_project]",
        "update_ip_catalog",
        f"create_bd_design {design.design_name}",
        f"set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:{ps}:* ps]",
        "apply_bd_automation -rule xilinx.com:bd_rule:" + ("zynq_ultra_ps_e" if zynqmp else "processing_system7")
        + " -config {apply_board_preset 1} $ps",
        # PL clock and one high-performance slave port for the DMA
        (f"set_property -dict [list CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {b.clock_mhz:g} "
         "CONFIG.PSU__USE__S_AXI_GP2 1] $ps" if zynqmp else
         f"set_property -dict [list CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {b.clock_mhz:g} CONFIG.PCW_USE_S_AXI_HP0 1] $ps"),
        "set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:* dma]",
        "set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_include_stscntrl_strm 0 "
        "CONFIG.c_sg_length_width 26 "
        + (f"CONFIG.c_m_axis_mm2s_tdata_width {8 * design.input_bytes} " if design.input_bytes else "")
        + f"CONFIG.c_s_axis_s2mm_tdata_width {8 * design.decision_bytes * len(design.stages)}] $dma",
    ]
    for ip in design.stages + design.exit_units:
        lines.append(f"create_bd_cell -type ip -vlnv {ip.vlnv} {ip.name}")
    n = len(design.stages)
    lines += [
        "set comb [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_combiner:* decisions]",
        f"set_property -dict [list CONFIG.NUM_SI {n} CONFIG.TDATA_NUM_BYTES {design.decision_bytes}] $comb",
        "# data path: DMA -> stage 1 -> ... ; stage k logits -> exit unit k -> combiner -> DMA",
        f"connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] "
        f"[get_bd_intf_pins {design.stages[0].name}/{design.stages[0].streams_in[0]}]",
    ]
    for k, (stage, unit) in enumerate(zip(design.stages, design.exit_units)):
        logits = stage.streams_out[0]
        lines.append(f"connect_bd_intf_net [get_bd_intf_pins {stage.name}/{logits}] "
                     f"[get_bd_intf_pins {unit.name}/{unit.streams_in[0]}]")
        if k + 1 < n:
            nxt = design.stages[k + 1]
            lines.append(f"connect_bd_intf_net [get_bd_intf_pins {stage.name}/{stage.streams_out[1]}] "
                         f"[get_bd_intf_pins {nxt.name}/{nxt.streams_in[0]}]")
        # pad each decision ({confidence, class, exit}, not a whole number of bytes) to decision_bytes
        bits = design.decision_bits[k] if design.decision_bits else 8 * design.decision_bytes
        pad = 8 * design.decision_bytes - bits
        if pad < 0:
            raise ValueError(f"exit unit {unit.name} decisions are {bits} bits; raise decision_bytes above "
                             f"{design.decision_bytes}")
        remap = f"{pad}'b0,tdata[{bits - 1}:0]" if pad else f"tdata[{bits - 1}:0]"
        lines += [
            f"set pad [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_subset_converter:* pad_{k + 1}]",
            f"set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {-(-bits // 8)} "
            f"CONFIG.M_TDATA_NUM_BYTES {design.decision_bytes} CONFIG.TDATA_REMAP {{{remap}}}] $pad",
            f"connect_bd_intf_net [get_bd_intf_pins {unit.name}/{unit.streams_out[0]}] "
            f"[get_bd_intf_pins pad_{k + 1}/S_AXIS]",
            f"connect_bd_intf_net [get_bd_intf_pins pad_{k + 1}/M_AXIS] [get_bd_intf_pins decisions/S{k:02d}_AXIS]",
        ]
    lines.append("connect_bd_intf_net [get_bd_intf_pins decisions/M_AXIS] [get_bd_intf_pins dma/S_AXIS_S2MM]")
    lines.append("# threshold registers: one AXI GPIO (outputs only) per exit unit, written over AXI-lite")
    for k, (unit, bits) in enumerate(zip(design.exit_units, design.threshold_bits), start=1):
        lines += [
            f"set gpio [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_gpio:* threshold_{k}]",
            f"set_property -dict [list CONFIG.C_GPIO_WIDTH {bits} CONFIG.C_ALL_OUTPUTS 1] $gpio",
            f"connect_bd_net [get_bd_pins threshold_{k}/gpio_io_o] [get_bd_pins {unit.name}/thr_data]",
            f"set one_{k} [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant:* thr_we_{k}]",
            f"connect_bd_net [get_bd_pins thr_we_{k}/dout] [get_bd_pins {unit.name}/thr_we]",
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Master /ps/"
            f"{'M_AXI_HPM0_FPD' if zynqmp else 'M_AXI_GP0'} Clk Auto}} [get_bd_intf_pins threshold_{k}/S_AXI]",
        ]
    hp = "S_AXI_HP0_FPD" if zynqmp else "S_AXI_HP0"
    lines += [
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Master /ps/"
        f"{'M_AXI_HPM0_FPD' if zynqmp else 'M_AXI_GP0'} Clk Auto}} [get_bd_intf_pins dma/S_AXI_LITE]",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps/{hp} Clk Auto}} "
        "[get_bd_intf_pins dma/M_AXI_MM2S]",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps/{hp} Clk Auto}} "
        "[get_bd_intf_pins dma/M_AXI_S2MM]",
        "# every remaining clock / reset pin on the PL clock and its synchronised reset",
        f"set clk [get_bd_pins ps/{'pl_clk0' if zynqmp else 'FCLK_CLK0'}]",
        "foreach pin [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *exitflow* || VLNV =~ *hls*}] "
        "-filter {TYPE == clk}] { catch {connect_bd_net $clk $pin} }",
        "set rstn [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *proc_sys_reset*}] "
        "-filter {NAME == peripheral_aresetn}]",
        "set rst [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *proc_sys_reset*}] "
        "-filter {NAME == peripheral_reset}]",
        "foreach pin [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *hls*}] -filter {TYPE == rst}] "
        "{ catch {connect_bd_net $rstn $pin} }",
        "foreach pin [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *exitflow*}] -filter {TYPE == rst}] "
        "{ catch {connect_bd_net $rst $pin} }",
        "foreach pin [get_bd_pins -of_objects [get_bd_cells -regexp {decisions|pad_.*}] -filter {TYPE == clk}] "
        "{ catch {connect_bd_net $clk $pin} }",
        "foreach pin [get_bd_pins -of_objects [get_bd_cells -regexp {decisions|pad_.*}] -filter {TYPE == rst}] "
        "{ catch {connect_bd_net $rstn $pin} }",
        "assign_bd_address",
        "validate_bd_design",
        "save_bd_design",
        f"make_wrapper -files [get_files {design.design_name}.bd] -top",
        f"add_files -norecurse [glob {{{project_dir}}}/{design.design_name}.gen/sources_1/bd/{design.design_name}/hdl/"
        f"{design.design_name}_wrapper.v]",
        f"set_property top {design.design_name}_wrapper [current_fileset]",
        f"launch_runs impl_1 -to_step write_bitstream -jobs {design.jobs}",
        "wait_on_run impl_1",
        "if {[get_property PROGRESS [get_runs impl_1]] != \"100%\"} { error \"implementation failed\" }",
        "open_run impl_1",
        f"file mkdir {{{report_dir}}}",
        f"report_utilization -file {{{report_dir / REPORTS['utilization']}}}",
        f"report_utilization -hierarchical -hierarchical_depth 4 -file {{{report_dir / REPORTS['hierarchy']}}}",
        f"report_timing_summary -file {{{report_dir / REPORTS['timing']}}}",
        f"report_power -file {{{report_dir / REPORTS['power']}}}",
        f"write_hw_platform -fixed -include_bit -force -file {{{project_dir / (design.design_name + '.xsa')}}}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- the board design: PS + DMA + wrapped top
BOARD_TOP_IP = "exitflow"        # instance name of the wrapped top (the driver's overlay.exitflow)
BOARD_DMA = "dma"                # instance name of the AXI DMA (the driver's overlay.dma)


@dataclass
class BoardDesign:
    """The block design that goes on the board: Zynq PS, one AXI DMA, the AXI-wrapped pipeline top."""

    board: Board
    top: str                       # module name of the wrapped top (hardware/axi_top: exitflow_axi_top)
    verilog: list[Path]            # its sources in compile order
    data_width: int                # AXI4-Stream width of both directions (the DMA's stream width)
    design_name: str = "exitflow_board"
    jobs: int = 2

    @property
    def vlnv(self) -> str:
        return f"{IP_VENDOR}:{IP_LIBRARY}:{self.top}:1.0"


def board_top_ip_tcl(design: BoardDesign, ip_dir: Path) -> str:
    """Package the wrapped top as IP: s_axis/m_axis AXI4-Stream, s_axil AXI4-Lite with a 4 KiB map."""
    files = " ".join(f"{{{Path(f).resolve()}}}" for f in design.verilog)
    return "\n".join([
        f"# package {design.top} as IP {design.vlnv}",
        f"create_project -in_memory -part {design.board.part}",
        f"add_files -norecurse [list {files}]",
        f"set_property top {design.top} [current_fileset]",
        "update_compile_order -fileset sources_1",
        f"ipx::package_project -root_dir {{{Path(ip_dir).resolve()}}} -vendor {IP_VENDOR} -library {IP_LIBRARY} "
        "-taxonomy /UserIP -import_files -set_current true",
        "set core [ipx::current_core]",
        f"set_property name {design.top} $core",
        "set_property version 1.0 $core",
        "ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core",
        "ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core",
        "foreach busif {s_axis m_axis s_axil} { ipx::associate_bus_interfaces -busif $busif -clock clk $core }",
        "set_property value ACTIVE_HIGH [ipx::get_bus_parameters POLARITY -of_objects "
        "[ipx::get_bus_interfaces rst -of_objects $core]]",
        "ipx::add_memory_map s_axil $core",
        "set_property slave_memory_map_ref s_axil [ipx::get_bus_interfaces s_axil -of_objects $core]",
        "set block [ipx::add_address_block regs [ipx::get_memory_maps s_axil -of_objects $core]]",
        "set_property range 4096 $block",
        "ipx::create_xgui_files $core",
        "ipx::update_checksums $core",
        "ipx::save_core $core",
        "close_project",
        "",
    ])


def board_block_design_tcl(design: BoardDesign, ip_repo: Path, project_dir: Path, report_dir: Path,
                           overlay_dir: Path) -> str:
    """PS + AXI DMA (simple mode) + the wrapped top; implementation, reports, and the PYNQ overlay
    files (``exitflow.bit`` + ``exitflow.hwh`` in overlay_dir)."""
    b = design.board
    ps = processing_system(b.part)
    if ps is None:
        raise ValueError(f"board {b.name} ({b.part}) has no processing system for the DMA/AXI-lite block design; "
                         "use FLOW=open for it, or a Zynq board (pynq-z2, zcu104, ultra96-v2, kv260)")
    zynqmp = ps == "zynq_ultra_ps_e"
    gp, hp = ("M_AXI_HPM0_FPD", "S_AXI_HP0_FPD") if zynqmp else ("M_AXI_GP0", "S_AXI_HP0")
    project_dir, report_dir = Path(project_dir).resolve(), Path(report_dir).resolve()
    overlay_dir = Path(overlay_dir).resolve()
    name, dw = design.design_name, design.data_width
    lines = [
        f"# {name}: {design.top} behind an AXI DMA on {b.name} ({b.part}), PL clock {b.clock_mhz:g} MHz",
        f"create_project {name} {{{project_dir}}} -part {b.part} -force",
    ]
    if b.extra.get("vivado_board_part"):
        lines.append(f"catch {{set_property board_part {b.extra['vivado_board_part']} [current_project]}}")
    lines += [
        f"set_property ip_repo_paths [list {{{Path(ip_repo).resolve()}}}] [current_project]",
        "update_ip_catalog",
        f"create_bd_design {name}",
        f"set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:{ps}:* ps]",
        "apply_bd_automation -rule xilinx.com:bd_rule:" + ("zynq_ultra_ps_e" if zynqmp else "processing_system7")
        + " -config {apply_board_preset 1} $ps",
        (f"set_property -dict [list CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {b.clock_mhz:g} "
         "CONFIG.PSU__USE__S_AXI_GP2 1] $ps" if zynqmp else
         f"set_property -dict [list CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {b.clock_mhz:g} "
         "CONFIG.PCW_USE_S_AXI_HP0 1] $ps"),
        f"set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:* {BOARD_DMA}]",
        "set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_include_stscntrl_strm 0 "
        "CONFIG.c_sg_length_width 26 "
        f"CONFIG.c_m_axi_mm2s_data_width {dw} CONFIG.c_m_axis_mm2s_tdata_width {dw} "
        f"CONFIG.c_m_axi_s2mm_data_width {dw} CONFIG.c_s_axis_s2mm_tdata_width {dw} CONFIG.c_mm2s_burst_size 16 "
        "CONFIG.c_s2mm_burst_size 16] $dma",
        f"create_bd_cell -type ip -vlnv {design.vlnv} {BOARD_TOP_IP}",
        "# data path: DDR -> DMA MM2S -> wrapped top -> DMA S2MM -> DDR",
        f"connect_bd_intf_net [get_bd_intf_pins {BOARD_DMA}/M_AXIS_MM2S] [get_bd_intf_pins {BOARD_TOP_IP}/s_axis]",
        f"connect_bd_intf_net [get_bd_intf_pins {BOARD_TOP_IP}/m_axis] [get_bd_intf_pins {BOARD_DMA}/S_AXIS_S2MM]",
        "# control: the wrapped top's registers and the DMA's on the PS general-purpose master",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Master /ps/{gp} Clk Auto}} "
        f"[get_bd_intf_pins {BOARD_TOP_IP}/s_axil]",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Master /ps/{gp} Clk Auto}} "
        f"[get_bd_intf_pins {BOARD_DMA}/S_AXI_LITE]",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps/{hp} Clk Auto}} "
        f"[get_bd_intf_pins {BOARD_DMA}/M_AXI_MM2S]",
        f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {{Slave /ps/{hp} Clk Auto}} "
        f"[get_bd_intf_pins {BOARD_DMA}/M_AXI_S2MM]",
        "# the wrapped top on the PL clock and the synchronised active-high reset",
        f"connect_bd_net [get_bd_pins ps/{'pl_clk0' if zynqmp else 'FCLK_CLK0'}] [get_bd_pins {BOARD_TOP_IP}/clk]",
        "set rst [get_bd_pins -of_objects [get_bd_cells -filter {VLNV =~ *proc_sys_reset*}] "
        "-filter {NAME == peripheral_reset}]",
        f"connect_bd_net [lindex $rst 0] [get_bd_pins {BOARD_TOP_IP}/rst]",
        "assign_bd_address",
        "validate_bd_design",
        "save_bd_design",
        f"make_wrapper -files [get_files {name}.bd] -top",
        f"add_files -norecurse [glob {{{project_dir}}}/{name}.gen/sources_1/bd/{name}/hdl/{name}_wrapper.v]",
        f"set_property top {name}_wrapper [current_fileset]",
        f"launch_runs impl_1 -to_step write_bitstream -jobs {design.jobs}",
        "wait_on_run impl_1",
        "if {[get_property PROGRESS [get_runs impl_1]] != \"100%\"} { error \"implementation failed\" }",
        "open_run impl_1",
        f"file mkdir {{{report_dir}}}",
        f"report_utilization -file {{{report_dir / REPORTS['utilization']}}}",
        f"report_utilization -hierarchical -hierarchical_depth 4 -file {{{report_dir / REPORTS['hierarchy']}}}",
        f"report_timing_summary -file {{{report_dir / REPORTS['timing']}}}",
        f"report_power -file {{{report_dir / REPORTS['power']}}}",
        "# the PYNQ overlay: the bitstream and the hardware handoff under one base name",
        f"file mkdir {{{overlay_dir}}}",
        f"file copy -force {{{project_dir}/{name}.runs/impl_1/{name}_wrapper.bit}} {{{overlay_dir / 'exitflow.bit'}}}",
        f"file copy -force {{{project_dir}/{name}.gen/sources_1/bd/{name}/hw_handoff/{name}.hwh}} "
        f"{{{overlay_dir / 'exitflow.hwh'}}}",
        "",
    ]
    return "\n".join(lines)
