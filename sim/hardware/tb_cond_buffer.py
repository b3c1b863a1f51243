"""cocotb testbench of hardware/cond_buffer/cond_buffer.v.

Env: ``TB_WIDTH``, ``TB_FRAME_BEATS``, ``TB_DEPTH`` (the Verilog parameters); ``TB_FRAMES`` frames,
each kept with probability ``TB_KEEP``; ``TB_PAUSE`` idle / back-pressure probability of the frame
source, the decision source and the sink (each its own pattern, bursts up to ``TB_LONGEST`` cycles);
``TB_DEC_DELAY`` the longest extra wait of a late decision; ``TB_DEC_LATENCY`` the fixed decision
latency of the unstalled run; ``TB_SEED``. The reference is plain Python: the kept frames, in order.
Records in TB_RESULT: handshake timing of the unstalled runs, the most frames held.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamFrame

from sim.hardware.streams import Bench, Handshakes, env_float, env_int, record_result


class Setup:
    def __init__(self, seed_offset: int = 0):
        self.width = env_int("TB_WIDTH", 8)
        self.frame_beats = env_int("TB_FRAME_BEATS", 4)
        self.depth = env_int("TB_DEPTH", 16)
        self.seed = env_int("TB_SEED", 1) + seed_offset
        self.rng = random.Random(self.seed)

    def frames(self, count: int) -> list[list[int]]:
        return [[self.rng.getrandbits(self.width) for _ in range(self.frame_beats)] for _ in range(count)]

    def decisions(self, count: int, keep: float) -> list[int]:
        return [int(self.rng.random() < keep) for _ in range(count)]


async def watch_frames_held(dut, peak: list[int]) -> None:
    while True:
        await RisingEdge(dut.clk)
        peak[0] = max(peak[0], int(dut.frames_held.value))


async def send_decisions(bench: Bench, source, ins: Handshakes, decisions: list[int], frame_beats: int,
                         late: float, delay: int, rng: random.Random) -> None:
    """Decision k goes to the source at once (early: it waits for its frame inside the buffer) or, with
    probability ``late``, only after frame k has entered in full and 0..delay more cycles."""
    for k, keep in enumerate(decisions):
        if rng.random() < late:
            await bench.wait_until(lambda: len(ins.cycles) >= (k + 1) * frame_beats, 10**7, f"frame {k} to enter")
            await ClockCycles(bench.dut.clk, rng.randint(0, delay) + 1)
        await source.send(AxiStreamFrame([keep]))


async def check_drained(bench: Bench, sink, decs: Handshakes, decisions: int) -> None:
    dut = bench.dut
    await bench.wait_until(lambda: len(decs.cycles) == decisions, 100000, "the last decisions")
    await ClockCycles(dut.clk, 10)
    assert sink.empty() and dut.m_axis_tvalid.value == 0, "beats left after the last kept frame"
    assert int(dut.frames_held.value) == 0, f"frames_held is {int(dut.frames_held.value)} with the buffer empty"
    assert dut.frame_error.value == 0, "frame_error set by well-formed frames"


@cocotb.test()
@cocotb.parametrize(late=[0.0, 0.5, 1.0])
async def cond_buffer_passes_exactly_the_kept_frames(dut, late: float):
    """Random keep/drop decisions, early (late=0), late (1) or mixed, under random stalls on all three
    ports: exactly the kept frames come out, in order, whole, tlast on each frame's last beat."""
    setup = Setup(int(late * 10))
    frames = setup.frames(env_int("TB_FRAMES", 60))
    decisions = setup.decisions(len(frames), env_float("TB_KEEP", 0.5))
    bench = Bench(dut, limit=60 * len(frames) * (setup.frame_beats + 10) + 10000)
    pause, longest = env_float("TB_PAUSE", 0.3), env_int("TB_LONGEST", 4)
    source = bench.source("s_axis", pause, setup.seed, longest, byte_lanes=1)
    dec = bench.source("dec", pause, setup.seed + 1, longest * 3, byte_lanes=1)
    sink = bench.sink("m_axis", pause, setup.seed + 2, longest * 2, byte_lanes=1)
    ins, decs = Handshakes(bench, "s_axis"), Handshakes(bench, "dec")
    peak = [0]
    await bench.reset()
    cocotb.start_soon(watch_frames_held(dut, peak))
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    cocotb.start_soon(send_decisions(bench, dec, ins, decisions, setup.frame_beats, late,
                                     env_int("TB_DEC_DELAY", 3 * setup.frame_beats), setup.rng))
    kept = [f for f, keep in zip(frames, decisions) if keep]
    for i, want in enumerate(kept):
        got = list((await sink.recv()).tdata)
        assert got == want, (f"kept frame {i} of {len(kept)}: {len(got)} beats {got[:4]}... where "
                             f"{len(want)} beats {want[:4]}... were due")
    await check_drained(bench, sink, decs, len(decisions))
    record_result(f"random_late{late}", {"kept": len(kept), "frames": len(frames), "peak_frames_held": peak[0]})


