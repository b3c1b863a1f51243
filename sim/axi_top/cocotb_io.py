"""BoardIO on the simulated wrapped top: the driver's blocking calls become cocotbext-axi transactions.

Use from blocking code started with ``cocotb.task.bridge`` (cocotb 2.1: ``bridge`` runs a blocking
function in a thread, ``resume`` lets that thread await a coroutine on the simulator), e.g.::

    io = CocotbIO(axil_master, stream_source, stream_sink)
    await bridge(lambda: ExitflowDriver(io, regmap).run_codes(codes))()
"""
from __future__ import annotations

import numpy as np
from cocotb.task import resume
from cocotbext.axi import AxiStreamFrame


class CocotbIO:
    """read32/write32 over an AxiLiteMaster, send/recv over an AxiStreamSource/Sink (the DMA's place)."""

    def __init__(self, axil, source, sink):
        self.axil, self.source, self.sink = axil, source, sink
        self.reads = self.writes = 0
        self._read, self._write = resume(self._aread), resume(self._awrite)
        self._send, self._recv = resume(self._asend), resume(self._arecv)

    async def _aread(self, offset: int) -> int:
        return int(await self.axil.read_dword(offset))

    async def _awrite(self, offset: int, value: int) -> None:
        await self.axil.write_dword(offset, int(value) & 0xFFFFFFFF)

    async def _asend(self, data: bytes) -> None:
        await self.source.send(AxiStreamFrame(data))

    async def _arecv(self) -> bytes:
        return bytes((await self.sink.recv()).tdata)

    def read32(self, offset: int) -> int:
        self.reads += 1
        return self._read(offset)

    def write32(self, offset: int, value: int) -> None:
        self.writes += 1
        self._write(offset, value)

    def send(self, data: np.ndarray) -> None:
        self._send(np.asarray(data, dtype=np.uint8).tobytes())

    def recv(self, nbytes: int) -> np.ndarray:
        data = self._recv()
        return np.frombuffer(data, dtype=np.uint8).copy()
