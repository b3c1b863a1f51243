"""Vendor report parsers on real Vivado HLS / Vivado reports and on hand-written excerpts.

Real files: ``shared/fixtures/vivado_hls4ml/`` beside the repository (hls4ml's own test reports,
Vivado HLS 2020.1 and Vivado 2020.1, xc7z020clg400-1). Timing and power have no real fixture yet:
their parsers are pinned on HAND-WRITTEN excerpts in the documented Vivado text format, and the
tests on real files skip, naming the file they need.
"""
import shutil
from pathlib import Path

import pytest

from flows.vendor.parsers import (ReportFormatError, implementation_record, parse_csynth_rpt, parse_csynth_xml,
                                  parse_hls4ml_project, parse_power, parse_timing_summary, parse_utilization,
                                  parse_utilization_hierarchy)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
HLS4ML = FIXTURES / "vivado_hls4ml"
needs_hls4ml_fixture = pytest.mark.skipif(not HLS4ML.is_dir(), reason=f"needs real reports in {HLS4ML}")


@needs_hls4ml_fixture
def test_csynth_xml_gives_latency_interval_clock_and_resources():
    r = parse_csynth_xml(HLS4ML / "myproject_csynth.xml")
    assert (r.source, r.name, r.part) == ("vivado_hls", "myproject", "xc7z020-clg400-1")
    assert (r.lut, r.ff, r.dsp, r.bram) == (2532, 7969, 73, 0.0)
    assert (r.latency_min_cycles, r.latency_cycles, r.ii_cycles) == (10, 10, 8)
    assert (r.target_clock_ns, r.clock_ns) == (5.0, 4.049)
    assert r.carry4 is None and r.lut_levels is None  # HLS estimates do not give these: None, not 0


@needs_hls4ml_fixture
def test_csynth_text_report_agrees_with_the_xml_report():
    text, xml = parse_csynth_rpt(HLS4ML / "myproject_csynth.rpt"), parse_csynth_xml(HLS4ML / "myproject_csynth.xml")
    assert text.to_dict() == xml.to_dict()


@needs_hls4ml_fixture
def test_vivado_synth_utilization_counts_luts_ffs_carry_dsp_and_bram_tiles():
    r = parse_utilization(HLS4ML / "vivado_synth.rpt")
    assert r.source == "vivado_synth"  # Design State: Synthesized
    assert (r.lut, r.lut_as_memory, r.ff, r.carry4, r.dsp) == (1526, 48, 2428, 295, 66)
    assert (r.bram, r.ramb36, r.ramb18) == (0.0, 0, 0)
    assert r.to_dict().keys() >= {"lut", "ff", "carry4", "dsp", "bram", "lut_levels", "source", "seconds",
                                  "latency_cycles", "ii_cycles", "clock_ns", "wns_ns", "index"}


@needs_hls4ml_fixture
def test_hls4ml_project_is_read_through_hls4ml_report_and_matches_the_file_parsers(tmp_path):
    # the layout hls4ml's Vivado backend leaves after build(csynth=True, vsynth=True)
    (tmp_path / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n'
                                          'variable backend\nset backend "vivado"\n')
    solution = tmp_path / "myproject_prj" / "solution1"
    (solution / "syn" / "report").mkdir(parents=True)
    shutil.copy(HLS4ML / "vivado_hls.app", tmp_path / "myproject_prj" / "vivado_hls.app")
    shutil.copy(HLS4ML / "myproject_csynth.xml", solution / "syn" / "report" / "myproject_csynth.xml")
    shutil.copy(HLS4ML / "vivado_synth.rpt", tmp_path / "vivado_synth.rpt")
    hls, synth = parse_hls4ml_project(tmp_path)
    expected = parse_csynth_xml(HLS4ML / "myproject_csynth.xml")
    for key in ("lut", "ff", "dsp", "bram", "latency_cycles", "latency_min_cycles", "ii_cycles", "clock_ns",
                "target_clock_ns", "source"):
        assert getattr(hls, key) == getattr(expected, key), key
    assert synth.to_dict() == parse_utilization(HLS4ML / "vivado_synth.rpt").to_dict()


def test_project_without_reports_says_to_run_the_vendor_flow(tmp_path):
    (tmp_path / "project.tcl").write_text('set project_name "x"\nset backend "vitis"\n')
    with pytest.raises(ReportFormatError, match="no synthesis reports"):
        parse_hls4ml_project(tmp_path)
    with pytest.raises(ReportFormatError, match="not an hls4ml project"):
        parse_hls4ml_project(tmp_path / "nowhere")


