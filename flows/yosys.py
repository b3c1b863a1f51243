"""Yosys (pyosys) synthesis for Xilinx 7-series and the resource counts we report.

Each synthesis runs in its own Python subprocess (pyosys holds one global
design per process), so callers may run several in parallel threads or
processes. The Yosys log goes to a file, never to stdout.

Counts come from ``stat -json`` of the ``synth_xilinx`` netlist:
``lut`` = LUT1..LUT6 plus LUTs used as memory (RAM32M/RAM64M = 4, RAM32X1D/
RAM64X1D = 2, SRL16E/SRLC32E = 1, also given alone as ``lut_as_memory``);
``ff`` = FD* cells; ``bram`` = RAMB36E1 + RAMB18E1 / 2.
``lut_levels``: the largest number of LUT cells on any combinational path
between sequential cells (FF, SRL/LUTRAM, BRAM, DSP48E1) or ports, computed
on the mapped netlist (``write_json``); CARRY4 and MUXF7/F8 cells on the path
are not counted as levels (they are the fast dedicated logic of a slice) but
their inputs and outputs are followed. DSP48E1 cells count as path ends.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flows.errors import UserError

LUTRAM_WEIGHT = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM32X1S": 1, "RAM64X1S": 1,
                 "RAM128X1D": 4, "SRL16E": 1, "SRLC32E": 1}
SEQUENTIAL_PREFIXES = ("FD", "RAMB", "DSP48", "SRL", "RAM")


class YosysError(UserError):
    """Synthesis failed; the message names the log file."""


@dataclass
class ResourceRecord:
    lut: int
    ff: int
    carry4: int
    dsp: int
    bram: float
    lut_levels: int
    seconds: float
    lut_as_memory: int = 0
    ramb36: int = 0
    ramb18: int = 0
    source: str = "yosys"

    def to_dict(self) -> dict:
        return asdict(self)


def count_resources(cell_counts: dict[str, int]) -> dict:
    """Resource counts from a {cell type: count} map of a synth_xilinx netlist."""
    c = {k.lstrip("\\$"): int(v) for k, v in cell_counts.items()}
    lut_mem = sum(LUTRAM_WEIGHT[t] * n for t, n in c.items() if t in LUTRAM_WEIGHT)
    luts = sum(n for t, n in c.items() if t.startswith("LUT") and t[3:].isdigit())
    # 7-series cells end in E1, UltraScale+ in E2 (and carry chains are CARRY8 there, counted as carry4)
    r36 = c.get("RAMB36E1", 0) + c.get("RAMB36E2", 0)
    r18 = c.get("RAMB18E1", 0) + c.get("RAMB18E2", 0)
    return {"lut": luts + lut_mem, "lut_as_memory": lut_mem, "ff": sum(n for t, n in c.items() if t.startswith("FD")),
            "carry4": c.get("CARRY4", 0) + c.get("CARRY8", 0), "dsp": c.get("DSP48E1", 0) + c.get("DSP48E2", 0),
            "bram": r36 + r18 / 2, "ramb36": r36, "ramb18": r18}


def lut_levels(netlist: dict, top: str) -> int:
    """Longest run of LUT cells between sequential cells or ports (see module doc)."""
    module = netlist["modules"][top]
    drivers: dict[int, tuple[int, list[int]]] = {}  # bit -> (weight, input bits) of the combinational driver
    for cell in module["cells"].values():
        ctype = cell["type"].lstrip("\\$")
        if ctype.startswith(SEQUENTIAL_PREFIXES):
            continue
        dirs = cell.get("port_directions", {})
        ins = [b for p, bits in cell["connections"].items() if dirs.get(p) == "input" for b in bits if isinstance(b, int)]
        weight = 1 if ctype.startswith("LUT") else 0
        for p, bits in cell["connections"].items():
            if dirs.get(p) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drivers[b] = (weight, ins)

    level: dict[int, int] = {}

    def depth(bit: int) -> int:
        # iterative post-order: carry chains make recursion too deep
        stack, entered = [bit], set()
        while stack:
            b = stack[-1]
            if b in level:
                stack.pop()
                continue
            if b not in drivers:
                level[b] = 0
                stack.pop()
                continue
            w, ins = drivers[b]
            todo = [i for i in ins if i not in level and i not in entered]
            if todo and b not in entered:
                entered.add(b)
                stack.extend(todo)
                continue
            level[b] = w + max((level.get(i, 0) for i in ins), default=0)
            stack.pop()
        return level[bit]

    return max((depth(b) for b in drivers), default=0)


def _script(sources: list[str], top: str, family: str, defines: dict, params: dict, json_path: str,
            stat_path: str) -> list[str]:
    dflags = " ".join(f"-D{k}={v}" for k, v in sorted(defines.items()))
    cmds = [f"read_verilog {dflags} {f}" for f in sources]
    cmds += [f"chparam -set {k} {v} {top}" for k, v in sorted(params.items())]
    cmds += [f"synth_xilinx -family {family} -top {top} -flatten",
             f"tee -q -o {stat_path} stat -json",
             f"write_json {json_path}"]
    return cmds


def synth_key(verilog_files: list[Path], top: str, family: str = "xc7", defines: dict | None = None,
              params: dict | None = None) -> str:
    """Content key of one synthesis result: the Verilog (names and contents), the script run on it,
    the Yosys version and this module's source (which turns the netlist into the record)."""
    from flows.content_key import ContentKey

    files = [Path(f) for f in verilog_files]
    # the script with the paths of this run replaced by what they stand for
    commands = _script([f"<source {i}: {f.name}>" for i, f in enumerate(files)], top, family, defines or {},
                       params or {}, "<netlist>", "<stat>")
    return (ContentKey("yosys synth_xilinx").text("script", commands).files(files).file(Path(__file__))
            .tools("yosys").hexdigest())


