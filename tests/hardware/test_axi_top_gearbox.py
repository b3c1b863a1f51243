"""axis_gearbox on Icarus: DMA words unpacked into pipeline beats exactly as the packing rule says, for
beats narrower than, wider than and not dividing the word, several beats per frame, under random stalls."""
from __future__ import annotations

import json
import math
import random

import pytest

from hardware.axi_top.generate import LIBRARY
from sim.axi_top.simulate import TB_DIR
from sim.runner import run_cocotb


def _pack(samples: list[list[int]], beat_w: int, data_w: int) -> list[int]:
    """The packing rule, written from its text: beats of a sample back to back, cut into words, each
    sample starting on a fresh word."""
    words = []
    for beats in samples:
        bits = sum(b << (j * beat_w) for j, b in enumerate(beats))
        n = -(-len(beats) * beat_w // data_w)
        words += [(bits >> (w * data_w)) & ((1 << data_w) - 1) for w in range(n)]
    return words


@pytest.mark.parametrize("data_w,beat_w,frame_beats", [(64, 24, 5), (32, 448, 1), (64, 300, 3)])
def test_gearbox_unpacks_words_into_beats_under_random_stalls(tmp_path, data_w, beat_w, frame_beats):
    rng = random.Random(beat_w)
    samples = [[rng.getrandbits(beat_w) for _ in range(frame_beats)] for _ in range(12)]
    words = _pack(samples, beat_w, data_w)
    per_sample = -(-frame_beats * beat_w // data_w)
    assert len(words) == 12 * per_sample
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"words": [str(w) for w in words], "beats": [str(b) for s in samples for b in s],
                                "frame_beats": frame_beats, "data_w": data_w, "beat_w": beat_w,
                                "in_pause": 0.3, "out_pause": 0.4, "seed": 1}))
    params = {"DATA_W": data_w, "BEAT_W": beat_w, "UNIT_W": math.gcd(data_w, beat_w), "FRAME_BEATS": frame_beats,
              "WORDS": per_sample}
    run_cocotb([f for f in LIBRARY if f.name == "axis_gearbox.v"], "axis_gearbox", "tb_axis_gearbox", TB_DIR,
               tmp_path / "sim", simulator="icarus", parameters=params, extra_env={"TB_GEARBOX": spec})
