"""cocotb testbench of pr_region_wrapper (decoupler + a stand-in reconfigurable module).

A stream of packets runs through the region; in the middle the partition is
decoupled, "rewritten" (the stand-in drives garbage and changes its function)
and released. Checks: every packet comes out exactly once and in order, with
the function of the module that was loaded when it entered; nothing leaves the
region and nothing enters it while it is decoupled; decoupling waits until every
accepted packet has come out. ``TB_STALL`` = probability of an idle or
back-pressure cycle on the DMA side; ``TB_SEED`` seeds packets and stalls.
"""
from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def random_pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


async def wait_until(clk, condition, cycles: int, what: str) -> None:
    """Wait for condition() at rising edges, at most `cycles` of them."""
    for _ in range(cycles):
        if condition():
            return
        await RisingEdge(clk)
    raise AssertionError(f"timed out after {cycles} cycles waiting for {what}")


class RegionTB:
    """Owns clock, reset, the DMA-side stream drivers and the decouple control."""

    def __init__(self, dut, stall: float, seed: int):
        self.dut = dut
        self.width = len(dut.s_axis_tdata)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                                      byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst,
                                  byte_lanes=1)
        self.source.log.setLevel(logging.WARNING)
        self.sink.log.setLevel(logging.WARNING)
        if stall > 0:
            self.source.set_pause_generator(random_pauses(stall, seed))
            self.sink.set_pause_generator(random_pauses(stall, seed + 1))
        self.packets_in = 0          # input packets accepted by the region (tlast handshakes)
        self.leaks = []              # (what, time) seen while decoupled
        cocotb.start_soon(self.monitor())

    async def reset(self) -> None:
        self.dut.decouple_req.value = 0
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def monitor(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            if int(dut.rst.value):
                continue
            s_fire = int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value)
            if s_fire and int(dut.s_axis_tlast.value):
                self.packets_in += 1
            if int(dut.decouple_ack.value):
                if int(dut.m_axis_tvalid.value):
                    self.leaks.append(("m_axis_tvalid while decoupled", cocotb.utils.get_sim_time("ns")))
                if int(dut.s_axis_tready.value):
                    self.leaks.append(("s_axis_tready while decoupled", cocotb.utils.get_sim_time("ns")))

    async def reconfigure(self, new_mode: int, rewrite_cycles: int = 40) -> int:
        """Decouple, rewrite the partition, release; return the packets accepted before decoupling."""
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.decouple_req.value = 1
        await wait_until(dut.clk, lambda: int(dut.decouple_ack.value), 5000, "decouple_ack")
        accepted = self.packets_in
        delivered = self.sink.count()
        assert delivered == accepted, f"decoupled with {accepted - delivered} accepted packet(s) still inside"
        await FallingEdge(dut.clk)
        dut.u_rm.scramble.value = 1
        await ClockCycles(dut.clk, rewrite_cycles)
        dut.u_rm.mode.value = new_mode
        dut.u_rm.scramble.value = 0
        await ClockCycles(dut.clk, 3)
        await FallingEdge(dut.clk)
        dut.decouple_req.value = 0
        return accepted


def make_packets(rng: random.Random, count: int, width: int) -> list[list[int]]:
    top = (1 << (width - 1)) - 1          # headroom so adding the mode never wraps
    return [[rng.randint(0, top) for _ in range(rng.randint(1, 5))] for _ in range(count)]


@cocotb.test()
async def reconfiguration_mid_stream_loses_and_duplicates_nothing(dut):
    stall = float(os.environ.get("TB_STALL", "0.3"))
    seed = int(os.environ.get("TB_SEED", "1"))
    tb = RegionTB(dut, stall, seed)
    await tb.reset()
    rng = random.Random(seed)
    packets = make_packets(rng, 60, tb.width)
    for p in packets:
        tb.source.send_nowait(AxiStreamFrame(tdata=p))
    await wait_until(dut.clk, lambda: tb.packets_in >= 20, 5000, "20 packets in")   # well into the stream
    before = await tb.reconfigure(new_mode=1)
    await wait_until(dut.clk, lambda: tb.packets_in >= 45, 5000, "45 packets in")
    before2 = await tb.reconfigure(new_mode=3)
    got = []
    for _ in packets:
        frame = await with_timeout(tb.sink.recv(), 200, "us")
        got.append(list(frame.tdata))
    await ClockCycles(dut.clk, 50)
    assert tb.sink.empty(), "the region delivered more packets than it was given"
    assert not tb.leaks, f"traffic while decoupled: {tb.leaks[:3]}"
    assert 0 < before < before2 < len(packets)
    expected = [[v + (0 if i < before else 1 if i < before2 else 3) for v in p] for i, p in enumerate(packets)]
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"packet {i}: got {g}, expected {e} (decoupled after packets {before} and {before2})"


@cocotb.test()
async def idle_region_decouples_at_once_and_resumes(dut):
    tb = RegionTB(dut, 0.0, 5)
    await tb.reset()
    await tb.reconfigure(new_mode=2, rewrite_cycles=10)
    tb.source.send_nowait(AxiStreamFrame(tdata=[7, 8]))
    frame = await with_timeout(tb.sink.recv(), 10, "us")
    assert list(frame.tdata) == [9, 10]
    assert not tb.leaks
