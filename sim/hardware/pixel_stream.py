"""Stream frames of codes through a pixel-stream core in cocotb (tb_pixel_stream.py) and get codes back.

A beat is a vector of element codes (one format per side), element e at bits [e*W +: W]
(hardware/README.md); a frame is a sequence of beats ending with tlast. ``pixel_beats`` cuts
(n, H, W, C) images into P-pixel beats; the caller reshapes the output beats it expects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat
from hardware.stage.packing import PortTensor, pack, unpack
from sim.runner import run_cocotb

TB_DIR = Path(__file__).parent


@dataclass
class StreamRun:
    outputs: np.ndarray            # (frames, beats, out_elements) codes as received; (beats, out_elements)
                                   # when frames differ in beat count
    beats_per_frame: list[int]     # output beats between tlasts
    tlast_cycles: list[int]        # clock edge (after reset) of each output tlast beat
    input_cycles: list[int]        # clock edge of each input beat taken
    wall_seconds: float

    @property
    def frame_periods(self) -> list[int]:
        """Cycles between consecutive output tlasts."""
        return list(np.diff(self.tlast_cycles))


def pixel_beats(images: np.ndarray, parallelism: int = 1) -> np.ndarray:
    """(n, H, W, C) codes -> (n, H*W/P, P*C) beats in raster order (the pixel-stream convention)."""
    n, h, w, c = images.shape
    if (h * w) % parallelism:
        raise ValueError(f"{h}x{w} pixels do not split into beats of {parallelism}")
    return np.asarray(images).reshape(n, h * w // parallelism, parallelism * c)


def _as_bytes(words: list[int], width: int) -> np.ndarray:
    nbytes = (width + 7) // 8
    return np.array([np.frombuffer(w.to_bytes(nbytes, "little"), dtype=np.uint8) for w in words])


def stream_frames(verilog_files: list[Path], top: str, beats: np.ndarray, in_fmt: FixedFormat,
                  out_elements: int, out_fmt: FixedFormat, frames_out: int, build_dir: Path,
                  simulator: str = "icarus", parameters: dict | None = None, in_pause: float = 0.0,
                  out_pause: float = 0.0, seed: int = 1, free_frames: int = 0, build: bool = True) -> StreamRun:
    """Send ``beats`` (frames, beats, in_elements) codes back to back, wait for ``frames_out`` output frames.

    Idle input cycles (``in_pause``) and back-pressure (``out_pause``) start once ``free_frames`` output
    frames have arrived without stalls (so their ``frame_periods`` are the core's own).
    ``build=False`` reuses the simulator built by an earlier call with the same ``build_dir``.
    """
    beats = np.asarray(beats)
    n, per_frame, in_elements = beats.shape
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    in_port = PortTensor("beat", (in_elements,), in_fmt)
    out_port = PortTensor("beat", (out_elements,), out_fmt)
    words = _as_bytes(pack([in_port], [beats.reshape(n * per_frame, in_elements)]), in_port.bits)
    vectors, out_file, result_file = build_dir / "vectors.npz", build_dir / "beats.npz", build_dir / "result.json"
    np.savez(vectors, inputs=words.reshape(n, per_frame, -1))
    for stale in (out_file, result_file):
        stale.unlink(missing_ok=True)
    env = {"TB_VECTORS": vectors, "TB_OUTPUT": out_file, "TB_RESULT": result_file, "TB_FRAMES_OUT": frames_out,
           "TB_OUT_BYTES": (out_port.bits + 7) // 8, "TB_IN_PAUSE": in_pause, "TB_OUT_PAUSE": out_pause,
           "TB_SEED": seed, "TB_FREE_FRAMES": free_frames}
    run_cocotb(list(verilog_files), top, "tb_pixel_stream", TB_DIR, build_dir / simulator, simulator=simulator,
               parameters=parameters, extra_env=env, build=build)
    result = json.loads(result_file.read_text())
    raw = np.load(out_file)["beats"]
    codes = unpack([out_port], [int.from_bytes(row.tobytes(), "little") for row in raw])[0]
    counts = result["beats_per_frame"]
    if len(set(counts)) == 1:
        codes = codes.reshape(len(counts), counts[0], out_elements)
    return StreamRun(codes, counts, result["tlast_cycles"], result["input_cycles"], result["wall_seconds"])
