"""Check a streaming stage core (hardware/stream_stage) against its QKeras stage, frame by frame.

The frames (data-set samples, then random in-range inputs) are played through the core by the
HDL-driven harness (sim/stream) with idle input cycles and random back-pressure on both outputs; every
frame's exit logits and forwarded tensor are compared with QKeras' codes for the same input. Lost or
duplicated frames are mismatches too (the counts would differ).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat
from hardware.stage.packing import PortTensor, pack, unpack
from hardware.stream_stage import StreamStage
from sim.stage.run import StageSimResult, first_mismatch
from sim.stage.verify import StageVerification, random_codes
from sim.stream.harness import Port, StreamBench


def port_tensors(st: StreamStage) -> list[PortTensor]:
    """The stage's outputs as whole tensors (what QKeras gives), in port order."""
    out = []
    if st.logits is not None:
        out.append(PortTensor("exit_logits", st.logits.shape, st.logits.fmt))
    if st.forwarded is not None:
        out.append(PortTensor("forwarded", st.forwarded_shape, st.forwarded.fmt))
    return out


def stage_codes(stage_model, fmt: FixedFormat, tensors: list[PortTensor], x_codes: np.ndarray) -> list[np.ndarray]:
    """QKeras' outputs on input codes, as codes of the port formats (raises when off their grid)."""
    ys = stage_model.predict(fmt.to_real(x_codes).astype(np.float32), verbose=0, batch_size=1024)
    ys = ys if isinstance(ys, list) else [ys]
    return [t.fmt.to_codes(y).reshape((len(x_codes),) + tuple(t.shape)) for t, y in zip(tensors, ys)]


def frames_of(st: StreamStage, x_codes: np.ndarray) -> list[list[int]]:
    """Each input tensor as its beats: P pixels of C channels per beat, raster order."""
    beats = np.asarray(x_codes).reshape(len(x_codes) * st.input_beats, st.input.size)
    words = pack([st.input], [beats])
    return [words[i * st.input_beats:(i + 1) * st.input_beats] for i in range(len(x_codes))]


def bench(st: StreamStage) -> StreamBench:
    outputs = []
    if st.logits is not None:
        outputs.append(Port("m_logits", st.logits.bits, has_last=False))
    if st.forwarded is not None:
        outputs.append(Port("m_fwd", st.forwarded.bits))
    return StreamBench(st.top, st.verilog_files, inputs=[Port("s_axis", st.in_width)], outputs=outputs)


def simulate_stream_stage(st: StreamStage, x_codes: np.ndarray, expected: list[np.ndarray], build_dir: Path,
                          simulator: str = "verilator", idle: float = 0.1, stall: float = 0.2,
                          seed: int = 1) -> StageSimResult:
    """Stream ``x_codes`` (n, *input_shape) through the core; compare with ``expected`` (port order)."""
    n = len(x_codes)
    tensors = port_tensors(st)
    start = time.perf_counter()
    tb = bench(st)
    expect = {p.prefix: n for p in tb.outputs}
    run = tb.run(build_dir, {"s_axis": frames_of(st, x_codes)}, expect, name="verify", idle={"s_axis": idle},
                 stall={p.prefix: stall for p in tb.outputs}, seed=seed, simulator=simulator,
                 max_cycles=50 * n * max(st.ii_cycles, st.input_beats) + 100_000)
    total = time.perf_counter() - start
    got = []
    for t, port in zip(tensors, tb.outputs):
        beats = run.outputs[port.prefix].data
        per_frame = 1 if port.prefix == "m_logits" else st.forwarded_beats
        element = st.logits if port.prefix == "m_logits" else st.forwarded
        frames = len(beats) // per_frame
        codes = unpack([element], beats[:frames * per_frame])[0] if beats else np.zeros((0, element.size), int)
        got.append((codes.reshape((frames,) + tuple(t.shape)), len(beats) % per_frame))
    complete = all(len(g) == n and partial == 0 for g, partial in got) and not run.timed_out
    if complete:
        outputs = [g for g, _ in got]
        bad = np.zeros(n, dtype=bool)
        for g, e in zip(outputs, expected):
            bad |= np.any(g.reshape(n, -1) != e.reshape(n, -1), axis=1)
        diffs = [int(np.max(np.abs(g - e))) if g.size else 0 for g, e in zip(outputs, expected)]
        mismatch = first_mismatch(tensors, expected, outputs)
        mismatches = int(bad.sum())
    else:   # frames lost, duplicated or cut: every frame counts as differing
        outputs = [g for g, _ in got]
        diffs, mismatch, mismatches = [-1] * len(tensors), None, n
    return StageSimResult(n, mismatches, diffs, run.cycles, run.wall_seconds, total, outputs, mismatch)


def verify_stream_stage(stage_model, st: StreamStage, sample_codes: np.ndarray, n_random: int, build_dir: Path,
                        simulator: str = "verilator", seed: int = 0) -> StageVerification:
    """QKeras vs the streaming core's RTL on the samples plus ``n_random`` random input codes."""
    x = np.concatenate([sample_codes, random_codes(st.input_format, st.input_shape, n_random, seed)])
    want = stage_codes(stage_model, st.input_format, port_tensors(st), x)
    sim = simulate_stream_stage(st, x, want, build_dir, simulator=simulator, seed=seed + 1)
    return StageVerification(len(sample_codes), n_random, [], sim)   # no separate numpy program to compare
