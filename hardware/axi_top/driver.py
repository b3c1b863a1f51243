"""Host driver of the AXI-wrapped exit-flow top: PYNQ on the board, the same code against the simulation.

On the board (files from build/<model>/<board>/board/, see README "Running on the PYNQ-Z2")::

    from driver import ExitflowDriver
    accel = ExitflowDriver.from_overlay("exitflow.bit")         # + regmap.json, report.json beside it
    result = accel.run(x_test)                                  # classes, exits, confidences

All register and DMA traffic goes through a ``BoardIO`` (read32/write32, send/recv): ``PynqIO``
drives pynq's MMIO and AXI DMA; sim/axi_top/cocotb_io.py drives cocotbext-axi models of the same
buses, so this module's logic is tested against the simulated wrapped top. This file needs only
numpy (and pynq on the board), and the project's ``frontend.fixedpoint`` or its copy
``fixedpoint.py`` beside it (QKeras rounding of the inputs, one implementation for the whole flow).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

try:
    from frontend.fixedpoint import FixedFormat
except ImportError:  # on the board: the copy written beside this file
    from fixedpoint import FixedFormat  # type: ignore[no-redef]

CTRL_SOFT_RESET, CTRL_CLEAR_COUNTERS, CTRL_APPLY = 1, 2, 4
STATUS_IDLE, STATUS_APPLY_PENDING, STATUS_IN_RESET = 1, 2, 4
COUNTERS = ("ACTIVE_CYCLES", "IN_STALL_CYCLES", "OUT_STALL_CYCLES", "SAMPLES_IN", "SAMPLES_OUT")


class DriverError(RuntimeError):
    """The hardware or the files disagree with what the driver needs; the message says what to do."""


class BoardIO(Protocol):
    """What the driver needs of the board: AXI4-Lite registers and one DMA stream each way."""

    def read32(self, offset: int) -> int: ...

    def write32(self, offset: int, value: int) -> None: ...

    def send(self, data: np.ndarray) -> None:
        """Start sending ``data`` (uint8) as one AXI4-Stream packet; may return before it is all sent."""

    def recv(self, nbytes: int) -> np.ndarray:
        """Block until one packet of ``nbytes`` (ended by tlast) has arrived; return it (uint8)."""


class PynqIO:
    """BoardIO on a PYNQ board: the wrapped top's MMIO and the AXI DMA of the block design."""

    def __init__(self, overlay, ip: str = "exitflow", dma: str = "dma"):
        from pynq import allocate

        self.overlay, self._allocate = overlay, allocate
        self.ip, self.dma = getattr(overlay, ip), getattr(overlay, dma)
        self._tx = None

    def read32(self, offset: int) -> int:
        return int(self.ip.read(offset))

    def write32(self, offset: int, value: int) -> None:
        self.ip.write(offset, int(value) & 0xFFFFFFFF)

    def send(self, data: np.ndarray) -> None:
        self._tx = self._allocate(shape=(data.size,), dtype=np.uint8)
        self._tx[:] = data.reshape(-1)
        self._tx.flush()
        self.dma.sendchannel.transfer(self._tx)   # returns at once; recv() waits for both directions

    def recv(self, nbytes: int) -> np.ndarray:
        rx = self._allocate(shape=(nbytes,), dtype=np.uint8)
        self.dma.recvchannel.transfer(rx)
        self.dma.recvchannel.wait()
        if self._tx is not None:
            self.dma.sendchannel.wait()
            self._tx.freebuffer()
            self._tx = None
        rx.invalidate()
        out = np.array(rx, dtype=np.uint8)
        rx.freebuffer()
        return out

    def load_partial(self, path: str | Path) -> None:
        """Download a partial bitstream (DFX) through the PCAP (pynq.Bitstream, partial=True)."""
        from pynq import Bitstream

        Bitstream(str(path), partial=True).download()


@dataclass
class BatchResult:
    classes: np.ndarray        # per sample, in input order
    exits: np.ndarray          # exit index (stage position) each sample left at
    confidences: np.ndarray    # the exit unit's confidence code
    ids: np.ndarray            # the hardware's sample id (mod 2**id bits)


