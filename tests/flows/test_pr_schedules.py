"""PR schedules against hand-worked small cases (times in seconds, round numbers)."""
from __future__ import annotations

import numpy as np
import pytest

from boards import load_board
from flows.pr import PrError, StageCost, evaluate_pr
from flows.pr.schedule import SimResult, StageTiming, energy_per_sample, simulate

# stage 1: 1 s latency, 1 s per sample; stage 2: 2 s latency, 1 s per sample; reconfiguration 10 s
TWO = [StageTiming(1.0, 1.0), StageTiming(2.0, 1.0)]
EXITS = [1, 2, 1, 2]


def test_per_sample_reconfigures_whenever_the_next_sample_needs_the_other_stage():
    sim = simulate(EXITS, TWO, [0, 0], batch=1, window=1, reconfig_s=10.0)
    # s0: stage 1 0..1.  s1: stage 1 1..2, reconfigure 2..12, stage 2 12..14.
    # s2: reconfigure 14..24, stage 1 24..25.  s3: stage 1 25..26, reconfigure 26..36, stage 2 36..38.
    assert sim.latencies_s.tolist() == [1.0, 13.0, 11.0, 13.0]
    assert sim.makespan_s == 38.0 and sim.reconfigs == 3
    assert sim.throughput == pytest.approx(4 / 38)
    assert sim.reconfigs_per_1000 == 750.0


def test_batched_runs_each_stage_once_per_batch():
    sim = simulate(EXITS, TWO, [0, 0], batch=4, window=1, reconfig_s=10.0)
    # stage 1 on all four 0..4 (s0 out at 1, s2 at 3); reconfigure 4..14; stage 2 on s1, s3: out at 16, 17.
    assert sim.latencies_s.tolist() == [1.0, 16.0, 3.0, 17.0]
    assert sim.makespan_s == 17.0 and sim.reconfigs == 1
    assert sim.mean_latency == 9.25
    assert sim.p99_latency == pytest.approx(16.97)   # linear interpolation between 16 and 17


def test_all_resident_pipeline_overlaps_the_stages():
    sim = simulate(EXITS, TWO, [None, None], batch=1, window=64, reconfig_s=0.0, pipelined=True)
    # stage 1 takes one sample per second; s1 enters stage 2 at 2 (out 4), s3 at 4 (out 6).
    assert sim.latencies_s.tolist() == [1.0, 4.0, 3.0, 6.0]
    assert sim.makespan_s == 6.0 and sim.reconfigs == 0


def test_mixed_mapping_overlaps_the_resident_stage_with_the_region():
    three = [StageTiming(1.0, 1.0)] * 3
    sim = simulate([3, 2, 3, 2], three, [None, 0, 0], batch=2, window=2, reconfig_s=10.0)
    # batch 0: stage 1 0..2; stage 2 (loaded) 2..4 -> s1 at 4; reconfigure 4..14; stage 3 14..15 -> s0 at 15.
    # batch 1 (admitted at 0): stage 1 2..4; reconfigure 15..25; stage 2 25..27 -> s3 at 27;
    # reconfigure 27..37; stage 3 37..38 -> s2 at 38.
    assert sim.latencies_s.tolist() == [15.0, 4.0, 38.0, 27.0]
    assert sim.makespan_s == 38.0 and sim.reconfigs == 3
    assert sim.busy_s == [4.0, 4.0, 2.0]


def test_energy_counts_static_power_active_cores_and_reconfiguration():
    sim = SimResult(samples=4, makespan_s=17.0, latencies_s=np.zeros(4), reconfigs=1, reconfig_time_s=10.0,
                    busy_s=[4.0, 2.0])
    # 2 W x 17 s + 0.5 W x 4 s + 1 W x 2 s + 0.25 W x 10 s = 40.5 J over 4 samples
    assert energy_per_sample(sim, 2.0, [0.5, 1.0], 0.25) == pytest.approx(40.5 / 4)


def test_dma_setup_is_paid_once_per_run():
    sim = simulate([1, 1, 1], [StageTiming(1.0, 1.0, setup_s=5.0)], [0], batch=3, window=1, reconfig_s=0.0)
    assert sim.latencies_s.tolist() == [6.0, 7.0, 8.0]


# ---- the evaluation: small hand-made stages with the digits example's calibrated exit rates ----

EXAMPLE = [StageCost(1, 3000, 2500, latency_cycles=12, in_bytes=128, out_bytes=128),
           StageCost(2, 8000, 6000, latency_cycles=15, in_bytes=128, out_bytes=96),
           StageCost(3, 3000, 2000, latency_cycles=10, in_bytes=96)]
RATES = [0.497, 0.45, 0.053]
SWEEP = [1, 4, 16, 64, 256, 1024, 4096]


@pytest.fixture(scope="module")
def board():
    return load_board("pynq-z2")


