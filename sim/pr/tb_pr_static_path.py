"""cocotb testbench of pr_static_path: region (decoupler + stage_rm) -> exit tap + exit unit.

``TB_VECTORS`` -> .npz with ``inputs`` (N, in_beats) and ``outputs`` (N, out_beats) 32-bit beats for
threshold ``thr0`` and ``outputs1`` for ``thr1`` (the last beat of each is the exit decision).
Mid-stream the region is decoupled; once every packet accepted before has come out, the
threshold register is rewritten to ``thr1`` (as software does after loading another stage) and
the region is released. Every packet must come out once, in order, with its decision.
"""
from __future__ import annotations

import logging
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tb_pr_decoupler import random_pauses, wait_until


@cocotb.test()
async def decisions_follow_every_result_across_a_reconfiguration(dut):
    data = np.load(os.environ["TB_VECTORS"])
    inputs, out0, out1 = data["inputs"], data["outputs"], data["outputs1"]
    thr0, thr1 = int(data["thr0"]), int(data["thr1"])
    stall = float(os.environ.get("TB_STALL", "0.3"))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
    for drv in (source, sink):
        drv.log.setLevel(logging.WARNING)
    source.set_pause_generator(random_pauses(stall, 11))
    sink.set_pause_generator(random_pauses(stall, 12))
    accepted = [0]

    async def count_inputs():
        while True:
            await RisingEdge(dut.clk)
            if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value) and int(dut.s_axis_tlast.value):
                accepted[0] += 1

    dut.decouple_req.value = 0
    dut.thr_we.value = 0
    dut.thr_sel.value = 0
    dut.thr_data.value = thr0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    dut.thr_we.value = 1
    await FallingEdge(dut.clk)
    dut.thr_we.value = 0
    cocotb.start_soon(count_inputs())
    for row in inputs:
        source.send_nowait(AxiStreamFrame(tdata=[int(v) for v in row]))
    await wait_until(dut.clk, lambda: accepted[0] >= len(inputs) // 3, 50000, "a third of the stream")
    await FallingEdge(dut.clk)
    dut.decouple_req.value = 1
    await wait_until(dut.clk, lambda: int(dut.decouple_ack.value), 5000, "decouple_ack")
    before = accepted[0]
    await wait_until(dut.clk, lambda: sink.count() >= before, 5000, "results of the packets accepted before")
    await FallingEdge(dut.clk)
    dut.thr_data.value = thr1
    dut.thr_we.value = 1
    await FallingEdge(dut.clk)
    dut.thr_we.value = 0
    await ClockCycles(dut.clk, 10)
    await FallingEdge(dut.clk)
    dut.decouple_req.value = 0
    for i in range(len(inputs)):
        frame = await with_timeout(sink.recv(), 200, "us")
        expected = (out0 if i < before else out1)[i].tolist()
        assert list(frame.tdata) == expected, f"packet {i} (decoupled after {before}): got {list(frame.tdata)}, " \
                                              f"expected {expected}"
    await ClockCycles(dut.clk, 30)
    assert sink.empty(), "more packets out than in"
