"""Stream data sets through any valid/ready design with HDL-side drivers, and read back what came out.

cocotb's Python drivers cost tens of microseconds per beat; a 28x28 frame is 784 beats, so the
10,000-sample checks of the streaming cores would take hours. Here every port is driven from HDL
(tb_stream_source.v plays a $readmemh file, tb_stream_sink.v logs each beat), and cocotb only resets,
sets the static inputs, starts the run and waits for the sinks to count their frames. One simulator
build serves many runs: files, stall and idle rates, seeds and the design's static inputs are set per run.

    bench = StreamBench("stage_1", sources, inputs=[Port("s_axis", 8)],
                        outputs=[Port("m_logits", 160, has_last=False), Port("m_fwd", 24)],
                        statics={"exits_enable": 1})            # name -> width of a design input held still
    run = bench.run(build_dir, {"s_axis": frames}, expect={"m_logits": n, "m_fwd": n},
                    idle={"s_axis": 0.2}, stall={"m_fwd": 0.3}, statics={"exits_enable": 1})
    run.outputs["m_fwd"].frames()                               # -> the beats of every frame, as ints

Port names follow AXI4-Stream: ``<prefix>_tdata/_tvalid/_tready`` and ``_tlast`` when the port has one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.runner import run_cocotb

TB_DIR = Path(__file__).resolve().parent
LIBRARY = [TB_DIR / "tb_stream_source.v", TB_DIR / "tb_stream_sink.v"]
TOP = "tb_stream_top"


@dataclass(frozen=True)
class Port:
    """One stream port of the design under test. ``count``: a Verilog expression (in terms of
    ``<prefix>_tdata``/``_tlast``) of how many frames a beat completes; default tlast, or 1 per beat."""

    prefix: str
    width: int
    has_last: bool = True
    count: str | None = None


@dataclass
class Beats:
    """What an output port delivered: per beat its data, tlast, first-valid and accept cycles."""

    data: list[int]
    last: np.ndarray
    first_valid: np.ndarray
    accepted: np.ndarray

    def frames(self) -> list[list[int]]:
        out, cur = [], []
        for word, last in zip(self.data, self.last):
            cur.append(word)
            if last:
                out.append(cur)
                cur = []
        return out


@dataclass
class RunResult:
    outputs: dict[str, Beats]
    frame_accepted: dict[str, np.ndarray]     # inputs: cycle each frame's first beat was accepted
    source_idle: dict[str, np.ndarray]        # inputs: cycles the design was ready and the source had no beat
    cycles: int
    wall_seconds: float
    timed_out: bool


def write_beats(path: Path, frames: list[list[int]], width: int) -> int:
    """$readmemh file of every frame's beats, one {tlast, data} word per line; returns the beat count."""
    digits = (width + 1 + 3) // 4
    n = 0
    with open(path, "w") as fh:
        for frame in frames:
            for i, w in enumerate(frame):
                fh.write(format((int(i == len(frame) - 1) << width) | int(w), f"0{digits}x") + "\n")
                n += 1
    return n


def read_sink_log(path: Path) -> Beats:
    data, last, first, acc = [], [], [], []
    for line in Path(path).read_text().split("\n"):
        if not line:
            continue
        f, a, t, d = line.split()
        first.append(int(f))
        acc.append(int(a))
        last.append(int(t))
        data.append(int(d, 16))   # an 'x' digit (an undriven bit) raises here: that is a design bug
    return Beats(data, np.array(last, dtype=bool), np.array(first, dtype=np.int64), np.array(acc, dtype=np.int64))


def _permille(p: float) -> int:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"stall/idle probability {p} must lie in [0, 1)")
    return int(round(p * 1000))