@pytest.fixture(scope="module")
def example(board):
    return evaluate_pr(EXAMPLE, [], RATES, board, deadline_s=0.02, samples=4000, batch_sizes=SWEEP)


def test_batched_beats_per_sample_tenfold_with_the_example_exit_rates(example):
    per_sample, batched = example.schedule("per_sample"), example.schedule("batched")
    assert batched.throughput_samples_per_s >= 10 * per_sample.throughput_samples_per_s
    assert batched.reconfigs_per_1000 < per_sample.reconfigs_per_1000
    assert batched.energy_j_per_sample < per_sample.energy_j_per_sample


def test_stages_that_fit_at_once_still_get_the_pr_alternative(example):
    assert example.all_resident_fits and example.mapping["chosen"]["name"] == "all_resident"
    assert example.mapping["pr"]["name"] in ("single_region", "mixed")
    assert "fit the" in example.notes[0] and "PR alternative" in example.notes[0]
    names = [s.name for s in example.schedules]
    assert names == ["per_sample", "batched", "deadline", "all_resident"]
    block = example.to_dict()
    for key in ("mapping", "region", "partial_bitstream_bytes", "reconfig_seconds", "schedules", "break_even_batch"):
        assert key in block
    for rec in block["schedules"]:
        assert {"name", "batch_size", "throughput_samples_per_s", "mean_latency_s", "p99_latency_s",
                "reconfigs_per_1000", "energy_j_per_sample"} <= rec.keys()


def test_deadline_schedule_is_the_fastest_batch_within_the_bound(example):
    rec = example.schedule("deadline")
    assert rec.p99_latency_s <= 0.02
    within = [r for r in example.sweep if r["p99_latency_s"] <= 0.02]
    assert rec.throughput_samples_per_s == max(r["throughput_samples_per_s"] for r in within)


def test_impossible_latency_bound_says_so(board):
    with pytest.raises(PrError, match="no batch size meets the p99 latency bound"):
        evaluate_pr(EXAMPLE, [], RATES, board, deadline_s=1e-6, samples=2000, batch_sizes=[1, 16, 256])
    with pytest.raises(PrError, match="impossible"):
        evaluate_pr(EXAMPLE, [], RATES, board, deadline_s=-1.0, samples=2000)


def test_break_even_batch_reaches_80_percent_of_all_resident(example, board):
    b = example.break_even_batch
    assert b is not None and "From batch" in example.break_even_note
    tp = example.resident_throughput
    at = evaluate_pr(EXAMPLE, [], RATES, board, samples=4000, batch_sizes=[b - 1, b], batch_size=b)
    rec = {r["batch_size"]: r["throughput_samples_per_s"] for r in at.sweep}
    assert rec[b] >= 0.8 * tp > rec[b - 1]


def test_capacity_constrained_variant_chooses_a_pr_mapping_and_explains_break_even(board):
    res = evaluate_pr(EXAMPLE, [], RATES, board, samples=4000, batch_sizes=SWEEP, capacity_fraction=0.25)
    assert not res.all_resident_fits and res.mapping["chosen"]["name"] == "single_region"
    assert "all_resident" not in [s.name for s in res.schedules]
    # one region doing every stage in turn cannot reach 80 % of the overlapped pipeline: the note says why
    assert res.break_even_batch is None and "never reaches" in res.break_even_note


# Yosys synth_xilinx of the digits example's da4ml stage cores (fully parallel, II 1) and exit units,
# measured with flows.yosys on the trained example; DMA bytes from the cores' port widths.
MEASURED = [StageCost(1, 32118, 8980, latency_cycles=11, in_bytes=48, out_bytes=68),
            StageCost(2, 53731, 14307, latency_cycles=11, in_bytes=48, out_bytes=56),
            StageCost(3, 23278, 6702, latency_cycles=10, in_bytes=36, out_bytes=20)]
EXIT_UNITS = [StageCost(k, 1263, 529) for k in (1, 2, 3)]


def test_measured_example_cores_do_not_fit_the_xc7z020_and_the_error_names_stage_2(board):
    with pytest.raises(PrError, match=r"no partial-reconfiguration mapping fits .*stage \(stage 2\) alone has 53,731 LUT"):
        evaluate_pr(MEASURED, EXIT_UNITS, RATES, board, samples=2000, batch_sizes=[1, 16])


def test_measured_example_on_a_larger_what_if_device_time_shares_one_region(board):
    res = evaluate_pr(MEASURED, EXIT_UNITS, RATES, board, samples=4000, batch_sizes=SWEEP, capacity_fraction=1.5)
    assert res.mapping["chosen"]["name"] == "single_region" and not res.all_resident_fits
    assert res.region.bitstream_bytes > 2_000_000          # most of the fabric: ~16 ms over PCAP
    per_sample, batched = res.schedule("per_sample"), res.schedule("batched")
    assert batched.throughput_samples_per_s >= 10 * per_sample.throughput_samples_per_s
