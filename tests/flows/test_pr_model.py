"""PR model: board figures, region size -> frames -> bitstream bytes -> seconds, mapping capacity, bad inputs."""
from __future__ import annotations

from dataclasses import replace

import pytest

from boards import load_board
from flows.pr import ExitProfile, PrError, StageCost, evaluate_pr, pr_inputs_from_report
from flows.pr.inputs import power_spec, reconfig_spec
from flows.pr.region import bitstream_bytes, candidate_mappings, size_region


@pytest.fixture(scope="module")
def board():
    return load_board("pynq-z2")


@pytest.fixture(scope="module")
def spec(board):
    return reconfig_spec(board)


def test_pynq_board_figures_agree_with_the_device_and_carry_sources(board, spec):
    """Cross-checks against facts outside the reconfiguration: block, so a typo in it (or in the device
    totals) fails: 7-series CLB columns are 50 CLBs of 8 LUTs and 16 FFs per clock region (UG474); a
    frame is 101 32-bit words (UG470); PCAP is 32 bits at 100 MHz at most; the clock-region rows times
    the columns of a row hold the device's DS190 totals (resources:) to within the partial PS corner."""
    assert spec.lut_per_clb_column == 50 * 8 and spec.ff_per_clb_column == 50 * 16
    assert spec.frame_bytes == 101 * 4
    assert 0 < spec.port_bytes_per_s <= 4 * 100e6
    res, rows, cols = board.resources, spec.clock_region_rows, spec.columns_per_row
    assert 0.97 <= rows * cols["clb"] * spec.lut_per_clb_column / res["lut"] <= 1.03
    assert rows * cols["dsp"] * spec.dsp_per_column >= res["dsp"]
    assert rows * cols["bram"] * spec.bram_per_column >= res["bram36"]
    assert all(spec.sources.values()), [k for k, v in spec.sources.items() if not v]
    power = power_spec(board)
    assert all("estimate" in v or "clock" in v for v in power.sources.values())


def test_region_of_1000_luts_is_three_clb_columns_and_45060_bytes(spec):
    region = size_region([StageCost(1, lut=1000, ff=500)], spec, margin=0.0)
    assert region.height == 1 and region.columns == {"clb": 3, "dsp": 0, "bram": 0}
    assert region.frames == 3 * 36
    # 108 frames + 1 pad frame per clock-region row, 404 B each, + 1024 B header
    assert region.bitstream_bytes == 108 * 404 + 404 + 1024 == 45060
    assert region.reconfig_s == pytest.approx(45060 / 145e6)
    assert region.provides == {"lut": 1200, "ff": 2400, "dsp": 0, "bram": 0}


def test_region_is_the_fewest_frames_of_every_pblock_that_holds_the_largest_stage(spec):
    """Against a brute-force search: every height and every CLB/DSP/BRAM column count that fits a row,
    frames counted as UG470 defines them (one frame per column per clock region; a BRAM column also
    carries its content frames)."""
    stages = [StageCost(1, lut=1000, ff=3000, dsp=0), StageCost(2, lut=2000, ff=100, dsp=25, bram=3)]
    region = size_region(stages, spec, margin=0.2)
    assert region.need == {"lut": 2400.0, "ff": 3600.0, "dsp": 30.0, "bram": 3.6}   # stage 2's, stage 1's FF, +20 %
    per_region = {"clb": 36, "dsp": 28, "bram": 28 + 128}     # UG470 frames per column per clock region
    best = None
    for h in range(1, spec.clock_region_rows + 1):
        for clb in range(1, spec.columns_per_row["clb"] + 1):
            for dsp in range(spec.columns_per_row["dsp"] + 1):
                for bram in range(spec.columns_per_row["bram"] + 1):
                    holds = (clb * 400 * h >= 2400 and clb * 800 * h >= 3600 and dsp * 20 * h >= 30
                             and bram * 10 * h >= 3.6)
                    frames = h * (clb * per_region["clb"] + dsp * per_region["dsp"] + bram * per_region["bram"])
                    if holds and (best is None or frames < best):
                        best = frames
    assert region.frames == best
    assert region.provides["lut"] >= 2400 and region.provides["ff"] >= 3600
    assert region.provides["dsp"] >= 30 and region.provides["bram"] >= 3.6


def test_icap_is_faster_than_pcap_for_the_same_bitstream(board, spec):
    blocks = dict(board.extra)
    blocks["reconfiguration"] = {**blocks["reconfiguration"], "port": "icap"}
    icap = reconfig_spec(replace(board, extra=blocks))
    stage = [StageCost(1, lut=4000, ff=4000)]
    a, b = size_region(stage, spec, 0.2), size_region(stage, icap, 0.2)
    assert a.bitstream_bytes == b.bitstream_bytes
    # same bytes over a wider port: the time falls by exactly the bandwidth ratio
    assert b.reconfig_s < a.reconfig_s
    assert a.reconfig_s * spec.port_bytes_per_s == pytest.approx(b.reconfig_s * icap.port_bytes_per_s)
    assert bitstream_bytes(a.frames, a.height, spec) == a.bitstream_bytes