def test_wrong_file_kind_gets_a_one_line_error(tmp_path):
    bogus = tmp_path / "bogus.rpt"
    bogus.write_text("hello\n")
    for parser in (parse_csynth_rpt, parse_csynth_xml, parse_utilization, parse_timing_summary, parse_power,
                   parse_utilization_hierarchy):
        with pytest.raises(ReportFormatError) as err:
            parser(bogus)
        assert "\n" not in str(err.value) and "bogus.rpt" in str(err.value)
    with pytest.raises(ReportFormatError, match="does not exist"):
        parse_power(tmp_path / "absent.rpt")


# ---- HAND-WRITTEN excerpts (not tool output): the documented layout of Vivado 2020-2023 reports

HAND_WRITTEN_TIMING = """\
| Command      : report_timing_summary -file timing_summary_routed.rpt
| Design       : design_1_wrapper
| Design State : Routed
------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------
      1.250        0.000                      0                12034        0.031        0.000                      0                12034        3.750        0.000                       0                  5120


All user specified timing constraints are met.


------------------------------------------------------------------------------------------------
| Clock Summary
| -------------
------------------------------------------------------------------------------------------------

Clock       Waveform(ns)         Period(ns)      Frequency(MHz)
-----       ------------         ----------      --------------
clk_fpga_0  {0.000 5.000}        10.000          100.000
"""

HAND_WRITTEN_POWER = """\
| Command          : report_power -file power_routed.rpt
| Design State     : routed
1. Summary
----------

+--------------------------+--------------+
| Total On-Chip Power (W)  | 1.712        |
| Design Power Budget (W)  | Unspecified* |
| Power Budget Margin (W)  | NA           |
| Dynamic (W)              | 1.571        |
| Device Static (W)        | 0.141        |
| Effective TJA (C/W)      | 11.5         |
| Max Ambient (C)          | 65.3         |
| Junction Temperature (C) | 44.7         |
| Confidence Level         | Medium       |
+--------------------------+--------------+
"""

HAND_WRITTEN_HIERARCHY = """\
| Command      : report_utilization -hierarchical -file util_hier.rpt
+-----------------------+-----------------------+------------+------------+---------+------+-------+--------+--------+--------------+
|        Instance       |         Module        | Total LUTs | Logic LUTs | LUTRAMs | SRLs |  FFs  | RAMB36 | RAMB18 | DSP48 Blocks |
+-----------------------+-----------------------+------------+------------+---------+------+-------+--------+--------+--------------+
| design_1_wrapper      |                 (top) |       9000 |       8500 |     300 |  200 | 12000 |      2 |      3 |           80 |
|   design_1_i          |              design_1 |       9000 |       8500 |     300 |  200 | 12000 |      2 |      3 |           80 |
|     stage_1           |    design_1_stage_1_0 |       2100 |       2000 |       0 |  100 |  3000 |      0 |      1 |           30 |
|     exit_unit_1       | design_1_exit_unit_1_0|        150 |        150 |       0 |    0 |   200 |      0 |      0 |            2 |
+-----------------------+-----------------------+------------+------------+---------+------+-------+--------+--------+--------------+
"""


HAND_WRITTEN_ULTRASCALE_UTILIZATION = """\
| Command      : report_utilization -file utilization_routed.rpt
| Design       : design_1_wrapper
| Device       : xczu7ev-ffvc1156-2-e
| Design State : Routed
1. CLB Logic
------------

+----------------------------+-------+-------+------------+-----------+-------+
|          Site Type         |  Used | Fixed | Prohibited | Available | Util% |
+----------------------------+-------+-------+------------+-----------+-------+
| CLB LUTs                   | 22397 |     0 |          0 |    230400 |  9.72 |
|   LUT as Logic             | 21900 |     0 |          0 |    230400 |  9.51 |
|   LUT as Memory            |   497 |     0 |          0 |    101760 |  0.49 |
| CLB Registers              | 30110 |     0 |          0 |    460800 |  6.53 |
+----------------------------+-------+-------+------------+-----------+-------+


3. BLOCKRAM
-----------

+-------------------+------+-------+------------+-----------+-------+
|     Site Type     | Used | Fixed | Prohibited | Available | Util% |
+-------------------+------+-------+------------+-----------+-------+
| Block RAM Tile    | 12.5 |     0 |          0 |       312 |  4.01 |
|   RAMB36/FIFO*    |   12 |     0 |          0 |       312 |  3.85 |
|   RAMB18          |    1 |     0 |          0 |       624 |  0.16 |
+-------------------+------+-------+------------+-----------+-------+


4. ARITHMETIC
-------------

+----------------+------+-------+------------+-----------+-------+
|    Site Type   | Used | Fixed | Prohibited | Available | Util% |
+----------------+------+-------+------------+-----------+-------+
| DSPs           |  150 |     0 |          0 |      1728 |  8.68 |
|   DSP48E2 only |  150 |       |            |           |       |
+----------------+------+-------+------------+-----------+-------+


8. Primitives
-------------

+----------+-------+---------------------+
| Ref Name |  Used | Functional Category |
+----------+-------+---------------------+
| FDRE     | 30000 |            Register |
| CARRY8   |   812 |                 CLB |
+----------+-------+---------------------+
"""


