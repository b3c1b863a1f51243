"""The register map of the AXI-wrapped top: ONE description, three views.

``register_map(...)`` builds the list of ``Register`` records of one design (its kept exits, their
threshold widths and calibrated reset codes, the stream geometry); the Verilog generator
(generate.py) decodes exactly these records, and ``to_markdown``, ``to_c_header`` and ``to_json``
render them. Nothing else lists an address.

Conventions: 32-bit registers, byte offsets from the AXI4-Lite base, little-endian. ``rw``
registers read back what was written; ``ro`` ignore writes; ``wo`` bits are pulses (read 0).
Per-exit registers sit at ``base + 4*(k-1)`` for exit index k (the stage position), so a dropped
exit leaves a hole. Counters are 32 bits, wrap, and clear on soft reset or CTRL.clear_counters.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

MAGIC = 0x45584954            # "EXIT"
VERSION = 0x00010000          # register map format 1.0: bumped when an offset or a meaning changes
THRESHOLD_BASE = 0x100
EXIT_COUNT_BASE = 0x180
ADDR_W = 12                   # 4 KiB of AXI4-Lite address space


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str                 # "ro", "rw", "wo"
    doc: str
    reset: int = 0
    fields: tuple[Field, ...] = ()
    exit: int | None = None     # the exit index of a per-exit register


@dataclass(frozen=True)
class ResultField:
    """One field of an m_axis result word (bit offset from bit 0 of the word)."""

    name: str
    lsb: int
    width: int


@dataclass
class RegisterMap:
    registers: list[Register]
    result_fields: list[ResultField]    # layout of one result word on m_axis
    data_width: int                     # AXI4-Stream word (DMA) width, both directions
    words_per_sample: int
    frame_beats: int
    beat_width: int
    exits: list[int]                    # kept exit indices (stage positions)
    design_id: int
    input: dict = field(default_factory=dict)   # shape, width, frac, signed of the packed input tensor
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"no register {name!r} in the map; registers: {', '.join(r.name for r in self.registers)}")

    def to_dict(self) -> dict:
        return {"version": VERSION, "magic": MAGIC, "design_id": self.design_id, "addr_width": ADDR_W,
                "data_width": self.data_width, "words_per_sample": self.words_per_sample,
                "frame_beats": self.frame_beats, "beat_width": self.beat_width, "exits": self.exits,
                "input": self.input, "packing": PACKING, "result_tlast": RESULT_TLAST,
                "result_word": [asdict(f) for f in self.result_fields],
                "registers": [{**asdict(r), "fields": [asdict(f) for f in r.fields]} for r in self.registers],
                "notes": self.notes}


PACKING = ("A sample is the C-order flatten of the input tensor, element i at bits [i*W +: W] of its bit string "
           "(two's complement codes when signed); the string (frame_beats beats of beat_width bits) is cut into "
           "words_per_sample words, word w = bits [w*data_width +: data_width], the last one zero-padded, words "
           "little-endian in memory. Every sample starts on a fresh word; s_axis tlast is not needed.")
RESULT_TLAST = ("m_axis tlast is high on every RESULT_BATCH-th result word (counted from the last write of "
                "RESULT_BATCH or a soft reset), so one DMA S2MM transfer receives one batch.")


def _counter(name: str, offset: int, doc: str, exit_: int | None = None) -> Register:
    return Register(name, offset, "ro", doc, exit=exit_)


def register_map(exits: list[int], threshold_widths: dict[int, int], threshold_resets: dict[int, int],
                 data_width: int, words_per_sample: int, frame_beats: int, beat_width: int,
                 result_fields: list[ResultField], design_id: int, input_desc: dict | None = None,
                 last_exit: int | None = None) -> RegisterMap:
    """The registers of one design. exits: kept exit indices; the last one always lets samples out."""
    last = last_exit if last_exit is not None else max(exits)
    enable_mask = sum(1 << (k - 1) for k in exits)
    regs = [
        Register("MAGIC", 0x000, "ro", "constant 0x45584954 (\"EXIT\"): the wrapped top answers here", MAGIC),
        Register("VERSION", 0x004, "ro", "register map format: (major << 16) + minor", VERSION),
        Register("DESIGN_ID", 0x008, "ro", "first 32 bits of the design hash (RTL sources, thresholds, geometry); "
                 "regmap.json's design_id must match", design_id),
        Register("GEOMETRY", 0x00C, "ro", "stream geometry",
                 words_per_sample | (data_width // 8) << 16 | len(exits) << 24,
                 (Field("words_per_sample", 0, 16, "s_axis words per sample"),
                  Field("data_bytes", 16, 8, "bytes per stream word (both directions)"),
                  Field("exits", 24, 8, "number of kept exits"))),
        Register("CTRL", 0x010, "wo", "control pulses (write 1; read 0)", 0,
                 (Field("soft_reset", 0, 1, "reset the data path (pipeline, gearbox, results, counters, ids); "
                        "thresholds and enables keep their values; samples in flight are dropped"),
                  Field("clear_counters", 1, 1, "zero every counter (ids and the data path are untouched)"),
                  Field("apply", 2, 1, "apply THRESHOLD_k and EXIT_ENABLE: input is held at the next sample "
                        "boundary until no sample is in flight, then the new values take effect; samples "
                        "from APPLY_ID on use them"))),
        Register("STATUS", 0x014, "ro", "status (reset value: idle)", 1,
                 (Field("idle", 0, 1, "no sample in the pipeline or the result buffer, input word-aligned"),
                  Field("apply_pending", 1, 1, "an apply is waiting for the pipeline to drain"),
                  Field("in_reset", 2, 1, "a soft reset is in progress"))),
        Register("EXIT_ENABLE", 0x018, "rw", f"bit k-1 enables exit k (0 forces its samples onward); bits of "
                 f"dropped exits read 0, exit {last}'s (the last) reads 1. Takes effect on CTRL.apply",
                 enable_mask),
        Register("RESULT_BATCH", 0x01C, "rw", "results per m_axis packet: tlast on every RESULT_BATCH-th result "
                 "(0 reads as 1); writing it restarts the count", 1),
        Register("NEXT_ID", 0x020, "ro", "sample id the next accepted sample gets (samples since the last "
                 "soft reset, mod 2**id bits of the result word)"),
        Register("APPLY_ID", 0x024, "ro", "NEXT_ID when the last apply took effect: the first sample that used "
                 "the applied thresholds and enables"),
        Register("IN_PHASE", 0x028, "ro", "s_axis words of the current sample taken so far (0 between samples)"),
        Register("CYCLES_LO", 0x030, "ro", "clock cycles since the last clear, low word (reading it latches "
                 "CYCLES_HI)"),
        Register("CYCLES_HI", 0x034, "ro", "clock cycles, high word, as latched by the last CYCLES_LO read"),
        _counter("ACTIVE_CYCLES", 0x038, "cycles with at least one sample inside the wrapped top"),
        _counter("IN_STALL_CYCLES", 0x03C, "input stalls: cycles with s_axis_tvalid high and s_axis_tready low"),
        _counter("OUT_STALL_CYCLES", 0x040, "output stalls: cycles with m_axis_tvalid high and m_axis_tready low"),
        _counter("SAMPLES_IN", 0x044, "samples taken by the pipeline"),
        _counter("SAMPLES_OUT", 0x048, "result words sent on m_axis"),
    ]
    for k in exits:
        w = threshold_widths[k]
        regs.append(Register(f"THRESHOLD_{k}", THRESHOLD_BASE + 4 * (k - 1), "rw",
                             f"exit {k} threshold code ({w} bits, the exit unit's register); reset: the calibrated "
                             "code. Takes effect on CTRL.apply", int(threshold_resets[k]), exit=k))
    for k in exits:
        regs.append(_counter(f"EXIT_COUNT_{k}", EXIT_COUNT_BASE + 4 * (k - 1), f"results sent that left at exit {k}",
                             exit_=k))
    offsets = [r.offset for r in regs]
    if len(set(offsets)) != len(offsets) or max(offsets) >= 1 << ADDR_W:
        raise ValueError("register offsets collide or exceed the 4 KiB window; too many exits for this map")
    return RegisterMap(regs, result_fields, data_width, words_per_sample, frame_beats, beat_width, list(exits),
                       design_id, input_desc or {})


# ---------------------------------------------------------------- views
def to_json(rm: RegisterMap) -> str:
    return json.dumps(rm.to_dict(), indent=2) + "\n"


def to_markdown(rm: RegisterMap, title: str = "Register map") -> str:
    lines = [f"# {title}", "",
             f"Design id `0x{rm.design_id:08x}`, register map format {VERSION >> 16}.{VERSION & 0xffff}. "
             f"AXI4-Lite, 32-bit registers, byte offsets. AXI4-Stream words of {rm.data_width} bits both ways; "
             f"{rm.words_per_sample} input words per sample ({rm.frame_beats} beat(s) of {rm.beat_width} bits). "
             f"Kept exits: {', '.join(map(str, rm.exits))}.", "",
             "| offset | name | access | reset | description |", "|---|---|---|---|---|"]
    for r in rm.registers:
        lines.append(f"| 0x{r.offset:03x} | {r.name} | {r.access} | 0x{r.reset:x} | {r.doc} |")
        for f in r.fields:
            bits = f"{f.lsb}" if f.width == 1 else f"{f.lsb + f.width - 1}:{f.lsb}"
            lines.append(f"| | .{f.name} [{bits}] | | | {f.doc} |")
    lines += ["", "## Input packing (s_axis)", "", PACKING, ""]
    if rm.input:
        lines += [f"Input tensor: shape {tuple(rm.input['shape'])}, {rm.input['width']}-bit codes, "
                  f"{rm.input['frac']} fraction bits, {'signed' if rm.input['signed'] else 'unsigned'}.", ""]
    lines += ["## Result word (m_axis)", "", "| bits | field |", "|---|---|"]
    lines += [f"| {f.lsb + f.width - 1}:{f.lsb} | {f.name} |" for f in rm.result_fields]
    lines += ["", "Unused upper bits are 0. " + RESULT_TLAST, ""]
    lines += [f"- {n}" for n in rm.notes]
    return "\n".join(lines) + "\n"


def to_c_header(rm: RegisterMap, guard: str = "EXITFLOW_REGMAP_H") -> str:
    lines = [f"/* Generated by hardware/axi_top/regmap.py from the register description. Do not edit. */",
             f"#ifndef {guard}", f"#define {guard}", "",
             f"#define EXITFLOW_MAGIC 0x{MAGIC:08x}u", f"#define EXITFLOW_VERSION 0x{VERSION:08x}u",
             f"#define EXITFLOW_DESIGN_ID 0x{rm.design_id:08x}u", f"#define EXITFLOW_DATA_WIDTH {rm.data_width}",
             f"#define EXITFLOW_WORDS_PER_SAMPLE {rm.words_per_sample}",
             f"#define EXITFLOW_FRAME_BEATS {rm.frame_beats}", f"#define EXITFLOW_BEAT_WIDTH {rm.beat_width}",
             f"#define EXITFLOW_EXIT_COUNT {len(rm.exits)}", ""]
    for r in rm.registers:
        lines.append(f"#define EXITFLOW_{r.name}_OFFSET 0x{r.offset:03x}u  /* {r.access} */")
        if r.reset:
            lines.append(f"#define EXITFLOW_{r.name}_RESET 0x{r.reset:x}u")
        for f in r.fields:
            lines.append(f"#define EXITFLOW_{r.name}_{f.name.upper()}_SHIFT {f.lsb}")
            lines.append(f"#define EXITFLOW_{r.name}_{f.name.upper()}_MASK 0x{((1 << f.width) - 1) << f.lsb:x}u")
    lines += ["", "/* result word on m_axis */"]
    for f in rm.result_fields:
        lines.append(f"#define EXITFLOW_RESULT_{f.name.upper()}_SHIFT {f.lsb}")
        lines.append(f"#define EXITFLOW_RESULT_{f.name.upper()}_MASK 0x{(1 << f.width) - 1:x}ull")
    lines += ["", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
