"""cocotb testbench of the AXI-wrapped top (hardware/axi_top): AXI4-Lite master, AXI4-Stream source
and sink with random pauses standing in for the PS and the AXI DMA.

``TB_SPEC`` -> JSON {regmap, vectors, records, calibrated, new_thresholds, switch_at, stream_samples,
disable_exit, enable_samples, driver_samples, driver_chunk, in_pause, out_pause, seed}; ``vectors``
-> .npz with ``codes`` (n, elements) and ``words`` (n, bytes per sample: the packed input, packed by
the reference packer, not the driver's). Records go to ``records`` (JSON); Python checks them
against the software model (sim/axi_top/simulate.py).

``stream_through_axi``: register read-back after reset; samples [0, stream_samples) as one DMA
packet while thresholds change mid-stream (written and applied once ``switch_at`` samples were
taken); then samples [0, enable_samples) again with exit ``disable_exit`` turned off; then a soft
reset.
``driver_on_simulation``: hardware/axi_top/driver.py's ExitflowDriver, unchanged, through
CocotbIO: check, soft reset, thresholds, a batch, counters, an exit turned off, another batch.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

CTRL_SOFT_RESET, CTRL_APPLY = 1, 4
STATUS_APPLY_PENDING, STATUS_IN_RESET = 2, 4


def random_pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def _spec() -> dict:
    return json.loads(Path(os.environ["TB_SPEC"]).read_text())


class AxiTopTB:
    """Owns the clock, the reset, the bus models and a monitor of both stream handshakes."""

    def __init__(self, dut, spec: dict):
        self.dut, self.spec = dut, spec
        self.regmap = json.loads(Path(spec["regmap"]).read_text())
        self.offsets = {r["name"]: r["offset"] for r in self.regmap["registers"]}
        self.cycle = 0
        self.words_in = self.results_out = self.in_stalls = self.out_stalls = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        for bus in (self.axil.write_if, self.axil.read_if, self.source, self.sink):
            bus.log.setLevel("WARNING")
        seed = int(spec.get("seed", 0))
        if spec.get("in_pause", 0) > 0:
            self.source.set_pause_generator(random_pauses(spec["in_pause"], seed))
        if spec.get("out_pause", 0) > 0:
            self.sink.set_pause_generator(random_pauses(spec["out_pause"], seed + 1))
        cocotb.start_soon(self._monitor())

    async def _monitor(self) -> None:
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if d.rst.value:
                continue
            s_valid, s_ready = int(d.s_axis_tvalid.value), int(d.s_axis_tready.value)
            m_valid, m_ready = int(d.m_axis_tvalid.value), int(d.m_axis_tready.value)
            self.words_in += s_valid and s_ready
            self.in_stalls += s_valid and not s_ready
            self.results_out += m_valid and m_ready
            self.out_stalls += m_valid and not m_ready

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def read(self, name: str) -> int:
        return int(await self.axil.read_dword(self.offsets[name]))

    async def write(self, name: str, value: int) -> None:
        await self.axil.write_dword(self.offsets[name], int(value))

    async def wait_status_clear(self, bit: int) -> None:
        for _ in range(10_000):
            if not await self.read("STATUS") & bit:
                return
        raise AssertionError(f"STATUS bit {bit} never cleared")

    async def counters(self) -> dict:
        names = ["CYCLES_LO", "CYCLES_HI", "ACTIVE_CYCLES", "IN_STALL_CYCLES", "OUT_STALL_CYCLES", "SAMPLES_IN",
                 "SAMPLES_OUT", "NEXT_ID", "APPLY_ID", "IN_PHASE", "STATUS", "EXIT_ENABLE"]
        names += [f"EXIT_COUNT_{k}" for k in self.regmap["exits"]] + [f"THRESHOLD_{k}" for k in self.regmap["exits"]]
        out = {n: await self.read(n) for n in names}
        out["monitor"] = {"words_in": self.words_in, "results_out": self.results_out, "in_stalls": self.in_stalls,
                          "out_stalls": self.out_stalls}
        return out

    async def batch(self, words: np.ndarray) -> list[int]:
        """One DMA-like packet of samples in, one packet (RESULT_BATCH = its size) of results out."""
        await self.write("RESULT_BATCH", len(words))
        await self.source.send(AxiStreamFrame(words.tobytes()))
        frame = await self.sink.recv()
        data = bytes(frame.tdata)
        width = self.regmap["data_width"] // 8
        return [int.from_bytes(data[i:i + width], "little") for i in range(0, len(data), width)]


@cocotb.test()
async def stream_through_axi(dut):
    """Thresholds changed mid-stream, an exit turned off, a soft reset; everything recorded."""
    spec = _spec()
    tb = AxiTopTB(dut, spec)
    vectors = np.load(spec["vectors"])
    words = vectors["words"]
    rec: dict = {}
    await tb.reset()
    rec["after_reset"] = {n: await tb.read(n) for n in ("MAGIC", "VERSION", "DESIGN_ID", "GEOMETRY", "EXIT_ENABLE",
                                                        "RESULT_BATCH", "STATUS", "NEXT_ID")}
    rec["after_reset"].update({f"THRESHOLD_{k}": await tb.read(f"THRESHOLD_{k}") for k in tb.regmap["exits"]})

    n_a, switch_at = int(spec["stream_samples"]), int(spec["switch_at"])
    wps = tb.regmap["words_per_sample"]

    async def switch() -> int:
        while tb.words_in < switch_at * wps:
            await RisingEdge(dut.clk)
        for k, code in spec["new_thresholds"].items():
            await tb.write(f"THRESHOLD_{k}", code)
        await tb.write("CTRL", CTRL_APPLY)
        await tb.wait_status_clear(STATUS_APPLY_PENDING)
        return await tb.read("APPLY_ID")

    switcher = cocotb.start_soon(switch())
    rec["stream_words"] = await tb.batch(words[:n_a])
    rec["apply_id"] = await switcher
    await ClockCycles(dut.clk, 8)
    rec["after_stream"] = await tb.counters()

    k_off, n_b = int(spec["disable_exit"]), int(spec["enable_samples"])   # k_off 0: one exit, nothing to turn off
    if k_off:
        await tb.write("EXIT_ENABLE", await tb.read("EXIT_ENABLE") & ~(1 << (k_off - 1)))
    await tb.write("CTRL", CTRL_APPLY)
    await tb.wait_status_clear(STATUS_APPLY_PENDING)
    rec["disable_apply_id"] = await tb.read("APPLY_ID")
    rec["disabled_words"] = await tb.batch(words[:n_b])
    await ClockCycles(dut.clk, 8)
    rec["after_disabled"] = await tb.counters()

    await tb.write("CTRL", CTRL_SOFT_RESET)
    await tb.wait_status_clear(STATUS_IN_RESET)
    rec["after_soft_reset"] = await tb.counters()
    Path(spec["records"]).write_text(json.dumps(rec))


@cocotb.test()
async def driver_on_simulation(dut):
    """The PYNQ driver's own code against the simulated top (CocotbIO under cocotb's bridge)."""
    from hardware.axi_top.driver import ExitflowDriver
    from sim.axi_top.cocotb_io import CocotbIO

    spec = _spec()
    tb = AxiTopTB(dut, spec)
    codes = np.load(spec["vectors"])["codes"][:int(spec["driver_samples"])]
    await tb.reset()
    io = CocotbIO(tb.axil, tb.source, tb.sink)
    driver = ExitflowDriver(io, tb.regmap)
    calibrated = {int(k): v for k, v in spec["calibrated"].items()}
    new = {int(k): v for k, v in spec["new_thresholds"].items()}
    k_off = int(spec["disable_exit"])

    def session() -> dict:
        driver.check()
        driver.soft_reset()
        out = {"thresholds_after_reset": driver.thresholds}
        driver.set_thresholds(new)
        out["thresholds_written"] = driver.thresholds
        driver.set_thresholds(calibrated)
        driver.clear_counters()
        first = driver.run_codes(codes, chunk=int(spec["driver_chunk"]))
        out["first"] = {k: getattr(first, k).tolist() for k in ("classes", "exits", "confidences", "ids")}
        out["first_counters"] = driver.counters()
        if k_off:
            driver.set_exit_enable({k_off: False})
        driver.clear_counters()
        second = driver.run_codes(codes)
        out["second"] = {k: getattr(second, k).tolist() for k in ("classes", "exits", "confidences", "ids")}
        out["second_counters"] = driver.counters()
        out["io"] = {"reads": io.reads, "writes": io.writes}
        return out

    out = await bridge(session)()
    Path(spec["records"]).with_name("driver_records.json").write_text(json.dumps(out))
