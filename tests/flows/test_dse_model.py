"""Analytic DSE model against hand-worked designs."""
import numpy as np
import pytest

from flows.dse.model import Design, Platform, StageCost, fit_linear, predict, queues, reach

PLATFORM = Platform(clock_mhz=100.0, exit_unit_lut=1000.0, exit_unit_ff=100.0, exit_latency_cycles=2,
                    w_per_klut=0.01, pl_static_w=0.1)   # round figures: the energies below are worked by hand
CONV = StageCost(conv_pixels=(36,), lut=(1000.0, 400.0), ff=(200.0, 50.0), base_latency_cycles=6,
                 head_lut=300.0, head_ff=30.0)
CONV2 = StageCost(conv_pixels=(9, 4), lut=(500.0, 800.0), ff=(100.0, 80.0), base_latency_cycles=6,
                  head_lut=200.0, head_ff=20.0)
DENSE = StageCost(conv_pixels=(), lut=(4500.0, 0.0), ff=(900.0, 0.0), base_latency_cycles=5)
STAGES = [CONV, CONV2, DENSE]
# 10 samples: 5 leave at exit 1, 3 at exit 2, 2 at exit 3; 8 correct
EXIT_STAGE = np.array([1, 1, 1, 1, 1, 2, 2, 2, 3, 3])
CORRECT = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 0], dtype=bool)


def test_fit_linear_recovers_two_point_line_and_single_point_constant():
    assert fit_linear([(1, 1400.0), (4, 2600.0)]) == pytest.approx((1000.0, 400.0))
    assert fit_linear([(36, 9000.0)]) == (9000.0, 0.0)


def test_initiation_interval_is_ceil_pixels_over_p_for_the_slowest_conv():
    assert [CONV.ii(p) for p in (1, 4, 5, 36, 100)] == [36, 9, 8, 1, 1]
    assert [CONV2.ii(p) for p in (1, 2, 9)] == [9, 5, 1]
    assert DENSE.ii(1) == 1 and CONV.luts(100) == CONV.luts(36)


def test_reach_is_fraction_leaving_at_or_after_each_stage():
    assert reach(EXIT_STAGE, 3) == pytest.approx([1.0, 0.5, 0.2])


def test_prediction_hand_worked_anytime_three_exits():
    d = Design(exits=(1, 2, 3), thresholds=(5, 5, 0), parallelism=(4, 2, 1))
    p = predict(d, STAGES, PLATFORM, EXIT_STAGE, CORRECT)
    assert p.ii == (9, 5, 1)
    # bottleneck max(9*1, 5*0.5, 1*0.2) = 9 cycles -> 100 MHz / 9
    assert p.throughput_samples_per_s == pytest.approx(100e6 / 9)
    # LUT: (1000+1600) + (500+1600) + 4500 + 3 exit units
    assert p.lut == pytest.approx(2600 + 2100 + 4500 + 3000)
    assert p.ff == pytest.approx(400 + 260 + 900 + 300)
    # stage latencies 6+8=14, 6+4=10, 5; every kept exit on the way adds its unit (2):
    # exit 1 at 16, exit 2 at 16+10+2 = 28, exit 3 at 28+5+2 = 35 (no FIFO/output cycles on PLATFORM);
    # samples arrive every 9 cycles and no later stage is slower than that for them: no queueing
    assert p.mean_latency_cycles == pytest.approx(0.5 * 16 + 0.3 * 28 + 0.2 * 35)
    assert p.max_latency_cycles == 35
    assert p.accuracy == pytest.approx(0.8)
    # energy by hand, 10 mW per kLUT while busy, 10 ns a cycle:
    #   stage 1: 2.6 kLUT -> 26 mW x 9 cycles (90 ns) = 2.34 nJ, every sample
    #   stage 2: 2.1 kLUT -> 21 mW x 50 ns = 1.05 nJ, half the samples -> 0.525 nJ
    #   stage 3: 4.5 kLUT -> 45 mW x 10 ns = 0.45 nJ, a fifth -> 0.09 nJ
    #   exit units: 1 kLUT -> 10 mW x 10 ns = 0.1 nJ, reached by 1 + 0.5 + 0.2 -> 0.17 nJ
    #   static: 100 mW for the 90 ns between samples = 9 nJ
    assert p.energy_dynamic_nj_per_sample == pytest.approx(2.34 + 0.525 + 0.09 + 0.17)
    assert p.energy_static_nj_per_sample == pytest.approx(9.0)
    assert p.energy_nj_per_sample == pytest.approx(12.125)


def test_board_without_power_figures_gets_no_energy_not_another_boards():
    from dataclasses import replace

    from boards import load_board

    bare = replace(PLATFORM, w_per_klut=None, pl_static_w=None)
    p = predict(Design((1, 2, 3), (5, 5, 0), (4, 2, 1)), STAGES, bare, EXIT_STAGE, CORRECT)
    assert (p.energy_nj_per_sample, p.energy_dynamic_nj_per_sample, p.energy_static_nj_per_sample) == (None,) * 3
    assert p.metrics()["energy_nj_per_sample"] is None and p.throughput_samples_per_s == pytest.approx(100e6 / 9)
    pynq, arty = load_board("pynq-z2"), load_board("arty-a7-100t")
    assert "power" not in arty.extra
    assert not Platform.from_board(arty, 1000.0, 100.0, 2).has_energy
    # a board with the block: the model takes its figures, each with the source the file gives
    with_power = Platform.from_board(pynq, 1000.0, 100.0, 2)
    assert with_power.w_per_klut == pynq.extra["power"]["w_per_klut"]["value"]
    assert dict(with_power.energy_sources) == {f"power.{k}": pynq.extra["power"][k]["source"]
                                               for k in ("w_per_klut", "pl_static_w")}
    half = replace(arty, extra={"power": {"w_per_klut": {"value": 0.01}}})   # one figure is not enough
    assert not Platform.from_board(half, 1000.0, 100.0, 2).has_energy


