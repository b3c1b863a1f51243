"""cocotb testbench of a matrix-vector unit (hardware/mvau).

Inputs (sim/runner.py convention): ``TB_VECTORS`` -> .npz with ``beats`` (n_beats, in_bytes), little-endian
bytes of the packed input beats, and ``tlast`` (n_beats,); ``TB_N_OUT`` output beats to collect;
``TB_OUT_BYTES``; ``TB_IN_PAUSE`` / ``TB_OUT_PAUSE``: probability of an idle input cycle / a back-pressure
output cycle; ``TB_SEED``; ``TB_OUT_HOLD``: cycles of back-pressure before the first output is taken. Input beats go out as packets ending at tlast, back to back.
Outputs: ``TB_OUTPUT`` -> .npz ``words`` (n_out, out_bytes) as received, ``tlast`` (n_out,), and the cycle of
every input and output handshake, ``in_cycles`` and ``out_cycles`` (sampled at the falling edge, so both
count the same clock cycles).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge
from cocotbext.axi import AxiStreamFrame

from sim.stage.tb_stage import StageTB, random_pauses  # clock, reset, stream drivers with pause generators


def held_then(hold: int, probability: float, seed: int):
    """Back-pressure for the first `hold` cycles, then random pauses."""
    for _ in range(hold):
        yield True
    yield from random_pauses(probability, seed)


async def record_handshakes(dut, in_cycles: list[int], out_cycles: list[int]) -> None:
    cycle = 0
    while True:
        await FallingEdge(dut.clk)
        cycle += 1
        if dut.s_axis_tvalid.value and dut.s_axis_tready.value:
            in_cycles.append(cycle)
        if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
            out_cycles.append(cycle)


def packets(words: list[int], tlast: np.ndarray) -> list[list[int]]:
    """Split the beat sequence after every tlast (a trailing run without tlast is its own packet)."""
    out, current = [], []
    for word, last in zip(words, tlast):
        current.append(word)
        if last:
            out.append(current)
            current = []
    return out + ([current] if current else [])


@cocotb.test()
async def mvau_streams_every_vector(dut):
    """Every vector's output beat arrives, in order, with the tlast of its last input beat."""
    data = np.load(os.environ["TB_VECTORS"])
    words = [int.from_bytes(row.tobytes(), "little") for row in data["beats"]]
    n_out, out_bytes = int(os.environ["TB_N_OUT"]), int(os.environ["TB_OUT_BYTES"])
    tb = StageTB(dut, float(os.environ.get("TB_IN_PAUSE", 0)), float(os.environ.get("TB_OUT_PAUSE", 0)),
                 int(os.environ.get("TB_SEED", 1)))
    hold = int(os.environ.get("TB_OUT_HOLD", 0))
    if hold:
        tb.sink.set_pause_generator(held_then(hold, float(os.environ.get("TB_OUT_PAUSE", 0)),
                                              int(os.environ.get("TB_SEED", 1)) + 1))
    await tb.reset()
    in_cycles, out_cycles = [], []
    cocotb.start_soon(record_handshakes(dut, in_cycles, out_cycles))
    for packet in packets(words, data["tlast"]):
        await tb.source.send(AxiStreamFrame(packet))
    got, last = [], []
    while len(got) < n_out:
        frame = await tb.sink.recv()
        got += [int(w) for w in frame.tdata]
        last += [False] * (len(frame.tdata) - 1) + [True]
    await FallingEdge(dut.clk)
    np.savez(os.environ["TB_OUTPUT"],
             words=np.array([np.frombuffer(w.to_bytes(out_bytes, "little"), dtype=np.uint8) for w in got]),
             tlast=np.array(last), in_cycles=np.array(in_cycles), out_cycles=np.array(out_cycles))
    assert len(got) == n_out, f"{len(got)} output beats for {n_out} vectors"
