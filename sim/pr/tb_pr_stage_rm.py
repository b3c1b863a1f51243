"""cocotb testbench: the region wrapper holding a generated stage_rm (adapter + stand-in stage core).

Samples of ``TB_IN_W`` bits go in as 32-bit beats, results of ``TB_OUT_W`` bits come out as
beats with tlast on the last; in the middle of the stream the region is decoupled and released.
Checks every result (input + 1, at OUT_W bits), in order, once.
"""
from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tb_pr_decoupler import random_pauses, wait_until


def split(value: int, bits: int, width: int) -> list[int]:
    return [(value >> (i * width)) & ((1 << width) - 1) for i in range(-(-bits // width))]


@cocotb.test()
async def stage_module_in_the_region_streams_every_sample_once_across_a_decouple(dut):
    in_w, out_w = int(os.environ["TB_IN_W"]), int(os.environ["TB_OUT_W"])
    stall, seed = float(os.environ.get("TB_STALL", "0.3")), int(os.environ.get("TB_SEED", "1"))
    width = len(dut.s_axis_tdata)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
    for drv in (source, sink):
        drv.log.setLevel(logging.WARNING)
    source.set_pause_generator(random_pauses(stall, seed))
    sink.set_pause_generator(random_pauses(stall, seed + 1))
    dut.decouple_req.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    rng = random.Random(seed)
    samples = [rng.getrandbits(in_w) for _ in range(40)] + [0, (1 << in_w) - 1]
    for x in samples:
        source.send_nowait(AxiStreamFrame(tdata=split(x, in_w, width)))
    await wait_until(dut.clk, lambda: sink.count() >= 15, 20000, "15 results")
    await FallingEdge(dut.clk)
    dut.decouple_req.value = 1
    await wait_until(dut.clk, lambda: int(dut.decouple_ack.value), 5000, "decouple_ack")
    for _ in range(20):
        await RisingEdge(dut.clk)
        assert not int(dut.m_axis_tvalid.value) and not int(dut.s_axis_tready.value), "traffic while decoupled"
    await FallingEdge(dut.clk)
    dut.decouple_req.value = 0
    for i, x in enumerate(samples):
        frame = await with_timeout(sink.recv(), 100, "us")
        expected = split((x + 1) % (1 << out_w) if out_w < in_w + 1 else x + 1, out_w, width)
        assert list(frame.tdata) == expected, f"sample {i}: got {list(frame.tdata)}, expected {expected}"
    await ClockCycles(dut.clk, 30)
    assert sink.empty(), "more results than samples"