def _worker(job_path: str) -> None:
    """Runs inside the subprocess: execute the Yosys script of a job file."""
    from pyosys import libyosys as ys

    job = json.loads(Path(job_path).read_text())
    design = ys.Design()
    for cmd in job["commands"]:
        ys.run_pass(cmd, design)


def synth_xilinx(verilog_files: list[Path], top: str, family: str = "xc7", defines: dict | None = None,
                 params: dict | None = None, log_path: Path | None = None, work_dir: Path | None = None,
                 timeout: float | None = None) -> ResourceRecord:
    """Synthesise with Yosys ``synth_xilinx`` and count resources of the flattened top."""
    files = [Path(f) for f in verilog_files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"Verilog source(s) {', '.join(missing)} do not exist; generate them first")
    work = Path(work_dir or (Path(log_path).parent if log_path else Path("build/yosys") / top)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_path or work / f"{top}.yosys.log").resolve()
    json_path, stat_path, job_path = work / f"{top}.netlist.json", work / f"{top}.stat.json", work / f"{top}.job.json"
    commands = _script([str(f.resolve()) for f in files], top, family, defines or {}, params or {},
                       str(json_path), str(stat_path))
    job_path.write_text(json.dumps({"commands": commands}))
    start = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable, "-c", f"from flows.yosys import _worker; _worker({str(job_path)!r})"],
                              stdout=log, stderr=subprocess.STDOUT, timeout=timeout, cwd=work)
    seconds = time.time() - start
    if proc.returncode != 0 or not stat_path.is_file():
        raise YosysError(f"Yosys synthesis of {top} failed (exit {proc.returncode}); see {log_path}")
    stat = json.loads(stat_path.read_text())
    cells = _top_cells(stat, top)
    netlist = json.loads(json_path.read_text())
    return ResourceRecord(**count_resources(cells), lut_levels=lut_levels(netlist, top), seconds=round(seconds, 2))


def _top_cells(stat: dict, top: str) -> dict[str, int]:
    modules = stat.get("modules", {})
    for name in (top, "\\" + top):
        if name in modules:
            return modules[name].get("num_cells_by_type", {})
    if "design" in stat:
        return stat["design"].get("num_cells_by_type", {})
    raise YosysError(f"no statistics for module {top} in the Yosys output")
