"""Stream a data set through any valid/ready design with HDL-side drivers, and read back what came out.

cocotb's Python drivers cost tens of microseconds per beat; a 28x28 frame is 784 beats, so the
10,000-sample checks of the streaming cores would take hours. Here every port is driven from HDL
(tb_stream_source.v plays a $readmemh file, tb_stream_sink.v logs each beat), and cocotb only resets,
sets the design's static inputs, starts the run and waits for the sinks to count their frames.

    run = StreamRun(dut_top, sources=[dut_files...], inputs=[Port("s_axis", 8, beats)],
                    outputs=[Port("m_axis", 40, frames=n)], statics={"exits_enable": 1})
    result = run.simulate(build_dir)            # -> HarnessResult: per output port, the beats as ints

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


@dataclass
class Port:
    """One stream port of the design under test."""

    prefix: str
    width: int
    has_last: bool = True
    frames: int = 0                # outputs: frames (tlast beats, or beats without tlast) to wait for
    stall: float = 0.0             # outputs: probability of a back-pressure cycle
    idle: float = 0.0              # inputs: probability of an idle cycle between beats
    seed: int = 1


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
class HarnessResult:
    outputs: dict[str, Beats]
    frame_accepted: dict[str, np.ndarray]     # inputs: cycle each frame's first beat was accepted
    cycles: int
    wall_seconds: float
    timed_out: bool


def write_beats(path: Path, words: list[int], last: np.ndarray, width: int) -> None:
    """$readmemh file: one {tlast, data} word per line."""
    digits = (width + 1 + 3) // 4
    with open(path, "w") as fh:
        for w, t in zip(words, last):
            fh.write(format((int(t) << width) | int(w), f"0{digits}x") + "\n")


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
                    files: dict[str, Path], beats: dict[str, int]) -> str:
    """The testbench top: the DUT, one source per input port, one sink per output port, a cycle counter."""
    decl, inst, conns = [], [], []
    for p in inputs:
        q = p.prefix
        decl.append(f"    wire [{p.width - 1}:0] {q}_tdata;\n    wire {q}_tvalid, {q}_tready, {q}_tlast, {q}_done;")
        inst.append(f"""    tb_stream_source #(.W({p.width}), .BEATS({beats[q]}), .FILE("{files[q]}"),
        .LOG("{files[q + '_log']}"), .IDLE_PERMILLE({_permille(p.idle)}), .SEED({p.seed})) u_src_{q} (
        .clk(clk), .rst(rst | !running), .cycle(cycle), .flush(flush), .tdata({q}_tdata), .tvalid({q}_tvalid),
        .tready({q}_tready), .tlast({q}_tlast), .done({q}_done));""")
        conns += [f".{q}_tdata({q}_tdata)", f".{q}_tvalid({q}_tvalid)", f".{q}_tready({q}_tready)"]
        if p.has_last:
            conns.append(f".{q}_tlast({q}_tlast)")
    for p in outputs:
        q = p.prefix
        decl.append(f"    wire [{p.width - 1}:0] {q}_tdata;\n    wire {q}_tvalid, {q}_tready;\n"
                    f"    wire [31:0] {q}_frames;")
        last = f"{q}_tlast" if p.has_last else "1'b1"
        if p.has_last:
            decl.append(f"    wire {q}_tlast;")
        inst.append(f"""    tb_stream_sink #(.W({p.width}), .LOG("{files[q]}"), .STALL_PERMILLE({_permille(p.stall)}),
        .SEED({p.seed})) u_snk_{q} (
        .clk(clk), .rst(rst | !running), .cycle(cycle), .flush(flush), .tdata({q}_tdata), .tvalid({q}_tvalid),
        .tready({q}_tready), .tlast({last}), .frames({q}_frames));""")
        conns += [f".{q}_tdata({q}_tdata)", f".{q}_tvalid({q}_tvalid)", f".{q}_tready({q}_tready)"]
        if p.has_last:
            conns.append(f".{q}_tlast({q}_tlast)")
    static_ports = "".join(f"    input [{max(1, int(v).bit_length()) - 1}:0] {name},\n"
                           for name, v in statics.items())
    conns += [f".{name}({name})" for name in statics]
    done = " && ".join([f"{p.prefix}_frames >= {p.frames}" for p in outputs] or ["1'b1"])
    return f"""`timescale 1ns / 1ps
// Generated by sim/stream/harness.py: HDL drivers around {dut_top}. Simulation only.
module {TOP} (
    input clk,
    input rst,
    input running,       // sources and sinks start when cocotb raises it
    input flush,
{static_ports}    output done,
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
class StreamRun:
    """One design, its stream ports and the frames to play into each input port."""

    dut_top: str
    sources: list[Path]
    inputs: list[Port]
    outputs: list[Port]
    statics: dict[str, int] = field(default_factory=dict)

    def simulate(self, build_dir: Path, frames: dict[str, list[list[int]]], simulator: str = "verilator",
                 max_cycles: int = 10**9, build: bool = True, build_args: list[str] | None = None,
                 test_args: list[str] | None = None, waves: bool = False) -> HarnessResult:
        """Play ``frames[prefix]`` (lists of beat words) into each input port; collect every output beat."""
        build_dir = Path(build_dir).resolve()
        data_dir = build_dir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        files, beats = {}, {}
        for p in self.inputs:
            words = [w for f in frames[p.prefix] for w in f]
            last = np.array([i == len(f) - 1 for f in frames[p.prefix] for i in range(len(f))], dtype=bool)
            files[p.prefix] = data_dir / f"{p.prefix}.hex"
            files[p.prefix + "_log"] = data_dir / f"{p.prefix}.accepted.log"
            beats[p.prefix] = max(1, len(words))
            write_beats(files[p.prefix], words, last, p.width)
        for p in self.outputs:
            files[p.prefix] = data_dir / f"{p.prefix}.beats.log"
        top = build_dir / f"{TOP}.v"
        top.write_text(harness_verilog(self.dut_top, self.inputs, self.outputs, self.statics, files, beats))
        result_file = data_dir / "run.json"
        result_file.unlink(missing_ok=True)
        env = {"TB_STATICS": json.dumps(self.statics), "TB_MAX_CYCLES": max_cycles, "TB_RESULT": result_file}
        run_cocotb([*self.sources, *LIBRARY, top], TOP, "tb_stream", TB_DIR, build_dir / simulator,
                   simulator=simulator, extra_env=env, build=build, build_args=build_args, test_args=test_args,
                   waves=waves)
        run = json.loads(result_file.read_text())
        accepted = {}
        for p in self.inputs:
            text = files[p.prefix + "_log"].read_text().split()
            accepted[p.prefix] = np.array([int(v) for v in text], dtype=np.int64)
        outs = {p.prefix: read_sink_log(files[p.prefix]) for p in self.outputs}
        return HarnessResult(outs, accepted, int(run["cycles"]), float(run["wall_seconds"]), bool(run["timed_out"]))
