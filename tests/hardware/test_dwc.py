"""Width converters (hardware/dwc): gather and split against numpy under random stalls, both round trips."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.dwc import StreamGather, StreamSplit
from hardware.primitive import Primitive, PrimitiveParameterError
from sim.hardware.run import run_primitive_tb


def bits_of(codes: np.ndarray, width: int) -> np.ndarray:
    """(n,) codes -> (n, width) bits, least significant first."""
    return (np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(width)) & 1


def word_of(bits: np.ndarray) -> int:
    return int(sum(int(b) << i for i, b in enumerate(bits)))


def numpy_gather(frames: list[np.ndarray], width: int, n: int, aligned: bool) -> list[tuple[int, int, int]]:
    """Expected (tdata, tkeep, tlast) per wide beat: each frame cut into groups of n pieces, a group's
    bit vectors laid end to end (piece 0 lowest), a short last group zero-filled (ALIGNED: never short)."""
    beats = []
    for frame in frames:
        for start in range(0, len(frame), n):
            group = frame[start:start + n]
            bits = np.zeros((n, width), dtype=np.int64)
            bits[:len(group)] = bits_of(group, width)
            keep = (1 << n) - 1 if aligned else (1 << len(group)) - 1
            beats.append((word_of(bits.reshape(-1)), keep, int(start + n >= len(frame))))
    return beats


def numpy_split(words: list[int], keeps: list[int], lasts: list[int], width: int, n: int) -> list[tuple[int, int]]:
    """Expected (tdata, tlast) per narrow beat: the kept W-bit fields of each wide word, low first."""
    beats = []
    for word, keep, last in zip(words, keeps, lasts):
        bits = np.array([(word >> i) & 1 for i in range(n * width)]).reshape(n, width)
        kept = bin(keep).count("1")
        for j in range(kept):
            beats.append((word_of(bits[j]), int(bool(last) and j == kept - 1)))
    return beats


def vectors(tmp_path, width: int, n: int, frames: int, multiple_of: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5 * n, frames) * multiple_of
    if multiple_of == 1:
        lengths[:3] = [n, 1, 2 * n + 1]  # whole, short, and one past a group
    pieces = rng.integers(0, 1 << width, int(lengths.sum()))
    path = tmp_path / "vectors.npz"
    np.savez(path, pieces=pieces, lengths=lengths)
    return path, np.split(pieces, np.cumsum(lengths)[:-1])


def run(tmp_path, prim: Primitive, path, n: int, **env) -> dict:
    env = {"TB_VECTORS": path, "TB_PIECES": n, "TB_TOP": prim.top, **env}
    return run_primitive_tb(prim, "tb_dwc", tmp_path / "sim", env=env)


def run_round_trips(tmp_path, width: int, n: int, path, **env) -> dict:
    """Both chains of sim/hardware/dwc_roundtrip_tb.v (gather -> split, split -> gather)."""
    env = {"TB_VECTORS": path, "TB_PIECES": n, "TB_TOP": "dwc_roundtrip_tb", **env}
    return run_primitive_tb(StreamGather(width, n), "tb_dwc", tmp_path / "sim", env=env,
                            toplevel="dwc_roundtrip_tb", wrapper="dwc_roundtrip_tb.v",
                            parameters={"W": width, "N": n}, others=(StreamSplit(width, n),))


@pytest.mark.parametrize("width, n, aligned", [(8, 4, False), (5, 3, False), (6, 2, True)])
def test_stream_gather_matches_numpy_under_stalls(tmp_path, width, n, aligned):
    path, frames = vectors(tmp_path, width, n, 40, multiple_of=n if aligned else 1, seed=n)
    gather = StreamGather(width, n, aligned)
    out = run(tmp_path, gather, path, n, TB_ALIGNED=int(aligned), TB_SEED=width)["alone"]
    got = list(zip(out["out"]["data"], out["out"]["keep"], out["out"]["last"]))
    want = numpy_gather(frames, width, n, aligned)
    assert len(got) == len(want) and got == want, f"first difference at wide beat " \
        f"{next(i for i, (g, w) in enumerate(zip(got + [None], want + [None])) if g != w)}"
    assert out["error"] == 0
    if width == 8:  # DMA packing: each wide word is 4 bytes of the frame, zero-padded, read little-endian
        padded = [np.pad(f.astype(np.uint8), (0, -len(f) % n)) for f in frames]
        assert [d for d, _, _ in got] == [int(w) for f in padded for w in f.view("<u4")]


@pytest.mark.parametrize("width, n", [(8, 4), (5, 3)])
def test_stream_split_matches_numpy_under_stalls(tmp_path, width, n):
    path, frames = vectors(tmp_path, width, n, 40, seed=10 + n)
    out = run(tmp_path, StreamSplit(width, n), path, n, TB_SEED=width)["alone"]
    want = numpy_split(out["in"]["data"], out["in"]["keep"], out["in"]["last"], width, n)
    got = list(zip(out["out"]["data"], out["out"]["last"]))
    assert got == want
    assert [int(p) for p in np.concatenate(frames)] == [d for d, _ in got]  # and the bus words held the frames


def test_split_and_gather_undo_each_other_both_ways(tmp_path):
    width, n = 7, 3
    path, frames = vectors(tmp_path, width, n, 60, seed=5)
    out = run_round_trips(tmp_path, width, n, path, TB_PAUSE=0.4, TB_LONGEST=6)
    assert {"gather_split", "split_gather"} <= set(out)  # both chains ran (frames are checked in the bench)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("width, n", [(1, 2), (8, 8), (12, 5)])
def test_dwc_round_trips_under_many_stall_patterns(tmp_path, width, n, seed):
    path, _ = vectors(tmp_path, width, n, 200, seed=seed)
    run_round_trips(tmp_path, width, n, path, TB_PAUSE=0.2 + 0.3 * seed, TB_LONGEST=2 + 5 * seed, TB_SEED=seed)


def test_converters_refuse_a_single_piece():
    with pytest.raises(PrimitiveParameterError, match=r"N=1 must be an integer >= 2"):
        StreamGather(8, 1)
    with pytest.raises(PrimitiveParameterError, match=r"N=1 must be an integer >= 2"):
        StreamSplit(8, 1)