def test_mappings_cover_resident_shared_and_mixed():
    names = [(m.name, m.static_stages, m.region_stages) for m in candidate_mappings(3)]
    assert names == [("all_resident", (1, 2, 3), ()), ("single_region", (), (1, 2, 3)), ("mixed", (1,), (2, 3))]


STAGES = [StageCost(1, 3000, 2500, latency_cycles=12, in_bytes=128, out_bytes=128),
          StageCost(2, 8000, 6000, latency_cycles=15, in_bytes=128, out_bytes=96),
          StageCost(3, 3000, 2000, latency_cycles=10, in_bytes=96)]
RATES = [0.497, 0.45, 0.053]


def test_board_without_configuration_port_figure_is_rejected(board):
    extra = {k: v for k, v in board.extra.items() if k != "reconfiguration"}
    with pytest.raises(PrError, match="no reconfiguration: block"):
        evaluate_pr(STAGES, [], RATES, replace(board, extra=extra), samples=500)
    blocks = {**board.extra, "reconfiguration": {**board.extra["reconfiguration"], "ports": {}}}
    with pytest.raises(PrError, match="has no bandwidth figure"):
        evaluate_pr(STAGES, [], RATES, replace(board, extra=blocks), samples=500)


def test_region_budget_smaller_than_every_stage_is_rejected(board):
    with pytest.raises(PrError, match="region budget is smaller than the largest stage"):
        evaluate_pr(STAGES, [], RATES, board, samples=500, batch_sizes=[1, 8],
                    region_budget={"lut": 1000, "ff": 100000, "dsp": 100, "bram": 100})


def test_device_too_small_for_any_mapping_is_rejected(board):
    with pytest.raises(PrError, match="no partial-reconfiguration mapping fits .*the largest stage"):
        evaluate_pr(STAGES, [], RATES, board, samples=500, batch_sizes=[1, 8], capacity_fraction=0.05)


def test_exit_rates_must_sum_to_one_and_match_the_stages(board):
    with pytest.raises(PrError, match="sum to"):
        ExitProfile((0.5, 0.2))
    with pytest.raises(PrError, match="exit rates for 3 stages"):
        evaluate_pr(STAGES, [], [0.5, 0.5], board, samples=500)


def test_inputs_are_read_from_a_report_dict():
    report = {"board": "pynq-z2", "clock_mhz": 100,
              "exits": [{"index": 1, "exit_rate": 0.6}, {"index": 2, "exit_rate": 0.4}],
              "stages": [{"index": 1, "input_shape": [8, 8, 1]}, {"index": 2, "input_shape": [4, 4, 4]}],
              "resources": {"stages": [{"index": 1, "lut": 900, "ff": 800, "carry4": 10, "dsp": 0, "bram": 0.5,
                                        "lut_levels": 4, "source": "yosys", "seconds": 1.0},
                                       {"index": 2, "lut": 1500, "ff": 1000, "dsp": 2, "bram": 0}],
                            "exit_units": [{"index": 1, "lut": 200, "ff": 150, "dsp": 0, "bram": 0}]},
              "sim": {"exits": [{"index": 1, "latency_cycles": {"mean": 9.0}}, {"index": 2, "latency_cycles": 14}]}}
    stages, exit_units, rates, board = pr_inputs_from_report(report)
    assert board == "pynq-z2" and rates.rates == (0.6, 0.4)
    assert [(s.index, s.lut, s.bram, s.latency_cycles) for s in stages] == [(1, 900, 0.5, 9.0), (2, 1500, 0.0, 14.0)]
    assert stages[0].in_bytes == 64 * 2 and stages[0].out_bytes == 64 * 2 and stages[1].out_bytes == 0
    assert [e.lut for e in exit_units] == [200]
    with pytest.raises(PrError, match="no resources.stages block"):
        pr_inputs_from_report({k: v for k, v in report.items() if k != "resources"})


def test_region_wider_than_a_clock_region_row_is_not_placeable(spec):
    with pytest.raises(PrError, match="does not fit in 3 clock-region rows"):
        size_region([StageCost(1, lut=60000, ff=1000)], spec, margin=0.2)
    tall = size_region([StageCost(1, lut=30000, ff=1000)], spec, margin=0.0)
    assert tall.columns["clb"] <= 44 and tall.height >= 2


def test_pr_block_reports_why_instead_of_failing(tmp_path):
    from flows.pr import pr_block

    block = pr_block({"exits": []}, tmp_path)
    assert list(block) == ["error"] and "no resources.stages block" in block["error"]
    assert not any(tmp_path.iterdir())