def test_dropping_an_exit_removes_its_head_and_unit():
    full = predict(Design((1, 2, 3), (5, 5, 0), (4, 2, 1)), STAGES, PLATFORM, EXIT_STAGE, CORRECT)
    exit_stage = np.where(EXIT_STAGE == 1, 2, EXIT_STAGE)  # exit 1 dropped: those samples leave at 2
    dropped = predict(Design((2, 3), (5, 0), (4, 2, 1)), STAGES, PLATFORM, exit_stage, CORRECT)
    assert full.lut - dropped.lut == pytest.approx(300 + 1000)
    assert dropped.reach == pytest.approx((1.0, 1.0, 0.2))
    # stage 2 (II 5) now sees every sample but stage 1 (II 9) is still the bottleneck
    assert dropped.throughput_samples_per_s == pytest.approx(100e6 / 9)


def test_subnet_deploys_only_stages_up_to_its_exit():
    p = predict(Design((2,), (0,), (36, 9, 1), mode="subnet"), STAGES, PLATFORM, np.full(10, 2), CORRECT)
    # exit 1 head is not built (300 LUTs); one exit unit
    assert p.lut == pytest.approx(1000 + 400 * 36 - 300 + 500 + 800 * 9 + 1000)
    assert p.throughput_samples_per_s == pytest.approx(100e6)
    assert p.mean_latency_cycles == pytest.approx(6 + 6 + 2)


def test_latency_counts_folded_cores_fifos_output_and_queueing():
    from dataclasses import replace

    platform = replace(PLATFORM, hop_cycles=2, output_cycles=3)
    folded = replace(CONV, folded_latency_base=7)          # a folded core takes 7 + II cycles
    d = Design((1, 3), (5, 0), (12, 9, 1))                  # exit 2 dropped: no unit on the way
    exit_stage = np.array([3, 3, 1, 1])                     # two hard samples first, back to back
    p = predict(d, [folded, CONV2, DENSE], platform, exit_stage, np.ones(4, dtype=bool))
    assert p.ii == (3, 1, 1)
    # exit 1: 7 + 3 + unit 2 + output 3 = 15; exit 3: 12 (stage 1 + unit) + 2 + 6 + 2 + 5 + 2 + 3 = 32
    assert p.max_latency_cycles == 32
    # bottleneck max(3 * 1, 1 * 0.5, 1 * 0.5) = 3: arrivals every 3 cycles, nobody waits
    assert p.mean_latency_cycles == pytest.approx((15 + 15 + 32 + 32) / 4)
    slow = predict(Design((1, 3), (5, 0), (12, 1, 1)), [folded, CONV2, DENSE], platform, exit_stage,
                   np.ones(4, dtype=bool))
    # stage 2 at P=1 (II 9, reach 0.5) is the bottleneck, 4.5 cycles: the 2nd hard sample reaches it
    # 4.5 cycles after the 1st and waits 9 - 4.5 = 4.5; mean over 4 samples 1.125
    stage2 = CONV2.latency(1)                              # no folded figure: 6 + 9 - 1 = 14
    exit3 = 7 + 3 + 2 + 2 + stage2 + 2 + 5 + 2 + 3
    assert slow.mean_latency_cycles == pytest.approx((15 + 15 + exit3 + exit3) / 4 + 4.5 / 4)


def test_fifo_depth_counts_a_burst_of_hard_samples():
    # stage 2 takes 4 cycles, samples arrive every cycle; 3 hard samples back to back queue 2 deep
    exit_stage = np.array([2, 2, 2, 1, 1, 1, 1, 1, 1])
    depths, mean_wait = queues(exit_stage, [1, 4], 1.0)
    # stage 2 takes the hard samples at 1, 5, 9 (they arrive at 1, 2, 3): waits 0 + 3 + 6 over 9 samples
    assert depths == [0, 2] and mean_wait == pytest.approx(9 / 9)
    # spread out, the same samples never wait
    assert queues(np.array([2, 1, 1, 1, 2, 1, 1, 1, 2]), [1, 4], 1.0) == ([0, 0], 0.0)


@pytest.mark.parametrize("design, message", [
    (Design((1, 2), (1, 0), (1, 1, 1)), "anytime mode keeps the final exit"),
    (Design((1, 3), (1, 0), (1, 1, 1), mode="subnet"), "subnet mode deploys one exit"),
    (Design((3,), (0, 0), (1, 1, 1)), "thresholds for 1 kept exits"),
    (Design((3,), (0,), (1, 1)), "one P >= 1 per stage"),
    (Design((3,), (0,), (1, 1, 1), mode="fast"), "is not one of"),
])
def test_invalid_designs_are_rejected_with_the_reason(design, message):
    with pytest.raises(ValueError, match=message):
        design.validate(3)
