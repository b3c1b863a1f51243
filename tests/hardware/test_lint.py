"""Every Verilog source of the project passes `verilator --lint-only -Wall` with no warning: each hand-written
module under hardware/ and sim/ (whatever is there when the test runs), and the output of every generator (stage
cores, a folded core, exit units of each policy and variant, pipeline tops with and without reorder and with a
headless stage, PR wrappers, static paths and the DFX top). Intended exceptions are targeted `lint_off`
comments inside the modules, never flags here."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardware.lint import lint, modules_in

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = sorted([*(ROOT / "hardware").rglob("*.v"), *(ROOT / "sim").rglob("*.v")])
LIBRARY = sorted({p.parent for p in HAND_WRITTEN})
STAND_INS = [ROOT / "sim" / "pr" / "stage_rm_model.v"]  # the partition's stage_rm, for the region wrapper


def assert_clean(sources, top, **options):
    warnings = lint(list(sources), top, library=LIBRARY, **options)
    assert not warnings, f"{top}: {len(warnings)} lint warning(s):\n" + "\n".join(warnings[:20])


def test_the_glob_finds_the_hand_written_library():
    names = {p.name for p in HAND_WRITTEN}
    assert {"pl_fifo.v", "stream_shell.v", "pl_reorder.v", "pr_decoupler.v", "eu_logit_buffer.v"} <= names


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: str(p.relative_to(ROOT)))
def test_hand_written_module_is_lint_clean_with_its_default_parameters(path):
    assert path.read_text().startswith("`timescale 1ns / 1ps"), f"{path.name} does not start with its timescale"
    for module in modules_in(path):
        assert_clean([path, *STAND_INS], module)


@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("policy", ["max_prob", "entropy", "margin"])
def test_generated_exit_units_are_lint_clean(policy, variant, tmp_path):
    from exit_unit.reference import ExitUnitConfig
    from frontend.fixedpoint import FixedFormat
    from hardware.exit_unit.generate import write_unit

    for classes, fmt in ((10, FixedFormat(16, 9)), (3, FixedFormat(4, 1)), (5, FixedFormat(8, 4, signed=False)),
                         (17, FixedFormat(12, 3))):
        unit = write_unit(ExitUnitConfig(classes, fmt, policy), variant, tmp_path / f"{classes}")
        assert_clean(unit.files, unit.top)
        assert_clean(unit.files, unit.top, parameters={"THRESHOLD_INIT": 1})


@pytest.fixture(scope="module")
def tiny_cores(tmp_path_factory):
    """The tiny two-exit stages' cores, a headless stage 1, and their exit units."""
    from tensorflow import keras

    from exit_unit.reference import ExitUnitConfig
    from hardware.exit_unit.generate import write_unit
    from hardware.stage import build_stage_rtl
    from sim.stage.testmodels import tiny_two_exit_stages

    root = tmp_path_factory.mktemp("lint_cores")
    s1, s2 = tiny_two_exit_stages()
    r1 = build_stage_rtl(s1, None, root / "stage_1", "stage_1")
    r2 = build_stage_rtl(s2, r1.forwarded.fmt, root / "stage_2", "stage_2")
    headless = build_stage_rtl(keras.Model(s1.inputs, s1.outputs[-1]), None, root / "headless", "stage_h",
                               has_logits=False)
    units = [write_unit(ExitUnitConfig(10, r.outputs[0].fmt, "max_prob"), "parallel", root / "eu") for r in (r1, r2)]
    return {"root": root, "cores": [r1, r2], "headless": headless, "units": units}


def test_generated_stage_cores_are_lint_clean(tiny_cores):
    for core in [*tiny_cores["cores"], tiny_cores["headless"]]:
        assert_clean(core.verilog_files, core.top)


def test_generated_folded_stage_core_is_lint_clean(tmp_path):
    from hardware.folded.folded import build_folded_stage
    from sim.stage.testmodels import two_exit_stages

    core = build_folded_stage(two_exit_stages(seed=2)[0], None, tmp_path, "fstage", parallelism=5)
    assert_clean(core.verilog_files, core.top)


@pytest.mark.parametrize("reorder", [False, True])
def test_generated_pipeline_tops_are_lint_clean(tiny_cores, reorder, tmp_path):
    from hardware.pipeline.generate import PipelineParams, write_pipeline

    (r1, r2), (u1, u2) = tiny_cores["cores"], tiny_cores["units"]
    params = PipelineParams(reorder=reorder, id_width=6, reorder_slots_log2=3)
    rtl = write_pipeline([r1, r2], [u1, u2], tmp_path / "full", params, thresholds=[5, None])
    assert_clean(rtl.files, rtl.top)
    rtl = write_pipeline([tiny_cores["headless"], r2], [None, u2], tmp_path / "headless", params)
    assert_clean(rtl.files, rtl.top)


