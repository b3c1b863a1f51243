"""Stream vectors through a generated MVAU (hardware/mvau) in cocotb; its output codes, tlast and handshake cycles."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.mvau import MVAU
from sim.runner import run_cocotb

TB_DIR = Path(__file__).parent


@dataclass
class MVAUSimResult:
    outputs: np.ndarray      # (n, OUT) codes of the MVAU's out_fmt, in arrival order
    tlast: np.ndarray        # (n,) tlast of each output beat
    in_cycles: np.ndarray    # (n * BEATS,) clock cycle of each input handshake
    out_cycles: np.ndarray   # (n,) clock cycle of each output handshake


def _as_bytes(words: list[int], width: int) -> np.ndarray:
    nbytes = (width + 7) // 8
    return np.array([np.frombuffer(w.to_bytes(nbytes, "little"), dtype=np.uint8) for w in words])


def simulate_mvau(mvau: MVAU, x_codes: np.ndarray, build_dir: Path, tlast: np.ndarray | None = None,
                  simulator: str = "icarus", in_pause: float = 0.0, out_pause: float = 0.0, seed: int = 1,
                  sources: list[Path] | None = None, toplevel: str | None = None, out_hold: int = 0) -> MVAUSimResult:
    """x_codes: (n, VEC) input codes; tlast: (n * BEATS,) input tlast per beat (default: on each vector's
    last beat) and must end high. ``sources``/``toplevel`` replace the MVAU's own (e.g. a netlist of it);
    ``out_hold``: cycles of back-pressure before the first output beat is taken."""
    x_codes = np.asarray(x_codes).reshape(-1, mvau.vec)
    n = len(x_codes)
    if tlast is None:
        tlast = np.tile(np.arange(mvau.beats) == mvau.beats - 1, n)
    tlast = np.asarray(tlast, dtype=bool)
    if len(tlast) != n * mvau.beats or not tlast[-1]:
        raise ValueError(f"tlast needs {n * mvau.beats} flags (one per beat) ending high")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    vectors, out_file = build_dir / "vectors.npz", build_dir / "outputs.npz"
    np.savez(vectors, beats=_as_bytes(mvau.beat_words(x_codes), mvau.in_width), tlast=tlast)
    out_file.unlink(missing_ok=True)
    env = {"TB_VECTORS": vectors, "TB_OUTPUT": out_file, "TB_N_OUT": n, "TB_OUT_BYTES": (mvau.out_width + 7) // 8,
           "TB_IN_PAUSE": in_pause, "TB_OUT_PAUSE": out_pause, "TB_SEED": seed, "TB_OUT_HOLD": out_hold}
    run_cocotb(list(sources or mvau.files), toplevel or mvau.top, "tb_mvau", TB_DIR, build_dir / simulator,
               simulator=simulator, extra_env=env)
    got = np.load(out_file)
    words = [int.from_bytes(row.tobytes(), "little") for row in got["words"]]
    return MVAUSimResult(mvau.output_codes(words), got["tlast"], got["in_cycles"], got["out_cycles"])