def harness_verilog(dut_top: str, inputs: list[Port], outputs: list[Port], statics: dict[str, int],
                    max_beats: dict[str, int]) -> str:
    """The testbench top: the DUT, one source per input port, one sink per output port, a cycle counter;
    every setting of a run is a top-level input cocotb drives."""
    ports, decl, inst, conns = [], [], [], []
    for p in inputs:
        q = p.prefix
        ports += [f"    input [9:0] {q}_idle,", f"    input [31:0] {q}_seed,"]
        decl.append(f"    wire [{p.width - 1}:0] {q}_tdata;\n    wire {q}_tvalid, {q}_tready, {q}_tlast, {q}_done;")
        inst.append(f"""    tb_stream_source #(.W({p.width}), .MAX_BEATS({max_beats[q]}), .NAME("{q}")) u_src_{q} (
        .clk(clk), .rst(rst | !running), .cycle(cycle), .flush(flush), .idle_permille({q}_idle),
        .seed({q}_seed), .tdata({q}_tdata), .tvalid({q}_tvalid), .tready({q}_tready), .tlast({q}_tlast),
        .done({q}_done));""")
        conns += [f".{q}_tdata({q}_tdata)", f".{q}_tvalid({q}_tvalid)", f".{q}_tready({q}_tready)"]
        if p.has_last:
            conns.append(f".{q}_tlast({q}_tlast)")
    for p in outputs:
        q = p.prefix
        ports += [f"    input [9:0] {q}_stall,", f"    input [31:0] {q}_seed,", f"    input [31:0] {q}_expect,"]
        decl.append(f"    wire [{p.width - 1}:0] {q}_tdata;\n    wire {q}_tvalid, {q}_tready;\n"
                    f"    wire [31:0] {q}_frames;")
        if p.has_last:
            decl.append(f"    wire {q}_tlast;")
        last = f"{q}_tlast" if p.has_last else "1'b1"
        count = p.count or f"{{7'd0, {last}}}"
        inst.append(f"""    tb_stream_sink #(.W({p.width}), .NAME("{q}")) u_snk_{q} (
        .clk(clk), .rst(rst | !running), .cycle(cycle), .flush(flush), .stall_permille({q}_stall),
        .seed({q}_seed), .tdata({q}_tdata), .tvalid({q}_tvalid), .tready({q}_tready), .tlast({last}),
        .count({count}), .frames({q}_frames));""")
        conns += [f".{q}_tdata({q}_tdata)", f".{q}_tvalid({q}_tvalid)", f".{q}_tready({q}_tready)"]
        if p.has_last:
            conns.append(f".{q}_tlast({q}_tlast)")
    ports += [f"    input [{w - 1}:0] {name}," for name, w in statics.items()]
    conns += [f".{name}({name})" for name in statics]
    done = " && ".join([f"{p.prefix}_frames >= {p.prefix}_expect" for p in outputs] or ["1'b1"])
    return f"""`timescale 1ns / 1ps
// Generated by sim/stream/harness.py: HDL drivers around {dut_top}. Simulation only.
module {TOP} (
    input clk,
    input rst,
    input running,       // sources and sinks start when cocotb raises it
    input flush,
{chr(10).join(ports)}
    output done,
    output [63:0] cycles
);
    reg [63:0] cycle;
    always @(posedge clk) cycle <= rst ? 64'd0 : cycle + 64'd1;
    assign cycles = cycle;
{chr(10).join(decl)}
{chr(10).join(inst)}
    assign done = {done};
    {dut_top} dut (
        .clk(clk), .rst(rst),
        {(',' + chr(10) + '        ').join(conns)}
    );
endmodule
"""


