"""Vendor flow: flow selection, the 'tools missing' error, generated Tcl, and the run path with a stand-in vivado."""
import os
import stat
import sys
from pathlib import Path

import pytest

from boards import load_board
from flows.tools import ToolMissing, VendorTools
from flows.vendor.flow import (VendorFlowError, hls_command_for, run_vendor_flow, select_flow,
                               write_vendor_scripts)
from flows.vendor.tcl import REPORTS, BlockDesign, IpCore, block_design_tcl, processing_system

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "vivado_hls4ml"
NONE, BOTH = VendorTools(hls=None, vivado=None), VendorTools(hls="/opt/x/vitis_hls", vivado="/opt/x/vivado")


def test_auto_picks_vendor_when_both_tools_exist_and_open_otherwise():
    assert select_flow(None, BOTH)[0] == "vendor"
    flow, message = select_flow(None, NONE)
    assert flow == "open" and "vivado" in message and "not on PATH" in message
    assert select_flow("auto", VendorTools(hls="/x/vitis_hls", vivado=None))[0] == "open"
    assert select_flow("open", BOTH)[0] == "open"


@pytest.mark.parametrize("options, why", [(dict(io_type="io_parallel"), "IO_TYPE=io_parallel"),
                                          (dict(hls=False), "HLS is off"),
                                          (dict(part="xc7a100tcsg324-1"), "no processing system")])
def test_auto_runs_the_open_flow_when_the_options_rule_the_vendor_flow_out_and_says_why(options, why):
    flow, message = select_flow(None, BOTH, **options)
    assert flow == "open" and "vitis_hls and vivado are on PATH" in message and why in message
    with pytest.raises(ValueError, match=f"FLOW=vendor cannot build with .*{why}"):
        select_flow("vendor", BOTH, **options)


def _fake_vendor_tools(bin_dir: Path, monkeypatch) -> None:
    bin_dir.mkdir()
    for name in ("vitis_hls", "vivado"):
        (bin_dir / name).write_text(f"#!{sys.executable}\nimport sys\nsys.exit(1)\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("options, flow, io_type, why", [
    ({}, "vendor", "io_stream", "vitis_hls and vivado found on PATH"),   # the defaults: vendor, streaming
    ({"io_type": "io_parallel"}, "open", "io_parallel", "cannot build with IO_TYPE=io_parallel"),
    ({"flow": "vendor"}, "vendor", "io_stream", "as requested"),
    ({"board": "arty-a7-100t"}, "open", "io_parallel", "has no processing system"),   # no PS for the DMA
])
def test_default_synth_with_vendor_tools_on_path_loads_with_a_flow_that_can_build_it(tmp_path, monkeypatch,
                                                                                     options, flow, io_type, why):
    from rich.console import Console

    from flows.synth import Build, SynthOptions, load_inputs

    _fake_vendor_tools(tmp_path / "bin", monkeypatch)
    console = Console(record=True, width=400)
    build = Build(options=SynthOptions(build_root=tmp_path, **options), console=console)
    load_inputs(build)   # the step that used to refuse the default IO_TYPE
    said = console.export_text()
    assert (build.flow, build.options.io_type) == (flow, io_type)
    assert f"{flow} flow" in said and why in said and why in build.notes[0]


def test_flow_vendor_without_tools_is_one_line_naming_the_tools_and_the_fix():
    with pytest.raises(ToolMissing) as err:
        select_flow("vendor", NONE)
    message = str(err.value)
    assert "\n" not in message and "vitis_hls" in message and "vivado" in message and "FLOW=open" in message
    with pytest.raises(ToolMissing, match="vivado on PATH"):
        select_flow("vendor", VendorTools(hls="/x/vitis_hls", vivado=None))
    with pytest.raises(ValueError, match="unknown flow"):
        select_flow("quartus", BOTH)


def test_hls4ml_build_program_follows_the_backend():
    assert hls_command_for("Vitis") == "vitis-run" and hls_command_for("Vivado") == "vivado_hls"
    with pytest.raises(ValueError):
        hls_command_for("Quartus")


def _design(board: str, tmp_path: Path, stages: int = 3) -> BlockDesign:
    stage_ips = [IpCore(f"stage_{k}", f"xilinx.com:hls:stage_{k}:1.0", tmp_path / f"hls/stage_{k}/ip",
                        ["input_1"], ["exit_logits", "forwarded"] if k < stages else ["exit_logits"])
                 for k in range(1, stages + 1)]
    units = [IpCore(f"exit_unit_{k}", f"exitflow.org:exitflow:eu_{k}:1.0", tmp_path / "ip", ["s_axis"], ["m_axis"])
             for k in range(1, stages + 1)]
    return BlockDesign(load_board(board), stage_ips, units, threshold_bits=[14] * stages,
                       decision_bits=[19] * stages, input_bytes=8)


