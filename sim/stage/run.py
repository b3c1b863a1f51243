"""Simulate a stage core (StageRtl) in cocotb against expected output codes."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.stage import StageRtl, pack, unpack
from sim.runner import CocotbFailure, run_cocotb

TB_DIR = Path(__file__).parent


@dataclass(frozen=True)
class FirstMismatch:
    """Where a core's output first differs from the expected codes."""

    vector: int                 # index into the streamed vectors (test samples first, then random inputs)
    output: str                 # port tensor name, e.g. "exit_logits"
    element: tuple[int, ...]    # index into that tensor (batch axis dropped)
    expected: int               # code
    got: int

    def describe(self, samples: int | None = None) -> str:
        """``samples``: how many of the vectors are test samples (the rest are random inputs)."""
        which = (f"test sample {self.vector}" if samples is None or self.vector < samples
                 else f"random input {self.vector - samples}")
        return (f"{which}, output {self.output!r} element {self.element}: expected code {self.expected}, "
                f"got {self.got}")


def first_mismatch(tensors, expected: list[np.ndarray], got: list[np.ndarray]) -> FirstMismatch | None:
    """The first vector (then the first output, then the first element) where ``got`` differs from
    ``expected``: per output tensor, (n, *shape) codes, as many vectors in both."""
    n = len(expected[0])
    flat = [(t, np.asarray(e).reshape(n, -1), np.asarray(g).reshape(n, -1)) for t, e, g in zip(tensors, expected, got)]
    for i in range(n):
        for t, e, g in flat:
            bad = np.flatnonzero(e[i] != g[i])
            if bad.size:
                j = int(bad[0])
                element = tuple(int(v) for v in np.unravel_index(j, t.shape))
                return FirstMismatch(i, t.name, element, int(e[i, j]), int(g[i, j]))
    return None


def run_stage_bench(sources: list, top: str, build_dir: Path, simulator: str, env: dict, result_file: Path,
                    **options) -> None:
    """tb_stage through run_cocotb. Outputs that differ from the expected ones are a finding the caller
    reports (the bench wrote result.json and the outputs), not an exception; any other failure raises."""
    try:
        run_cocotb(sources, top, "tb_stage", TB_DIR, build_dir, simulator=simulator, extra_env=env, **options)
    except CocotbFailure:
        if not (result_file.is_file() and json.loads(result_file.read_text())["mismatches"]):
            raise


@dataclass
class StageSimResult:
    vectors: int
    mismatches: int  # output words that differ
    max_abs_diff: list[int]  # per output tensor, in codes
    cycles: int
    sim_seconds: float  # wall time of the streaming phase
    total_seconds: float  # build (Verilator compile) + simulation
    outputs: list[np.ndarray]
    first_mismatch: FirstMismatch | None = None

    @property
    def bit_exact(self) -> bool:
        return self.mismatches == 0 and all(d == 0 for d in self.max_abs_diff)

    @property
    def samples_per_second(self) -> float:
        return self.vectors / self.sim_seconds if self.sim_seconds else 0.0


# A fully parallel core is 10^4..10^5 generated adders; g++ -Os on that C++ takes tens of
# minutes on 2 cores, -O0 a fraction of it, and cocotb's per-cycle overhead dominates either way.
VERILATOR_CXX_OPT = "-O0"


@contextmanager
def _verilator_cxx_opt(opt: str):
    """Override the model's g++ optimisation for this build (make reads MAKEFLAGS assignments)."""
    old = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = f"{old or ''} OPT_FAST={opt} OPT_SLOW={opt}".strip()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


def _as_bytes(words: list[int], width: int) -> np.ndarray:
    nbytes = (width + 7) // 8
    return np.array([np.frombuffer(w.to_bytes(nbytes, "little"), dtype=np.uint8) for w in words])


def simulate_stage(rtl: StageRtl, x_codes: np.ndarray, expected: list[np.ndarray], build_dir: Path,
                   simulator: str = "verilator", in_pause: float = 0.0, out_pause: float = 0.0,
                   seed: int = 1) -> StageSimResult:
    """Stream ``x_codes`` (n, *input.shape) through the core; compare with ``expected`` codes."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    in_words = pack([rtl.input], [x_codes])
    want_words = pack(rtl.outputs, expected)
    vectors = build_dir / "vectors.npz"
    np.savez(vectors, inputs=_as_bytes(in_words, rtl.in_width), expected=_as_bytes(want_words, rtl.out_width))
    out_file, result_file = build_dir / "outputs.npz", build_dir / "result.json"
    for stale in (out_file, result_file):
        stale.unlink(missing_ok=True)
    env = {"TB_VECTORS": vectors, "TB_OUTPUT": out_file, "TB_RESULT": result_file,
           "TB_IN_PAUSE": in_pause, "TB_OUT_PAUSE": out_pause, "TB_SEED": seed, "TB_LATENCY": rtl.latency_cycles}
    sources, build_args = list(rtl.verilog_files), []
    if simulator == "verilator":
        # cocotb's runner makes every signal VPI-visible (--public-flat-rw); for a core of ~10^4
        # adders that multiplies the generated C++ and its compile time. Only the top ports are needed.
        control = build_dir / "public_ports.vlt"
        control.write_text(f'`verilator_config\npublic_flat_rw -module "{rtl.top}" -var "*"\n')
        sources.insert(0, control)  # the runner reads the language from the last source
        build_args.append("--no-public-flat-rw")
    start = time.perf_counter()
    try:
        with _verilator_cxx_opt(VERILATOR_CXX_OPT):
            run_stage_bench(sources, rtl.top, build_dir / simulator, simulator, env, result_file,
                            build_args=build_args)
    finally:
        total = time.perf_counter() - start
    result = json.loads(result_file.read_text())
    raw = np.load(out_file)["outputs"]
    got = unpack(rtl.outputs, [int.from_bytes(row.tobytes(), "little") for row in raw])
    diffs = [int(np.max(np.abs(g - np.asarray(e)))) if g.size else 0 for g, e in zip(got, expected)]
    return StageSimResult(result["vectors"], result["mismatches"], diffs, result["cycles"],
                          result["wall_seconds"], total, got, first_mismatch(rtl.outputs, expected, got))
