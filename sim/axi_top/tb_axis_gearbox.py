"""cocotb bench of axis_gearbox alone: words in, beats (+ last) out, random pauses on both sides.

``TB_GEARBOX`` -> JSON {words: [int], beats: [int] (expected, in order), frame_beats, data_w, beat_w,
in_pause, out_pause, seed}. Fails when a beat, its order or its last flag differs.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


@cocotb.test()
async def words_to_beats(dut):
    spec = json.loads(Path(os.environ["TB_GEARBOX"]).read_text())
    rng = random.Random(spec["seed"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value, dut.s_valid.value, dut.m_ready.value = 1, 0, 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    words, want = [int(w) for w in spec["words"]], [int(b) for b in spec["beats"]]
    got, i = [], 0
    limit = 40 * (len(words) + len(want)) + 100
    for _ in range(limit):
        # drive for this cycle, then sample both handshakes at the edge
        if i < len(words):
            dut.s_valid.value = int(rng.random() >= spec["in_pause"])
            dut.s_data.value = words[i]
        else:
            dut.s_valid.value = 0
        dut.m_ready.value = int(rng.random() >= spec["out_pause"])
        await RisingEdge(dut.clk)
        if int(dut.s_valid.value) and int(dut.s_ready.value):
            i += 1
        if int(dut.m_valid.value) and int(dut.m_ready.value):
            got.append((int(dut.m_data.value), int(dut.m_last.value)))
        if len(got) == len(want) and i == len(words):
            break
    await ClockCycles(dut.clk, 2)
    assert i == len(words), f"only {i} of {len(words)} words taken"
    assert [b for b, _ in got] == want, "beats differ from the reference unpacking"
    f = spec["frame_beats"]
    assert [last for _, last in got] == [int(j % f == f - 1) for j in range(len(want))], "m_last misplaced"
    assert int(dut.word_phase.value) == 0 and int(dut.frame_start.value) == 1