@dataclass
class PartialStep:
    """One reconfiguration of a PR schedule: load ``bitstream`` so the region holds stage ``stage``."""

    stage: int
    bitstream: Path


@dataclass
class ExitflowDriver:
    io: BoardIO
    regmap: dict
    report: dict | None = None
    poll_limit: int = 100_000        # STATUS reads before giving up (about 0.1 s over the PS's GP port)
    base_dir: Path = field(default_factory=Path)

    # ---------------------------------------------------------------- setup
    @classmethod
    def from_files(cls, io: BoardIO, board_dir: str | Path, check: bool = True) -> "ExitflowDriver":
        """The driver over ``io`` with regmap.json (and report.json when present) from board_dir."""
        board_dir = Path(board_dir)
        regmap = json.loads((board_dir / "regmap.json").read_text())
        report_path = board_dir / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        driver = cls(io, regmap, report, base_dir=board_dir)
        if check:
            driver.check()
        return driver

    @classmethod
    def from_overlay(cls, bitfile: str | Path = "exitflow.bit", ip: str = "exitflow",
                     dma: str = "dma") -> "ExitflowDriver":
        """Load the overlay (pynq.Overlay; the .hwh beside the .bit) and drive it."""
        from pynq import Overlay

        bitfile = Path(bitfile)
        return cls.from_files(PynqIO(Overlay(str(bitfile)), ip, dma), bitfile.parent)

    def offset(self, name: str) -> int:
        for r in self.regmap["registers"]:
            if r["name"] == name:
                return int(r["offset"])
        raise DriverError(f"register {name} is not in regmap.json; regenerate the board files with make synth")

    def read(self, name: str) -> int:
        return self.io.read32(self.offset(name))

    def write(self, name: str, value: int) -> None:
        self.io.write32(self.offset(name), value)

    def check(self) -> None:
        """The hardware is the design regmap.json describes (magic, format version, design id)."""
        magic, version, design = self.read("MAGIC"), self.read("VERSION"), self.read("DESIGN_ID")
        if magic != self.regmap["magic"]:
            raise DriverError(f"no exit-flow top at the register base (read 0x{magic:08x}, expected "
                              f"0x{self.regmap['magic']:08x}); check the overlay and the IP name")
        if version >> 16 != self.regmap["version"] >> 16:
            raise DriverError(f"register map format {version >> 16} in hardware, {self.regmap['version'] >> 16} in "
                              "regmap.json; copy the board files of the same build")
        if design != self.regmap["design_id"]:
            raise DriverError(f"hardware design id 0x{design:08x} differs from regmap.json's "
                              f"0x{self.regmap['design_id']:08x}; the bitstream and the board files are from "
                              "different builds")

    @property
    def exits(self) -> list[int]:
        return list(self.regmap["exits"])

    # ---------------------------------------------------------------- control
    def soft_reset(self) -> None:
        """Reset the data path (ids restart at 0, counters clear); thresholds and enables are kept."""
        self.write("CTRL", CTRL_SOFT_RESET)
        self._wait(lambda s: not s & STATUS_IN_RESET, "the soft reset to finish")

    def clear_counters(self) -> None:
        self.write("CTRL", CTRL_CLEAR_COUNTERS)

    def apply(self) -> int:
        """Make the written thresholds and enables take effect; return the first sample id that uses them."""
        self.write("CTRL", CTRL_APPLY)
        self._wait(lambda s: not s & STATUS_APPLY_PENDING, "the apply (the pipeline did not drain)")
        return self.read("APPLY_ID")

    @property
    def thresholds(self) -> dict[int, int]:
        return {k: self.read(f"THRESHOLD_{k}") for k in self.exits}

    def set_thresholds(self, codes: dict[int, int] | list[int | None], apply: bool = True) -> int | None:
        """Write threshold codes ({exit: code}, or one per stage with None for dropped exits)."""
        if isinstance(codes, (list, tuple)):
            codes = {k: c for k, c in enumerate(codes, start=1) if c is not None and k in self.exits}
        unknown = sorted(set(codes) - set(self.exits))
        if unknown:
            raise DriverError(f"exit(s) {unknown} are not in this design (kept exits {self.exits})")
        for k, code in codes.items():
            self.write(f"THRESHOLD_{k}", int(code))
        return self.apply() if apply else None

    def set_exit_enable(self, enabled: dict[int, bool], apply: bool = True) -> int | None:
        """Turn exits on or off (an exit turned off forces its samples onward; the last exit stays on)."""
        mask = self.read("EXIT_ENABLE")
        for k, on in enabled.items():
            if k not in self.exits:
                raise DriverError(f"exit {k} is not in this design (kept exits {self.exits})")
            mask = mask | 1 << (k - 1) if on else mask & ~(1 << (k - 1))
        self.write("EXIT_ENABLE", mask)
        return self.apply() if apply else None

    def thresholds_from_report(self) -> dict[int, int]:
        """The calibrated codes of report.json's exits block."""
        report = self._report()
        return {e["index"]: int(e["threshold_code"]) for e in report["exits"] if e["index"] in self.exits}

    def set_accuracy_target(self, accuracy_drop: float) -> dict[int, int]:
        """Thresholds of the report's calibration sweep point for this accuracy drop (points), applied."""
        sweep = self._report().get("sweep") or []
        point = next((p for p in sweep if abs(p["accuracy_drop"] - accuracy_drop) < 1e-9), None)
        if point is None:
            targets = ", ".join(f"{p['accuracy_drop']:g}" for p in sweep) or "none (a design point has no sweep)"
            raise DriverError(f"no calibration sweep point for an accuracy drop of {accuracy_drop:g}; the report has "
                              f"{targets}")
        codes = {k: int(t) for k, t in enumerate(point["thresholds"], start=1) if k in self.exits}
        self.set_thresholds(codes)
        return codes

    # ---------------------------------------------------------------- data
    @property
    def input_format(self) -> FixedFormat:
        i = self.regmap["input"]
        return FixedFormat(int(i["width"]), int(i["frac"]), bool(i["signed"]))

    def pack(self, codes: np.ndarray) -> np.ndarray:
        """(n, *input shape) integer codes -> (n, words_per_sample * data bytes) uint8, as regmap.json's packing."""
        i, r = self.regmap["input"], self.regmap
        w = int(i["width"])
        codes = np.asarray(codes, dtype=np.int64).reshape(len(codes), -1)
        if codes.shape[1] != int(np.prod(i["shape"])):
            raise DriverError(f"samples have {codes.shape[1]} elements, the design takes {tuple(i['shape'])}")
        fmt = self.input_format
        if codes.size and (codes.min() < fmt.min_code or codes.max() > fmt.max_code):
            raise DriverError(f"input codes outside {fmt}; quantize real inputs with run(x) instead of run_codes")
        unsigned = np.mod(codes, 1 << w).astype(np.uint64)
        bits = ((unsigned[:, :, None] >> np.arange(w, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        bits = bits.reshape(len(codes), -1)
        total = r["words_per_sample"] * r["data_width"]
        bits = np.pad(bits, ((0, 0), (0, total - bits.shape[1])))
        return np.packbits(bits, axis=1, bitorder="little")

    def decode(self, words: np.ndarray) -> dict[str, np.ndarray]:
        """Result words (uint64) -> {id, exit, class, confidence} arrays."""
        words = np.asarray(words, dtype=np.uint64)
        return {f["name"]: ((words >> np.uint64(f["lsb"])) & np.uint64((1 << f["width"]) - 1)).astype(np.int64)
                for f in self.regmap["result_word"]}

    def run(self, x: np.ndarray) -> BatchResult:
        """Quantise real inputs (QKeras rounding, saturation) to the input format and run them."""
        return self.run_codes(self.input_format.quantize(np.asarray(x)))

    def run_codes(self, codes: np.ndarray, chunk: int | None = None) -> BatchResult:
        """Stream integer input codes through the design; results back in input order.

        Samples go in chunks small enough that their ids (mod 2**id bits) are unique; each chunk is
        one DMA transfer each way (RESULT_BATCH = the chunk, so tlast ends the S2MM transfer).
        """
        codes = np.asarray(codes)
        id_bits = next(f["width"] for f in self.regmap["result_word"] if f["name"] == "id")
        chunk = min(chunk or (1 << id_bits) // 2, (1 << id_bits) // 2)
        parts = [self._run_chunk(codes[i:i + chunk], id_bits) for i in range(0, len(codes), chunk)]
        return BatchResult(*(np.concatenate([getattr(p, k) for p in parts]) if parts else np.zeros(0, np.int64)
                             for k in ("classes", "exits", "confidences", "ids")))

    def _run_chunk(self, codes: np.ndarray, id_bits: int) -> BatchResult:
        n, word_bytes = len(codes), self.regmap["data_width"] // 8
        base = self.read("NEXT_ID")
        self.write("RESULT_BATCH", n)
        self.io.send(self.pack(codes).reshape(-1))
        raw = self.io.recv(n * word_bytes)
        if raw.size != n * word_bytes:
            raise DriverError(f"received {raw.size} bytes for {n} results of {word_bytes} bytes")
        f = self.decode(raw.view(np.uint64) if word_bytes == 8 else raw.view(np.uint32))
        index = (f["id"] - base) % (1 << id_bits)
        seen = np.bincount(index, minlength=n)
        if len(seen) > n or (seen != 1).any():
            raise DriverError(f"results do not match the samples sent: {int((seen[:n] == 0).sum())} missing, "
                              f"{int((seen > 1).sum())} repeated, {int(seen[n:].sum())} unknown ids; soft_reset() "
                              "and resend")
        out = {}
        for key, name in (("classes", "class"), ("exits", "exit"), ("confidences", "confidence"), ("ids", "id")):
            out[key] = np.empty(n, dtype=np.int64)
            out[key][index] = f[name]
        return BatchResult(**out)

    # ---------------------------------------------------------------- counters
    def counters(self) -> dict[str, int]:
        """Every counter register, and CYCLES (64 bits: the low read latches the high word)."""
        lo = self.read("CYCLES_LO")
        out = {"CYCLES": self.read("CYCLES_HI") << 32 | lo}
        out.update({name: self.read(name) for name in COUNTERS})
        out.update({f"EXIT_COUNT_{k}": self.read(f"EXIT_COUNT_{k}") for k in self.exits})
        return out

    # ---------------------------------------------------------------- partial reconfiguration
    def partial_schedule(self) -> list[PartialStep]:
        """Reconfigurations one batch needs under report.json's chosen PR mapping (none if all-resident).

        The region holds one stage at a time: per batch, each region stage in order (the batched
        schedule of flows/pr); partial bitstreams are where the DFX project writes them.
        """
        pr = (self.report or {}).get("pr") or {}
        mapping = pr.get("mapping") or {}
        chosen = mapping.get("chosen") or {}
        stages = chosen.get("region_stages") or []
        folder = self.base_dir / "bitstreams"
        return [PartialStep(int(k), folder / f"stage_{k}_partial.bit") for k in stages]

    def load_partial(self, step: PartialStep) -> None:
        if not hasattr(self.io, "load_partial"):
            raise DriverError("this BoardIO cannot load partial bitstreams (PynqIO can)")
        if not Path(step.bitstream).is_file():
            raise DriverError(f"partial bitstream {step.bitstream} missing; run the DFX project "
                              "(pr/dfx_project.tcl) and copy bitstreams/ beside the overlay")
        self.io.load_partial(step.bitstream)

    # ---------------------------------------------------------------- helpers
    def _report(self) -> dict:
        if self.report is None:
            raise DriverError("no report.json beside regmap.json; copy it from build/<model>/<board>/")
        return self.report

    def _wait(self, done, what: str) -> None:
        for _ in range(self.poll_limit):
            status = self.read("STATUS")
            if done(status):
                return
        raise DriverError(f"gave up waiting for {what} after {self.poll_limit} STATUS reads; STATUS=0x{status:x}")