@pytest.mark.parametrize("board,ps,port", [("pynq-z2", "processing_system7", "S_AXI_HP0"),
                                           ("zcu104", "zynq_ultra_ps_e", "S_AXI_HP0_FPD")])
def test_block_design_has_ps_dma_stages_exit_units_threshold_registers_and_reports(board, ps, port, tmp_path):
    tcl = block_design_tcl(_design(board, tmp_path), tmp_path / "prj", tmp_path / "rpt")
    b = load_board(board)
    assert f"-part {b.part}" in tcl and f"xilinx.com:ip:{ps}:" in tcl and f"/ps/{port}" in tcl
    assert f"{b.clock_mhz:g}" in tcl and "axi_dma" in tcl and "axis_combiner" in tcl
    for k in (1, 2, 3):
        assert f"create_bd_cell -type ip -vlnv xilinx.com:hls:stage_{k}:1.0 stage_{k}" in tcl
        assert f"[get_bd_intf_pins stage_{k}/exit_logits] [get_bd_intf_pins exit_unit_{k}/s_axis]" in tcl
        assert f"threshold_{k}/gpio_io_o] [get_bd_pins exit_unit_{k}/thr_data]" in tcl
        assert f"[get_bd_intf_pins pad_{k}/M_AXIS] [get_bd_intf_pins decisions/S{k - 1:02d}_AXIS]" in tcl
    assert tcl.count("CONFIG.S_TDATA_NUM_BYTES 3 CONFIG.M_TDATA_NUM_BYTES 4 CONFIG.TDATA_REMAP {13'b0,tdata[18:0]}") == 3
    assert "[get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins stage_1/input_1]" in tcl
    assert "[get_bd_intf_pins stage_1/forwarded] [get_bd_intf_pins stage_2/input_1]" in tcl
    assert "CONFIG.c_m_axis_mm2s_tdata_width 64 CONFIG.c_s_axis_s2mm_tdata_width 96" in tcl
    assert "launch_runs impl_1 -to_step write_bitstream" in tcl
    for name in REPORTS.values():
        assert name in tcl
    assert tcl.count("{") == tcl.count("}") and tcl.count("[") == tcl.count("]")


def test_decisions_wider_than_the_combiner_beat_are_refused(tmp_path):
    design = _design("pynq-z2", tmp_path)
    design.decision_bits = [40] * 3
    with pytest.raises(ValueError, match="raise decision_bytes"):
        block_design_tcl(design, tmp_path, tmp_path)


def test_board_without_processing_system_is_refused_with_the_fix(tmp_path):
    assert processing_system("xc7a100tcsg324-1") is None
    with pytest.raises(ValueError, match="no processing system.*FLOW=open"):
        block_design_tcl(_design("arty-a7-100t", tmp_path), tmp_path, tmp_path)


FAKE_VIVADO = r'''#!{python}
"""Stand-in for vivado -mode batch: records the script, and for each report command writes a report."""
import re, shutil, sys
from pathlib import Path
tcl = Path(sys.argv[sys.argv.index("-source") + 1]).read_text()
Path(sys.argv[sys.argv.index("-log") + 1]).write_text("fake vivado log\n")
if "FAIL" in tcl:
    sys.exit(1)
for m in re.finditer(r"report_(utilization|timing_summary|power)(?: -hierarchical)?.* -file \{{([^}}]+)\}}", tcl):
    kind, path = m.group(1), Path(m.group(2))
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    src = {{"utilization_routed.rpt": "{synth}", "utilization_hier_routed.rpt": "{hier}",
           "timing_summary_routed.rpt": "{timing}", "power_routed.rpt": "{power}"}}[name]
    shutil.copy(src, path)
'''


