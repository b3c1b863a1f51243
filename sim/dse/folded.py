"""Stream frames through a folded conv core (hardware/folded/folded.py) in cocotb; per-frame output codes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.folded.folded import FoldedConv
from hardware.stage.packing import pack
from sim.runner import run_cocotb

TB_DIR = Path(__file__).parent


@dataclass
class FoldedSimResult:
    outputs: np.ndarray      # (n, out_h, out_w, cout) codes
    beats_per_frame: int
    cycles: int              # from the first input beat offered to the last output beat


def simulate_folded_conv(core: FoldedConv, x_codes: np.ndarray, build_dir: Path, simulator: str = "icarus",
                         in_pause: float = 0.0, out_pause: float = 0.0, seed: int = 1) -> FoldedSimResult:
    """x_codes: (n, h, w, cin) input codes; returns the core's output codes per frame."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    in_bytes = (core.input.bits + 7) // 8
    out_bytes = (core.out_width + 7) // 8
    words = pack([core.input], [x_codes])
    vectors, out_file, result_file = build_dir / "vectors.npz", build_dir / "beats.npz", build_dir / "result.json"
    np.savez(vectors, inputs=np.array([np.frombuffer(w.to_bytes(in_bytes, "little"), dtype=np.uint8)
                                       for w in words]))
    for stale in (out_file, result_file):
        stale.unlink(missing_ok=True)
    env = {"TB_VECTORS": vectors, "TB_OUTPUT": out_file, "TB_RESULT": result_file, "TB_OUT_BYTES": out_bytes,
           "TB_IN_PAUSE": in_pause, "TB_OUT_PAUSE": out_pause, "TB_SEED": seed}
    run_cocotb(list(core.verilog_files), core.top, "tb_folded_conv", TB_DIR, build_dir / simulator,
               simulator=simulator, extra_env=env)
    result = json.loads(result_file.read_text())
    beats = np.load(out_file)["beats"]
    frames = [core.frame_codes([int.from_bytes(b.tobytes(), "little") for b in frame]) for frame in beats]
    return FoldedSimResult(np.stack(frames), result["beats_per_frame"], result["cycles"])


@dataclass
class FoldedStageSimResult:
    vectors: int
    mismatches: int
    max_abs_diff: list[int]   # per output tensor, in codes
    cycles: int               # whole stream, from the first input offered to the last output taken
    outputs: list[np.ndarray] | None = None  # per output tensor, (n, *shape) codes as received
    first_mismatch: object = None            # sim.stage.run.FirstMismatch, where the outputs first differ


def simulate_folded_stage(stage, x_codes: np.ndarray, expected: list[np.ndarray], build_dir: Path,
                          simulator: str = "icarus", in_pause: float = 0.0, out_pause: float = 0.0,
                          seed: int = 1) -> FoldedStageSimResult:
    """Stream ``x_codes`` through a FoldedStage with the stage bench of sim/stage (reference test only:
    a folded stage takes ``steps`` cycles per sample, so the II = 1 test does not apply)."""
    from hardware.stage.packing import unpack
    from sim.stage.run import first_mismatch, run_stage_bench

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)

    def as_bytes(words, width):
        nbytes = (width + 7) // 8
        return np.array([np.frombuffer(w.to_bytes(nbytes, "little"), dtype=np.uint8) for w in words])

    vectors, out_file, result_file = build_dir / "vectors.npz", build_dir / "outputs.npz", build_dir / "result.json"
    np.savez(vectors, inputs=as_bytes(pack([stage.input], [x_codes]), stage.in_width),
             expected=as_bytes(pack(stage.outputs, expected), stage.out_width))
    for stale in (out_file, result_file):
        stale.unlink(missing_ok=True)
    env = {"TB_VECTORS": vectors, "TB_OUTPUT": out_file, "TB_RESULT": result_file, "TB_IN_PAUSE": in_pause,
           "TB_OUT_PAUSE": out_pause, "TB_SEED": seed, "TB_LATENCY": stage.latency_cycles}
    run_stage_bench(list(stage.verilog_files), stage.top, build_dir / simulator, simulator, env, result_file,
                    testcase="stage_matches_reference")
    result = json.loads(result_file.read_text())
    raw = np.load(out_file)["outputs"]
    got = unpack(stage.outputs, [int.from_bytes(row.tobytes(), "little") for row in raw])
    diffs = [int(np.max(np.abs(g - np.asarray(e)))) if g.size else 0 for g, e in zip(got, expected)]
    return FoldedStageSimResult(result["vectors"], result["mismatches"], diffs, result["cycles"], got,
                                first_mismatch(stage.outputs, expected, got))