async def drive_timed_decisions(dut, decisions: list[int], frame_beats: int, latency: int) -> None:
    """Offer decision k from ``latency`` cycles after frame k's last beat entered (1: the next cycle),
    as an exit head with that latency would; no pauses (a hand driver, so the timing is exact)."""
    dut.dec_tvalid.value = 0
    entered, cycle, k, due = 0, 0, 0, []
    while k < len(decisions):
        await RisingEdge(dut.clk)
        cycle += 1
        if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
            entered += 1
            if entered % frame_beats == 0:
                due.append(cycle - 1 + latency)  # the handshake was in the cycle that just ended
        if dut.dec_tvalid.value == 1 and dut.dec_tready.value == 1:
            k += 1
        if k < len(decisions) and len(due) > k and due[k] <= cycle:
            dut.dec_tdata.value = decisions[k]
            dut.dec_tvalid.value = 1
        else:
            dut.dec_tvalid.value = 0
    dut.dec_tvalid.value = 0


@cocotb.test()
@cocotb.parametrize(keep=[1.0, 0.5])
async def cond_buffer_unstalled_timing(dut, keep: float):
    """No stalls, decisions TB_DEC_LATENCY cycles after each frame: records whether beats entered and
    left back to back (all keep: 1 beat/cycle both sides; mixed: the input never waits for a drop)."""
    setup = Setup(100 + int(keep * 10))
    frames = setup.frames(max(env_int("TB_FRAMES", 60), 4 * setup.depth // setup.frame_beats))
    decisions = setup.decisions(len(frames), keep)
    bench = Bench(dut, limit=4 * len(frames) * (setup.frame_beats + 10) + 1000)
    source, sink = bench.source("s_axis", byte_lanes=1), bench.sink("m_axis", byte_lanes=1)
    ins, outs, decs = Handshakes(bench, "s_axis"), Handshakes(bench, "m_axis"), Handshakes(bench, "dec")
    await bench.reset()
    cocotb.start_soon(drive_timed_decisions(dut, decisions, setup.frame_beats, env_int("TB_DEC_LATENCY", 1)))
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    kept = [f for f, k in zip(frames, decisions) if k]
    for want in kept:
        assert list((await sink.recv()).tdata) == want, "a kept frame differs without stalls"
    await check_drained(bench, sink, decs, len(decisions))
    record_result(f"unstalled_keep{keep}", {
        "beats_in": len(ins.cycles), "in_cycles": ins.cycles[-1] - ins.cycles[0] + 1,
        "beats_out": len(outs.cycles), "out_cycles": outs.cycles[-1] - outs.cycles[0] + 1,
        "decisions": len(decs.cycles), "dec_cycles": decs.cycles[-1] - decs.cycles[0] + 1})


def drop_runs_below(decisions: list[int], longest_run: int) -> list[int]:
    """The decisions with every run of drops cut to at most ``longest_run`` (the next one kept)."""
    out, run = [], 0
    for keep in decisions:
        keep = keep or run == longest_run
        run = 0 if keep else run + 1
        out.append(int(keep))
    return out


@cocotb.test()
async def cond_buffer_drops_cost_no_output_cycle(dut):
    """Frames wait in full (decisions withheld), then the decisions come back to back: the kept frames
    leave on consecutive cycles, the drops between them (runs of at most FRAME_BEATS - 1) unseen."""
    setup = Setup(200)
    if setup.frame_beats == 1:
        return  # every decision takes a cycle, so a drop between two keeps costs one (module header)
    count = setup.depth // setup.frame_beats
    frames = setup.frames(count)
    decisions = drop_runs_below(setup.decisions(count, 0.4), setup.frame_beats - 1)
    decisions[0] = decisions[-1] = 1
    bench = Bench(dut, limit=4 * setup.depth + 1000)
    source, dec = bench.source("s_axis", byte_lanes=1), bench.source("dec", byte_lanes=1)
    sink = bench.sink("m_axis", byte_lanes=1)
    ins, outs, decs = Handshakes(bench, "s_axis"), Handshakes(bench, "m_axis"), Handshakes(bench, "dec")
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    await bench.wait_until(lambda: len(ins.cycles) == count * setup.frame_beats, 10 * setup.depth, "the frames")
    assert int(dut.frames_held.value) == count, f"frames_held {int(dut.frames_held.value)} with {count} frames in"
    for keep in decisions:
        await dec.send(AxiStreamFrame([keep]))
    kept = [f for f, k in zip(frames, decisions) if k]
    for want in kept:
        assert list((await sink.recv()).tdata) == want, "a kept frame differs"
    assert outs.back_to_back(), (f"{len(kept)} kept frames of {setup.frame_beats} beats, drops between, took "
                                 f"{outs.cycles[-1] - outs.cycles[0] + 1} cycles for {len(outs.cycles)} beats")
    await check_drained(bench, sink, decs, len(decisions))


@cocotb.test()
async def cond_buffer_fills_to_depth_and_frees_a_dropped_frame_at_once(dut):
    """Without decisions the buffer takes exactly DEPTH beats and frames_held counts the frames begun;
    one drop frees that frame's beats in one cycle, and the rest drains once decided."""
    setup = Setup(300)
    f, depth = setup.frame_beats, setup.depth
    frames = setup.frames(depth // f + 3)
    bench = Bench(dut, limit=10 * depth + 1000)
    source, dec = bench.source("s_axis", byte_lanes=1), bench.source("dec", byte_lanes=1)
    sink = bench.sink("m_axis", byte_lanes=1)
    ins, decs = Handshakes(bench, "s_axis"), Handshakes(bench, "dec")
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    await ClockCycles(dut.clk, depth + 20)
    assert len(ins.cycles) == depth, f"took {len(ins.cycles)} beats with DEPTH {depth} and no decision"
    assert dut.s_axis_tready.value == 0, "s_axis_tready high while full"
    begun = -(-depth // f)
    assert int(dut.frames_held.value) == begun, f"frames_held {int(dut.frames_held.value)}, {begun} frames begun"
    await dec.send(AxiStreamFrame([0]))
    await bench.wait_until(lambda: len(decs.cycles) == 1, 20, "the drop to be taken")
    dropped_at = decs.cycles[0]
    await bench.wait_until(lambda: len(ins.cycles) > depth, 20, "the input to resume")
    assert ins.cycles[depth] <= dropped_at + 2, (f"input resumed {ins.cycles[depth] - dropped_at} cycles after "
                                                 "the drop: its beats were not freed at once")
    for _ in frames[1:]:
        await dec.send(AxiStreamFrame([1]))
    for want in frames[1:]:
        assert list((await sink.recv()).tdata) == want, "a kept frame differs after the fill"
    await check_drained(bench, sink, decs, len(frames))


@cocotb.test()
async def cond_buffer_takes_every_decision_while_kept_frames_wait(dut):
    """With the output stalled, every frame the RAM holds is decided, however many of them are kept: the
    queue of kept frames never holds a decision back while the RAM has room (a two-entry queue stopped at
    the third kept frame, and with it the exit head and stage 1)."""
    setup = Setup(350)
    f, depth = setup.frame_beats, setup.depth
    count = depth // f
    frames = setup.frames(count)
    decisions = [1 if k % 3 != 2 else 0 for k in range(count)]   # mostly kept, a drop every third
    bench = Bench(dut, limit=20 * depth + 1000)
    source, dec = bench.source("s_axis", byte_lanes=1), bench.source("dec", byte_lanes=1)
    sink = bench.sink("m_axis", byte_lanes=1)
    sink.pause = True
    decs = Handshakes(bench, "dec")
    await bench.reset()
    for frame in frames:
        await source.send(AxiStreamFrame(frame))
    for keep in decisions:
        await dec.send(AxiStreamFrame([keep]))
    await bench.wait_until(lambda: len(decs.cycles) == count, 4 * depth + 100,
                           f"all {count} decisions with the output stalled ({sum(decisions)} kept)")
    sink.pause = False
    for want in [fr for fr, keep in zip(frames, decisions) if keep]:
        assert list((await sink.recv()).tdata) == want, "a kept frame differs after the stall"
    await check_drained(bench, sink, decs, count)


@cocotb.test()
async def cond_buffer_flags_a_frame_whose_tlast_disagrees(dut):
    """A frame with tlast one beat early sets frame_error, which stays set."""
    setup = Setup(400)
    bench = Bench(dut, limit=10 * setup.frame_beats + 1000)
    source, dec = bench.source("s_axis", byte_lanes=1), bench.source("dec", byte_lanes=1)
    await bench.reset()
    await source.send(AxiStreamFrame(setup.frames(1)[0]))
    await dec.send(AxiStreamFrame([0]))  # drop it, so the short frame finds room
    await ClockCycles(dut.clk, setup.frame_beats + 5)
    assert dut.frame_error.value == 0, "frame_error set by a well-formed frame"
    short = setup.frames(1)[0][:-1] if setup.frame_beats > 1 else [1, 2]  # 2 beats: tlast missing on beat 0
    await source.send(AxiStreamFrame(short))
    await ClockCycles(dut.clk, setup.frame_beats + 5)
    assert dut.frame_error.value == 1, "frame_error not set by a frame of the wrong length"
    await ClockCycles(dut.clk, 5)
    assert dut.frame_error.value == 1, "frame_error did not stay set"