def _excerpts(tmp_path: Path) -> dict[str, Path]:
    import importlib.util

    # the hand-written excerpts live (and are labelled) in the parser tests
    spec = importlib.util.spec_from_file_location("vendor_parser_tests", Path(__file__).with_name(
        "test_vendor_parsers.py"))
    parsers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parsers)
    HAND_WRITTEN_HIERARCHY, HAND_WRITTEN_POWER, HAND_WRITTEN_TIMING = (
        parsers.HAND_WRITTEN_HIERARCHY, parsers.HAND_WRITTEN_POWER, parsers.HAND_WRITTEN_TIMING)

    rows = HAND_WRITTEN_HIERARCHY.splitlines()
    extra = [f"|     stage_{k}           |    design_1_stage_{k}_0 |       1000 |       1000 |       0 |    0 |  "
             f"1500 |      0 |      0 |           10 |" for k in (2, 3)]
    extra += [f"|     exit_unit_{k}       | design_1_exit_unit_{k}_0|        150 |        150 |       0 |    0 |   "
              f"200 |      0 |      0 |            2 |" for k in (2, 3)]
    hier = "\n".join(rows[:-1] + extra + rows[-1:]) + "\n"
    out = {}
    for name, text in (("hier", hier), ("timing", HAND_WRITTEN_TIMING), ("power", HAND_WRITTEN_POWER)):
        out[name] = tmp_path / f"{name}.rpt"
        out[name].write_text(text)
    out["synth"] = FIXTURES / "vivado_synth.rpt"
    return out


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"needs real reports in {FIXTURES}")
def test_vendor_run_with_a_stand_in_vivado_returns_stage_exit_unit_and_total_records(tmp_path, monkeypatch):
    files = _excerpts(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text(FAKE_VIVADO.format(python=sys.executable, **{k: str(v) for k, v in files.items()}))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    design = _design("pynq-z2", tmp_path)
    sources = {u.name: [tmp_path / f"{u.name}.v"] for u in design.exit_units}
    stages, units, total = run_vendor_flow(design, sources, tmp_path / "vendor")
    assert [(r.index, r.lut, r.source) for r in stages] == [(1, 2100, "vivado_impl"), (2, 1000, "vivado_impl"),
                                                             (3, 1000, "vivado_impl")]
    assert [(r.index, r.lut, r.dsp) for r in units] == [(1, 150, 2), (2, 150, 2), (3, 150, 2)]
    assert (total.lut, total.wns_ns, total.target_clock_ns, total.power_w) == (1526, 1.25, 10.0, 1.712)
    assert sorted(p.name for p in (tmp_path / "vendor" / "tcl").iterdir()) == [
        "block_design.tcl", "package_exit_unit_1.tcl", "package_exit_unit_2.tcl", "package_exit_unit_3.tcl"]
    assert (tmp_path / "vendor" / "logs" / "block_design.vivado.log").is_file()


def test_failing_vivado_names_its_log(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    design = _design("pynq-z2", tmp_path)
    with pytest.raises(VendorFlowError, match=r"exit 3\); see .*package_exit_unit_1\.vivado\.log"):
        run_vendor_flow(design, {u.name: [] for u in design.exit_units}, tmp_path / "vendor")


def test_scripts_are_written_even_without_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    design = _design("ultra96-v2", tmp_path)
    scripts = write_vendor_scripts(design, {u.name: [tmp_path / "u.v"] for u in design.exit_units}, tmp_path / "v")
    text = scripts.exit_unit_ip[0].read_text()
    assert "ipx::package_project" in text and "-part xczu3eg-sbva484-1-e" in text and "eu_1" in text
    assert "zynq_ultra_ps_e" in scripts.block_design.read_text()
    with pytest.raises(ToolMissing, match="vivado is not on PATH"):
        run_vendor_flow(design, {u.name: [] for u in design.exit_units}, tmp_path / "v")


@pytest.fixture(scope="module")
def example_build(example_build_root):
    """The example through the flow without HLS and RTL (trained from the session's cache)."""
    from rich.console import Console

    from flows.synth import SynthOptions, run_synth

    return run_synth(SynthOptions(build_root=example_build_root, hls=False, rtl=False), Console(quiet=True))


def test_block_design_of_the_example_uses_hls4ml_stream_names_and_exit_unit_widths(example_build, tmp_path):
    from hardware.exit_unit.generate import write_unit
    from flows.vendor.flow import block_design_for
    from hls_templates.convert import convert_stage

    build = example_build
    models = [convert_stage(s.model, tmp_path / f"stage_{s.index}", part=build.board.part, io_type="io_stream",
                            project_name=f"stage_{s.index}", input_format=s.input_format, compile=False)
              for s in build.stages]
    units = [write_unit(cfg, "parallel", tmp_path / "eu") for cfg in build.exit_configs]
    design = block_design_for(build.board, models, units, tmp_path / "ip")
    assert [ip.vlnv for ip in design.stages] == [f"xilinx.com:hls:stage_{k}:1.0" for k in (1, 2, 3)]
    assert [ip.streams_in for ip in design.stages] == [[f"stage_{k}_input"] for k in (1, 2, 3)]
    assert [len(ip.streams_out) for ip in design.stages] == [2, 2, 1]
    assert design.decision_bits == [u.output_width for u in units]
    assert design.threshold_bits == [u.cfg.confidence_format.width for u in units]
    tcl = block_design_tcl(design, tmp_path / "prj", tmp_path / "rpt")
    logits = design.stages[0].streams_out[0]
    assert f"[get_bd_intf_pins stage_1/{logits}] [get_bd_intf_pins exit_unit_1/s_axis]" in tcl
    scripts = write_vendor_scripts(design, {u.name: units[k].files for k, u in enumerate(design.exit_units)},
                                   tmp_path / "vendor")
    assert len(scripts.exit_unit_ip) == len({u.vlnv for u in design.exit_units})   # identical units packaged once
    parallel = convert_stage(build.stages[0].model, tmp_path / "par", part=build.board.part, project_name="p",
                             compile=False)
    with pytest.raises(ValueError, match="io_stream"):
        block_design_for(build.board, [parallel], units[:1], tmp_path / "ip")


def test_vendor_build_without_tools_fails_before_doing_anything(tmp_path, monkeypatch):
    from flows.vendor.flow import vendor_build

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="FLOW=vendor needs vitis_hls"):
        vendor_build(load_board("pynq-z2"), [], [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


FAKE_VITIS_RUN = r'''#!{python}
"""Stand-in for `vitis-run --tcl build_prj.tcl --mode hls` run by hls4ml in the project folder:
lays out a solution with the real Vivado HLS fixture report, as the tool would."""
import re, shutil
from pathlib import Path
name = re.search(r'set project_name "([^"]+)"', Path("project.tcl").read_text()).group(1)
prj = Path(f"{{name}}_prj")
(prj / "solution1" / "syn" / "report").mkdir(parents=True, exist_ok=True)
(prj / "solution1" / "impl" / "ip").mkdir(parents=True, exist_ok=True)
shutil.copy("{fixtures}/vivado_hls.app", prj / "hls.app")
shutil.copy("{fixtures}/myproject_csynth.xml", prj / "solution1" / "syn" / "report" / f"{{name}}_csynth.xml")
'''


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"needs real reports in {FIXTURES}")
def test_vendor_build_end_to_end_with_stand_in_tools(example_build, tmp_path, monkeypatch):
    """Every vendor step on the example's real stages and exit units, the tools replaced by stand-ins."""
    from hardware.exit_unit.generate import write_unit
    from flows.vendor.flow import VENDOR_STEPS, vendor_build
    from hls_templates.convert import convert_stage

    build = example_build
    models = [convert_stage(s.model, tmp_path / f"stage_{s.index}", part=build.board.part, io_type="io_stream",
                            project_name=f"stage_{s.index}", input_format=s.input_format, compile=False)
              for s in build.stages]
    units = [write_unit(cfg, "parallel", tmp_path / "eu") for cfg in build.exit_configs]

    files = _excerpts(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {"vivado": FAKE_VIVADO.format(python=sys.executable, **{k: str(v) for k, v in files.items()}),
             "vitis-run": FAKE_VITIS_RUN.format(python=sys.executable, fixtures=FIXTURES),
             "vitis_hls": f"#!{sys.executable}\n"}
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    steps = []
    resources = vendor_build(build.board, models, units, tmp_path / "vendor", progress=steps.append)
    assert steps[0] == VENDOR_STEPS[0] and steps[-1] == VENDOR_STEPS[-1]
    assert [r["source"] for r in resources["hls"]] == ["vitis_hls"] * 3
    assert [(r["index"], r["lut"], r["latency_cycles"], r["ii_cycles"]) for r in resources["stages"]] == [
        (1, 2100, 10, 8), (2, 1000, 10, 8), (3, 1000, 10, 8)]
    assert resources["total"]["wns_ns"] == 1.25 and resources["capacity"]["lut"] == 53200
    assert resources["utilisation_pct"]["lut"] == pytest.approx(100 * 1526 / 53200) and resources["fits"]
    for k in (1, 2, 3):
        assert (tmp_path / f"stage_{k}" / "build_stdout.log").is_file()   # hls4ml's log went to a file
