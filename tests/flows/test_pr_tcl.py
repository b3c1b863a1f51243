"""DFX project Tcl: structure, one module per stage, complete configurations, pblock from the region estimate."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from boards import load_board
from flows.pr import StageCost, evaluate_pr, write_pr_outputs
from flows.pr.region import size_region
from flows.pr.inputs import reconfig_spec
from flows.pr.tcl import PARTITION, RP_CELL, dfx_tcl, pblock_ranges
from flows.tools import find_vendor_tools, setup_verilator

ROOT = Path(__file__).resolve().parents[2]
STAGES = [StageCost(1, 3000, 2500, latency_cycles=12, in_bytes=128, out_bytes=128),
          StageCost(2, 8000, 6000, dsp=12, bram=2, latency_cycles=15, in_bytes=128, out_bytes=96),
          StageCost(3, 3000, 2000, latency_cycles=10, in_bytes=96)]


def balanced(text: str) -> bool:
    depth = {"[": 0, "{": 0}
    pairs = {"]": "[", "}": "{"}
    for line in text.splitlines():
        line = line.replace("\\[", "").replace("\\]", "")
        for ch in line:
            if ch in depth:
                depth[ch] += 1
            elif ch in pairs:
                depth[pairs[ch]] -= 1
                if depth[pairs[ch]] < 0:
                    return False
    return all(v == 0 for v in depth.values())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    board = load_board("pynq-z2")
    result = evaluate_pr(STAGES, [], [0.5, 0.45, 0.05], board, samples=2000, batch_sizes=[1, 16, 256],
                         batch_size=256, capacity_fraction=0.3)
    out = tmp_path_factory.mktemp("pr")
    return result, write_pr_outputs(result, out), out


def test_tcl_has_every_dfx_step_in_order(outputs):
    result, paths, _ = outputs
    text = paths["tcl"].read_text()
    steps = ["create_project", "set_property PR_FLOW 1", "create_bd_design", "processing_system7", "axi_dma",
             "create_partition_def", "create_reconfig_module", "create_pr_configuration", "create_pblock",
             "resize_pblock", "launch_runs impl_1", "pr_verify", "write_bitstream -force -cell"]
    positions = [text.index(s) for s in steps]
    assert positions == sorted(positions), "DFX steps out of order"
    assert f"-part {result.part}" in text
    assert balanced(text)


def test_every_stage_has_a_module_and_every_configuration_is_complete(outputs):
    result, paths, _ = outputs
    text = paths["tcl"].read_text()
    stages = result.mapping["pr"]["region_stages"]
    partitions = re.findall(r"create_partition_def -name (\S+)", text)
    assert partitions == [PARTITION]
    modules = re.findall(r"create_reconfig_module -name (\S+) -partition_def \[get_partition_defs (\S+)\]", text)
    assert modules == [(f"stage_{k}", PARTITION) for k in stages]
    for name, _ in modules:
        assert re.search(rf"add_files .* -of_objects \[get_reconfig_modules {name}\]", text), name
    configs = dict(re.findall(r"create_pr_configuration -name (\S+) -partitions \[list ([^\]]*)\]", text))
    assert len(configs) == len(stages)
    cells = {RP_CELL}
    for name, assignment in configs.items():
        assigned = dict(a.split(":") for a in assignment.split())
        assert set(assigned) == cells, f"{name} leaves a partition without a module"
    # one implementation run per configuration, each verified and each writing its partial bitstream
    runs = re.findall(r"-pr_config (\S+)", text) + re.findall(r"PR_CONFIGURATION (\S+) \[get_runs impl_1\]", text)
    assert sorted(runs) == sorted(configs)
    assert len(re.findall(r"write_bitstream -force -cell " + re.escape(RP_CELL), text)) == len(stages)
    assert text.count("_partial.bit") == len(stages)


def test_pblock_is_sized_from_the_region_estimate():
    spec = reconfig_spec(load_board("pynq-z2"))
    region = size_region(STAGES, spec, 0.2)
    ranges = pblock_ranges(region)
    x0, y0, x1, y1 = map(int, re.match(r"SLICE_X(\d+)Y(\d+):SLICE_X(\d+)Y(\d+)", ranges[0]).groups())
    assert (x1 - x0 + 1) == 2 * region.columns["clb"]          # two slices per CLB column
    assert (y1 - y0 + 1) == 50 * region.height                 # 50 CLB rows per clock region
    dsp = [r for r in ranges if r.startswith("DSP48")]
    assert (len(dsp) == 1) == (region.columns["dsp"] > 0)
    text = dfx_tcl("xc7z020clg400-1", [1, 2, 3], region)
    assert all(r in text for r in ranges)


def test_missing_stage_sources_are_rejected():
    spec = reconfig_spec(load_board("pynq-z2"))
    region = size_region(STAGES, spec, 0.2)
    with pytest.raises(ValueError, match=r"no Verilog sources for stage\(s\) \[3\]"):
        dfx_tcl("xc7z020clg400-1", [1, 2, 3], region, stage_sources={1: ["a.v"], 2: ["b.v"]})


def lint_top(out: Path, tmp_path: Path, extra: list[Path]) -> None:
    """dfx_top + the static path elaborate (verilator -Wall) against a stub of the block design."""
    top = out / "rtl" / "dfx_top.v"
    stub = tmp_path / "static_bd_wrapper.v"
    ports = re.search(r"static_bd_wrapper u_static \((.*?)\);", top.read_text(), re.S).group(1)
    names = re.findall(r"\.(\w+)\(", ports)

    def direction(n: str) -> str:
        if n.startswith(("DDR", "FIXED")):
            return "inout"
        into_bd = ("from" in n and not n.endswith("tready")) or ("_to" in n and n.endswith("tready"))
        return "input" if into_bd or n == "decouple_ack" else "output"

    def width(n: str) -> str:
        fixed = {"DDR_addr": "[14:0]", "DDR_ba": "[2:0]", "DDR_dm": "[3:0]", "DDR_dq": "[31:0]",
                 "DDR_dqs_n": "[3:0]", "DDR_dqs_p": "[3:0]", "FIXED_IO_mio": "[53:0]", "thr_word": "[31:0]",
                 "pl_reset": "[0:0]", "decouple_req": "[0:0]", "decouple_ack": "[0:0]"}
        return fixed.get(n, "[31:0]" if n.endswith("tdata") else "[3:0]" if n.endswith("tkeep") else "")

    stub.write_text("`timescale 1ns / 1ps\nmodule static_bd_wrapper (\n" + ",\n".join(
        f"    {direction(n)} {width(n)} {n}" for n in names) + "\n);\nendmodule\n")
    root = setup_verilator()
    proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "-Wno-PINCONNECTEMPTY",
                           "-Wno-DECLFILENAME", "-Wno-UNUSED", "-Wno-UNDRIVEN", "--top-module", "dfx_top",
                           *map(str, sorted((out / "rtl").rglob("*.v"))), str(stub), *map(str, extra)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_outputs_are_written_and_the_generated_top_lints(outputs, tmp_path):
    _, paths, out = outputs
    assert paths["json"].is_file() and paths["plot"].stat().st_size > 10_000
    lint_top(out, tmp_path, [ROOT / "sim" / "pr" / "stage_rm_model.v"])


def test_mixed_mapping_gives_the_resident_stage_its_own_dma_and_module(tmp_path):
    board = load_board("pynq-z2")
    result = evaluate_pr(STAGES, [], [0.5, 0.45, 0.05], board, samples=2000, batch_sizes=[1, 64], batch_size=64)
    assert result.mapping["pr"]["name"] == "mixed" and result.mapping["pr"]["static_stages"] == [1]
    core = [str(ROOT / "sim" / "pr" / "stage_core_model.v"), str(ROOT / "hardware" / "fifo" / "pl_fifo.v"),
            str(ROOT / "hardware" / "stream_shell" / "stream_shell.v")]
    manifests = {k: {"top": "stage_core_model", "in_width": 40, "out_width": 72, "verilog_files": core}
                 for k in (1, 2, 3)}
    from hardware.exit_unit.generate import write_unit
    from exit_unit.reference import config_for_exit
    from hardware.pr.static import StaticExitUnit
    from frontend.fixedpoint import FixedFormat

    unit = write_unit(config_for_exit(4, FixedFormat(16, 9, True), "margin"), "parallel", tmp_path / "eu")
    out = tmp_path / "pr"
    paths = write_pr_outputs(result, out, stage_manifests=manifests, exit_unit=StaticExitUnit.from_generated(unit))
    text = paths["tcl"].read_text()
    assert (out / "rtl" / "pr_static_path.v").read_text().count(f"{unit.top} u_") == 2   # region + resident
    assert "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_res1" in text
    assert "res1_to" in text and "stage_res_1.v" in text
    assert "create_reconfig_module -name stage_1 " not in text
    assert "module stage_res_1" in (out / "rtl" / "stage_1" / "stage_res_1.v").read_text()
    # the RM wrappers (module stage_rm) are not part of the static top: lint only the static side
    for rm in (out / "rtl").rglob("stage_rm_*.v"):
        rm.unlink()
    lint_top(out, tmp_path, [ROOT / "sim" / "pr" / "stage_rm_model.v", ROOT / "hardware" / "pr" / "axis_stage_adapter.v",
                             *map(Path, core)])


@pytest.mark.skipif(find_vendor_tools().vivado is None, reason="vivado not on PATH")
@pytest.mark.slow
def test_vivado_accepts_the_project(outputs):
    _, paths, out = outputs
    vivado = shutil.which("vivado")
    subprocess.run([vivado, "-mode", "batch", "-source", str(paths["tcl"]), "-nojournal"], cwd=out, check=True)


def test_stage_manifests_become_reconfigurable_modules_in_the_tcl(tmp_path):
    board = load_board("pynq-z2")
    result = evaluate_pr(STAGES, [], [0.5, 0.45, 0.05], board, samples=2000, batch_sizes=[1, 16], batch_size=16,
                         capacity_fraction=0.3)
    core = [str(ROOT / "sim" / "pr" / "stage_core_model.v"), str(ROOT / "hardware" / "fifo" / "pl_fifo.v"),
            str(ROOT / "hardware" / "stream_shell" / "stream_shell.v")]
    manifests = {k: {"top": "stage_core_model", "in_width": 40, "out_width": 72, "verilog_files": core}
                 for k in (1, 2, 3)}
    paths = write_pr_outputs(result, tmp_path, stage_manifests=manifests)
    text = paths["tcl"].read_text()
    for k in result.mapping["pr"]["region_stages"]:
        wrapper = tmp_path / "rtl" / f"stage_{k}" / f"stage_rm_{k}.v"
        assert wrapper.is_file() and "module stage_rm" in wrapper.read_text()
        line = next(ln for ln in text.splitlines() if f"get_reconfig_modules stage_{k}]" in ln and "add_files" in ln)
        assert str(wrapper.resolve()) in line and "axis_stage_adapter.v" in line and "stage_core_model.v" in line
    with pytest.raises(Exception, match=r"no stage RTL manifest for stage\(s\) \[3\]"):
        write_pr_outputs(result, tmp_path / "again", stage_manifests={1: manifests[1], 2: manifests[2]})


def test_static_path_with_a_shared_exit_unit_is_in_the_project(tmp_path):
    from hardware.exit_unit.generate import write_unit
    from exit_unit.reference import config_for_exit
    from hardware.pr.static import StaticExitUnit
    from frontend.fixedpoint import FixedFormat

    board = load_board("pynq-z2")
    result = evaluate_pr(STAGES, [], [0.5, 0.45, 0.05], board, samples=2000, batch_sizes=[1, 16], batch_size=16)
    unit = write_unit(config_for_exit(10, FixedFormat(16, 9, True), "max_prob"), "parallel", tmp_path / "eu")
    paths = write_pr_outputs(result, tmp_path / "pr", exit_unit=StaticExitUnit.from_generated(unit))
    text = paths["tcl"].read_text()
    path_v = (tmp_path / "pr" / "rtl" / "pr_static_path.v").read_text()
    assert f"{unit.top} u_exit" in path_v and "pr_exit_tap" in path_v
    assert f"rtl/{unit.top}.v" in text and "rtl/pr_exit_tap.v" in text and "thr_gpio" in text
    assert "localparam integer THR_W = 13;" in (tmp_path / "pr" / "rtl" / "dfx_top.v").read_text()


def _synth_like_sources(tmp_path):
    """What `make synth` hands the PR step: a stage.json per stage and one generated exit unit."""
    from exit_unit.reference import config_for_exit
    from frontend.fixedpoint import FixedFormat
    from hardware.exit_unit.generate import write_unit
    from hardware.pr.static import StaticExitUnit

    core = [str(ROOT / "sim" / "pr" / "stage_core_model.v"), str(ROOT / "hardware" / "fifo" / "pl_fifo.v"),
            str(ROOT / "hardware" / "stream_shell" / "stream_shell.v")]
    manifests = {}
    for k in (1, 2, 3):
        path = tmp_path / "rtl" / f"stage_{k}" / "stage.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"top": "stage_core_model", "in_width": 40, "out_width": 72, "verilog_files": core}))
        manifests[k] = path
    unit = write_unit(config_for_exit(10, FixedFormat(16, 9, True), "max_prob"), "parallel", tmp_path / "eu")
    return manifests, StaticExitUnit.from_generated(unit)


def _report_json(path: Path, manifests: dict | None = None) -> Path:
    report = {"board": "pynq-z2", "clock_mhz": 100,
              "exits": [{"index": 1, "exit_rate": 0.5}, {"index": 2, "exit_rate": 0.45}, {"index": 3, "exit_rate": 0.05}],
              "stages": [{"index": s.index, "rtl_dir": str(manifests[s.index].parent) if manifests else None}
                         for s in STAGES],
              "resources": {"stages": [{"index": s.index, "lut": s.lut, "ff": s.ff, "dsp": s.dsp, "bram": s.bram,
                                        "latency_cycles": s.latency_cycles, "in_width": 8 * s.in_bytes,
                                        "out_width": 8 * s.out_bytes} for s in STAGES], "exit_units": []}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


def test_a_project_with_placeholders_never_replaces_one_built_from_real_sources(tmp_path):
    manifests, unit = _synth_like_sources(tmp_path)
    result = evaluate_pr(STAGES, [], [0.5, 0.45, 0.05], load_board("pynq-z2"), samples=2000, batch_sizes=[1, 16],
                         batch_size=16, capacity_fraction=0.3)
    out = tmp_path / "pr"
    rich = write_pr_outputs(result, out, stage_manifests=manifests, exit_unit=unit)
    before = {p: p.read_text() for p in [rich["tcl"], *(out / "rtl").rglob("*.v")]}
    again = write_pr_outputs(result, out)       # no manifests, no exit unit: placeholders
    assert again["tcl"] == out / "placeholders" / "dfx_project.tcl" and again["tcl"].is_file()
    assert {p: p.read_text() for p in before} == before, "the project built from real sources was changed"
    assert any("placeholder" in n for n in result.notes)
    assert json.loads((out / "dfx_sources.json").read_text())["complete"] is True


@pytest.mark.parametrize("with_record", [True, False])
def test_make_pr_rebuilds_the_project_from_the_sources_make_synth_used(tmp_path, with_record):
    """`make pr` after `make synth`: the same stage RTL and exit unit, from dfx_sources.json or else from the
    stage manifests beside the report's stage RTL (no exit unit then: the rich project is kept)."""
    from flows.pr import make_pr
    from flows.pr.inputs import pr_inputs_from_report

    manifests, unit = _synth_like_sources(tmp_path)
    report = _report_json(tmp_path / "build" / "report.json", manifests)
    stages, units, rates, _ = pr_inputs_from_report(json.loads(report.read_text()))
    out = tmp_path / "build" / "pr"
    result = evaluate_pr(stages, units, rates, load_board("pynq-z2"))
    synth_tcl = write_pr_outputs(result, out, stage_manifests=manifests, exit_unit=unit)["tcl"].read_text()
    if not with_record:
        (out / "dfx_sources.json").unlink()
    make_pr(report, out, deadline_s=0.01)
    assert (out / "dfx_project.tcl").read_text() == synth_tcl
    assert (out / "placeholders").exists() is not with_record
    if not with_record:   # stage RTL found through the report, the exit unit not: the new project went beside
        text = (out / "placeholders" / "dfx_project.tcl").read_text()
        assert "stage_core_model.v" in text and unit.top not in text