def test_ultrascale_utilization_reads_clb_blockram_and_arithmetic_sections(tmp_path):
    path = tmp_path / "util_us.rpt"
    path.write_text(HAND_WRITTEN_ULTRASCALE_UTILIZATION)
    r = parse_utilization(path)
    assert (r.source, r.part) == ("vivado_impl", "xczu7ev-ffvc1156-2-e")
    assert (r.lut, r.lut_as_memory, r.ff, r.dsp, r.carry4) == (22397, 497, 30110, 150, 812)
    assert (r.bram, r.ramb36, r.ramb18) == (12.5, 12, 1)


def test_timing_summary_gives_wns_and_achieved_clock(tmp_path):
    path = tmp_path / "timing.rpt"
    path.write_text(HAND_WRITTEN_TIMING)
    t = parse_timing_summary(path)
    assert (t.wns_ns, t.tns_ns, t.whs_ns, t.clock, t.period_ns) == (1.25, 0.0, 0.031, "clk_fpga_0", 10.0)
    assert t.met and t.achieved_clock_ns == pytest.approx(8.75) and t.fmax_mhz == pytest.approx(1000 / 8.75)
    failing = tmp_path / "failing.rpt"
    failing.write_text(HAND_WRITTEN_TIMING.replace("      1.250        0.000", "     -0.420      -12.500"))
    f = parse_timing_summary(failing)
    assert not f.met and f.achieved_clock_ns == pytest.approx(10.42)


def test_power_summary_gives_total_dynamic_and_static_watts(tmp_path):
    path = tmp_path / "power.rpt"
    path.write_text(HAND_WRITTEN_POWER)
    p = parse_power(path)
    assert (p.total_w, p.dynamic_w, p.static_w, p.junction_c, p.confidence) == (1.712, 1.571, 0.141, 44.7, "Medium")


def test_hierarchical_utilization_gives_one_record_per_instance(tmp_path):
    path = tmp_path / "util_hier.rpt"
    path.write_text(HAND_WRITTEN_HIERARCHY)
    rows = {r.name: r for r in parse_utilization_hierarchy(path)}
    assert list(rows) == ["design_1_wrapper", "design_1_i", "stage_1", "exit_unit_1"]
    s1 = rows["stage_1"]
    assert (s1.lut, s1.ff, s1.dsp, s1.bram, s1.lut_as_memory, s1.source) == (2100, 3000, 30, 0.5, 100, "vivado_impl")
    assert [r.name for r in parse_utilization_hierarchy(path, depth=2)] == ["stage_1", "exit_unit_1"]


@needs_hls4ml_fixture
def test_implementation_record_joins_utilization_timing_and_power(tmp_path):
    (tmp_path / "t.rpt").write_text(HAND_WRITTEN_TIMING)
    (tmp_path / "p.rpt").write_text(HAND_WRITTEN_POWER)
    r = implementation_record(HLS4ML / "vivado_synth.rpt", tmp_path / "t.rpt", tmp_path / "p.rpt")
    assert (r.source, r.lut, r.wns_ns, r.target_clock_ns, r.power_w) == ("vivado_impl", 1526, 1.25, 10.0, 1.712)
    assert r.clock_ns == pytest.approx(8.75)


# ---- real timing / power reports: drop them into shared/fixtures to run these

REAL_TIMING = FIXTURES / "vivado_timing_summary.rpt"
REAL_POWER = FIXTURES / "vivado_power.rpt"


@pytest.mark.skipif(not REAL_TIMING.is_file(), reason=f"needs a real Vivado report_timing_summary at {REAL_TIMING}")
def test_real_timing_summary_report_parses():
    t = parse_timing_summary(REAL_TIMING)
    assert t.period_ns and t.period_ns > 0 and t.achieved_clock_ns > 0


@pytest.mark.skipif(not REAL_POWER.is_file(), reason=f"needs a real Vivado report_power at {REAL_POWER}")
def test_real_power_report_parses():
    p = parse_power(REAL_POWER)
    assert p.total_w > 0 and (p.dynamic_w is None or p.dynamic_w <= p.total_w)
