"""stream_pool: K x K stride-K max pooling on a P-pixel stream against Keras' MaxPooling2D, under stalls."""
from __future__ import annotations

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat

keras = pytest.importorskip("tensorflow").keras


@pytest.mark.parametrize("shape, pool, p, fmt", [
    ((4, 8, 3), 2, 4, FixedFormat(5, 2, signed=True)),     # P 4 -> 2, signed codes
    pytest.param((6, 6, 2), 3, 3, FixedFormat(4, 2, signed=False), marks=pytest.mark.slow),   # P 3 -> 1, 3x3
])
def test_stream_pool_matches_keras_maxpooling_under_stalls(shape, pool, p, fmt, tmp_path):
    from hardware.pool import StreamPool
    from sim.hardware.pixel_stream import pixel_beats, stream_frames

    codes = np.random.default_rng(p).integers(fmt.min_code, fmt.max_code + 1, (5, *shape))
    want = fmt.to_codes(np.asarray(keras.layers.MaxPooling2D(pool)(fmt.to_real(codes).astype(np.float32))))
    sp = StreamPool(shape, fmt.width, pool, p, fmt.signed)
    q = sp.out_parallelism
    run = stream_frames(sp.files, sp.top, pixel_beats(codes, p), fmt, q * shape[2], fmt, len(codes),
                        tmp_path / "sim", parameters=sp.parameters, in_pause=0.3, out_pause=0.3, free_frames=2)
    h, w, c = sp.out_shape
    assert run.beats_per_frame == [h * w // q] * len(codes), "tlast is not on each frame's last beat"
    assert run.frame_periods[0] == sp.frame_cycles          # one input beat per cycle while unstalled
    assert np.array_equal(run.outputs.reshape(want.shape), want)


@pytest.mark.slow
def test_stream_pool_synthesises_in_yosys_to_a_row_of_words(tmp_path):
    from flows.yosys import synth_xilinx
    from hardware.pool import StreamPool

    sp = StreamPool((24, 24, 6), 4, 2, 4)
    r = synth_xilinx(sp.files, sp.top, params=sp.parameters, work_dir=tmp_path)
    assert 0 < r.lut < 600 and r.ff < 100            # a row of 6 words of 2 pixels x 6 channels, no window


def test_a_p_stream_pool_cannot_take_is_refused_in_one_line():
    from hardware.pool import StreamPool
    from hardware.primitive import PrimitiveParameterError

    with pytest.raises(PrimitiveParameterError, match=r"P=3 must be a multiple of K=2") as info:
        StreamPool((24, 24, 6), 4, 2, 3)
    assert "\n" not in str(info.value)