@dataclass
class StreamBench:
    """One design under test, its stream ports and its static inputs ({name: width}); built once per
    build directory and simulator, run as often as needed."""

    dut_top: str
    sources: list[Path]
    inputs: list[Port]
    outputs: list[Port]
    statics: dict[str, int] = field(default_factory=dict)
    untraced: tuple[str, ...] = ()          # file globs Verilator leaves out of waveform/SAIF tracing
    _built: set = field(default_factory=set, repr=False)

    def run(self, build_dir: Path, frames: dict[str, list[list[int]]], expect: dict[str, int],
            name: str = "run", idle: dict[str, float] | None = None, stall: dict[str, float] | None = None,
            statics: dict[str, int] | None = None, seed: int = 1, simulator: str = "verilator",
            max_beats: dict[str, int] | None = None, max_cycles: int = 10**9, build_args: list[str] | None = None,
            test_args: list[str] | None = None, waves: bool = False) -> RunResult:
        """Play ``frames[prefix]`` into each input port until every output port has counted ``expect``."""
        build_dir = Path(build_dir).resolve()
        data_dir = build_dir / "runs" / name
        data_dir.mkdir(parents=True, exist_ok=True)
        plusargs, values = [], {}
        for i, p in enumerate(self.inputs):
            beats = write_beats(data_dir / f"{p.prefix}.hex", frames[p.prefix], p.width)
            plusargs += [f"+{p.prefix}_file={data_dir / (p.prefix + '.hex')}", f"+{p.prefix}_beats={beats}",
                         f"+{p.prefix}_log={data_dir / (p.prefix + '.accepted.log')}",
                         f"+{p.prefix}_idle_log={data_dir / (p.prefix + '.idle.log')}"]
            values[f"{p.prefix}_idle"] = _permille((idle or {}).get(p.prefix, 0.0))
            values[f"{p.prefix}_seed"] = seed * 7919 + i + 1
        for i, p in enumerate(self.outputs):
            plusargs.append(f"+{p.prefix}_log={data_dir / (p.prefix + '.beats.log')}")
            values[f"{p.prefix}_stall"] = _permille((stall or {}).get(p.prefix, 0.0))
            values[f"{p.prefix}_seed"] = seed * 104729 + i + 1
            values[f"{p.prefix}_expect"] = int(expect[p.prefix])
        values.update({k: int(v) for k, v in (statics or {}).items()})
        missing = set(self.statics) - set(values)
        if missing:
            raise ValueError(f"static input(s) {sorted(missing)} of {self.dut_top} need a value")
        sim_dir = build_dir / simulator
        build = sim_dir not in self._built
        if build:
            sizes = max_beats or {p.prefix: sum(len(f) for f in frames[p.prefix]) for p in self.inputs}
            top = build_dir / f"{TOP}.v"
            top.write_text(harness_verilog(self.dut_top, self.inputs, self.outputs, self.statics,
                                           {k: max(1, v) for k, v in sizes.items()}))
        sources = [*self.sources, *LIBRARY, build_dir / f"{TOP}.v"]
        args = list(build_args or [])
        if simulator == "verilator":
            # only the harness top's ports are reached from Python: keep everything else private, which
            # lets Verilator optimise the design (cocotb's default makes every signal VPI-visible)
            control = build_dir / "public_ports.vlt"
            untraced = "".join(f'tracing_off -file "{glob}"\n' for glob in ("*tb_stream_source.v", "*tb_stream_sink.v",
                                                                             *self.untraced))
            control.write_text(f'`verilator_config\npublic_flat_rw -module "{TOP}" -var "*"\n{untraced}')
            sources.insert(0, control)
            args.append("--no-public-flat-rw")
        result_file = data_dir / "run.json"
        result_file.unlink(missing_ok=True)
        env = {"TB_SETTINGS": json.dumps(values), "TB_MAX_CYCLES": max_cycles, "TB_RESULT": result_file}
        run_cocotb(sources, TOP, "tb_stream", TB_DIR, sim_dir,
                   simulator=simulator, extra_env=env, build=build, build_args=args,
                   test_args=test_args, plusargs=plusargs, waves=waves)
        self._built.add(sim_dir)
        run = json.loads(result_file.read_text())
        def cycles(path: Path) -> np.ndarray:
            return np.array([int(v) for v in path.read_text().split()], dtype=np.int64)

        accepted = {p.prefix: cycles(data_dir / (p.prefix + ".accepted.log")) for p in self.inputs}
        idle_cycles = {p.prefix: cycles(data_dir / (p.prefix + ".idle.log")) for p in self.inputs}
        outs = {p.prefix: read_sink_log(data_dir / (p.prefix + ".beats.log")) for p in self.outputs}
        return RunResult(outs, accepted, idle_cycles, int(run["cycles"]), float(run["wall_seconds"]),
                         bool(run["timed_out"]))