def test_generated_pr_wrappers_static_paths_and_dfx_top_are_lint_clean(tiny_cores, tmp_path):
    from hardware.pr.dfx_top import dfx_top_verilog
    from hardware.pr.rm import write_stage_rm
    from hardware.pr.static import StaticExitUnit, write_static_path

    r1 = tiny_cores["cores"][0]
    unit = StaticExitUnit.from_generated(tiny_cores["units"][0])
    rm = write_stage_rm(1, r1.top, r1.in_width, r1.out_width, r1.verilog_files, tmp_path / "rm")
    assert_clean(rm, "stage_rm")
    resident = write_stage_rm(1, r1.top, r1.in_width, r1.out_width, r1.verilog_files, tmp_path / "res",
                              resident=True)
    region = [ROOT / "hardware" / "pr" / "pr_region_wrapper.v", ROOT / "hardware" / "pr" / "pr_decoupler.v", *rm]
    assert_clean(region, "pr_region_wrapper")
    for name, eu, res in (("plain", None, ()), ("exit", unit, ()), ("resident", unit, (1,))):
        static = write_static_path(tmp_path / name, eu, resident=res)
        sources = [*static, *region, *(resident if res else [])]
        assert_clean(sources, "pr_static_path")
        top = tmp_path / name / "dfx_top.v"
        top.write_text(dfx_top_verilog(32, unit.threshold_width, res))
        stub = tmp_path / name / "static_bd_wrapper.v"
        stub.write_text(static_bd_stub(32, res))
        assert_clean([top, stub, *sources], "dfx_top")


def static_bd_stub(data_w: int, resident: tuple[int, ...]) -> str:
    """A port-compatible stand-in for Vivado's block design wrapper (it exists only inside a Vivado project)."""
    keep = data_w // 8

    def stream(prefix: str) -> str:
        return (f"  output [{data_w - 1}:0] {prefix}_to_tdata, output {prefix}_to_tvalid, input {prefix}_to_tready,\n"
                f"  output {prefix}_to_tlast, output [{keep - 1}:0] {prefix}_to_tkeep,\n"
                f"  input [{data_w - 1}:0] {prefix}_from_tdata, input {prefix}_from_tvalid, "
                f"output {prefix}_from_tready,\n  input {prefix}_from_tlast, input [{keep - 1}:0] {prefix}_from_tkeep,\n")

    def drive(prefix: str) -> str:
        return (f"  assign {prefix}_to_tdata = 0; assign {prefix}_to_tvalid = 0; assign {prefix}_to_tlast = 0;\n"
                f"  assign {prefix}_to_tkeep = 0; assign {prefix}_from_tready = 1'b1;\n")

    streams = "".join(stream(f"res{k}") for k in resident)
    return ("`timescale 1ns / 1ps\n/* verilator lint_off UNUSEDSIGNAL */  // a stand-in: its inputs go nowhere\n"
            "module static_bd_wrapper (\n"
            "  inout [14:0] DDR_addr, inout [2:0] DDR_ba, inout DDR_cas_n, inout DDR_ck_n, inout DDR_ck_p,\n"
            "  inout DDR_cke, inout DDR_cs_n, inout [3:0] DDR_dm, inout [31:0] DDR_dq, inout [3:0] DDR_dqs_n,\n"
            "  inout [3:0] DDR_dqs_p, inout DDR_odt, inout DDR_ras_n, inout DDR_reset_n, inout DDR_we_n,\n"
            "  inout FIXED_IO_ddr_vrn, inout FIXED_IO_ddr_vrp, inout [53:0] FIXED_IO_mio, inout FIXED_IO_ps_clk,\n"
            "  inout FIXED_IO_ps_porb, inout FIXED_IO_ps_srstb,\n"
            "  output pl_clk, output [0:0] pl_reset, output [0:0] decouple_req, input [0:0] decouple_ack,\n"
            f"  output [31:0] thr_word,\n{streams}"
            + stream("region").replace("region_to", "to_region").replace("region_from", "from_region").rstrip(",\n")
            + "\n);\n  assign pl_clk = 1'b0; assign pl_reset = 1'b0; assign decouple_req = 1'b0; assign thr_word = 0;\n"
            + "".join(drive(f"res{k}") for k in resident)
            + drive("region").replace("region_to", "to_region").replace("region_from", "from_region")
            + "endmodule\n")
