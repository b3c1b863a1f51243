"""Sliding-window generator (hardware/swg): windows equal numpy's padded slices, at one position per cycle."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat
from hardware.swg import SWG_FILES, SWG_PARAMETERS, SwgConfigError, build_swg

FMT = FixedFormat(4, 1, signed=True)


def numpy_windows(images: np.ndarray, kernel, stride, pads) -> np.ndarray:
    """(n, H, W, C) -> (n, out_h, out_w, K_H*K_W*C): np.pad, then each window's slice flattened in C order."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr) = kernel, stride, pads
    x = np.pad(images, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out_h, out_w = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    return np.stack([np.stack([x[:, oh * sh:oh * sh + kh, ow * sw:ow * sw + kw, :].reshape(len(x), -1)
                               for ow in range(out_w)], axis=1) for oh in range(out_h)], axis=1)


def random_codes(shape, fmt: FixedFormat, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(fmt.min_code, fmt.max_code + 1, shape)


def run_swg(swg, tmp_path, free_frames: int = 3, stalled_frames: int = 3, pause: float = 0.3, seed: int = 3):
    """Random frames back to back: the first ``free_frames`` without stalls, then stalls on both sides.

    Checks every window against numpy, tlast on each frame's last window and the input beats taken;
    returns the run (its ``frame_periods[:free_frames - 1]`` are stall-free).
    """
    from sim.hardware.pixel_stream import pixel_beats, stream_frames

    frames = free_frames + stalled_frames
    images = random_codes((frames, *swg.in_shape), swg.fmt, seed)
    want = numpy_windows(images, swg.kernel, swg.stride, swg.padding)
    run = stream_frames(swg.verilog_files, swg.top, pixel_beats(images, swg.parallelism), swg.fmt,
                        swg.out_elements, swg.fmt, frames, tmp_path, parameters=swg.parameters,
                        in_pause=pause, out_pause=pause, seed=seed, free_frames=free_frames)
    assert run.beats_per_frame == [swg.out_beats] * frames, "tlast is not on each frame's last window"
    got = run.outputs.reshape(want.shape)
    bad = [i for i in range(frames) if not np.array_equal(got[i], want[i])]
    assert not bad, f"windows of frames {bad} differ from numpy (stalls from frame {free_frames} on)"
    assert len(run.input_cycles) == frames * swg.in_beats
    return run


GEOMETRIES = {  # name: (in_shape, kernel, stride, padding, P)
    "k3_s1_same": ((6, 7, 1), 3, 1, "same", 1),
    "k5_s1_valid_c2": ((7, 9, 2), 5, 1, "valid", 1),
    "k2_s2_valid_c3": ((6, 7, 3), 2, 2, "valid", 1),
    "k3_s2_same_asymmetric": ((8, 7, 1), 3, 2, "same", 1),   # rows pad (0, 1), columns (1, 1)
    "k1_c4": ((5, 4, 4), 1, 1, "valid", 1),
    "p2_k3_valid_c2": ((6, 8, 2), 3, 1, "valid", 2),
    "p2_k3_padded": ((5, 6, 1), 3, 1, (1, 1, 2, 2), 2),
    "p2_one_word_line_buffer": ((4, 2, 1), (3, 1), 1, "valid", 2),  # IN_W / P = 1: the register branch
}


@pytest.mark.parametrize("name", GEOMETRIES)
def test_windows_match_numpy_under_stalls_and_frames_take_exact_cycles(name, tmp_path):
    in_shape, kernel, stride, padding, p = GEOMETRIES[name]
    swg = build_swg(in_shape, FMT, kernel, stride, padding, parallelism=p)
    run = run_swg(swg, tmp_path)
    # no stalls: one padded position per cycle, P per beat, frames back to back without a bubble
    assert run.frame_periods[:2] == [swg.frame_cycles] * 2


def test_same_padding_is_tensorflows():
    swg = build_swg((8, 7, 1), FMT, 3, 2, "same")
    assert swg.padding == (0, 1, 1, 1) and swg.out_shape == (4, 4, 1)
    assert build_swg((28, 28, 1), FMT, 5, 1, "same").padding == (2, 2, 2, 2)


def test_frame_cycles_count_padded_positions():
    swg = build_swg((28, 28, 6), FMT, 5, 1, "same", parallelism=1)
    assert swg.frame_cycles == 32 * 32
    assert build_swg((28, 28, 1), FMT, 5, 1, "valid", parallelism=4).frame_cycles == 28 * 28 // 4


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel": 3, "stride": 2, "parallelism": 2}, r"parallelism 2 needs stride 1"),
    ({"kernel": 3, "padding": "same", "parallelism": 2}, r"left/right padding \(1, 1\)"),
    ({"kernel": 2, "parallelism": 2}, r"kernel width - 1 \(1\)"),
    ({"kernel": 9}, r"window 9x9 is larger than the padded image 8x8"),
    ({"kernel": 3, "padding": "full"}, r"padding 'full' is not supported"),
    ({"kernel": 0}, r"kernel must be a positive int"),
])
def test_bad_geometry_is_rejected_in_one_line(kwargs, message):
    with pytest.raises(SwgConfigError, match=message) as err:
        build_swg((8, 8, 1), FMT, **kwargs)
    assert "\n" not in str(err.value)


def test_parameter_names_are_those_of_the_verilog_module():
    text = SWG_FILES[0].read_text()
    header = text[text.index("module swg"):text.index(") (")]
    assert tuple(re.findall(r"parameter integer (\w+)", header)) == SWG_PARAMETERS


@pytest.mark.parametrize("name", ["k3_s1_same", "k2_s2_valid_c3", "k1_c4", "p2_k3_padded", "p2_one_word_line_buffer"])
def test_verilog_is_lint_clean(name):
    from flows.tools import setup_verilator

    in_shape, kernel, stride, padding, p = GEOMETRIES[name]
    swg = build_swg(in_shape, FMT, kernel, stride, padding, parallelism=p)
    root = setup_verilator()
    proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", swg.top,
                           *[f"-G{k}={v}" for k, v in swg.parameters.items()], *map(str, swg.verilog_files)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("in_shape, bits", [
    ((28, 28, 6), 4),
    pytest.param((28, 28, 1), 8, marks=pytest.mark.slow),  # also inside the LeNet conv1 chain's Yosys test
])
def test_line_buffer_is_ram_not_flip_flops(in_shape, bits, tmp_path):
    """Yosys maps the K_H-1 rows of a 5x5 window to LUTRAM/BRAM; flip-flops are the window, the read port
    and the counters."""
    from flows.yosys import synth_xilinx

    swg = build_swg(in_shape, FixedFormat(bits, 0, True), 5)
    rec = synth_xilinx(swg.verilog_files, swg.top, params=swg.parameters, work_dir=tmp_path)
    print(f"swg {in_shape} {bits}-bit 5x5: {rec.lut} LUT ({rec.lut_as_memory} as memory), {rec.ff} FF, "
          f"{rec.bram} BRAM")
    pixel = in_shape[2] * bits
    window, read_port, line_bits = 25 * pixel, 4 * pixel, 4 * 28 * pixel
    assert rec.lut_as_memory > 0 or rec.bram > 0, f"line buffer not mapped to RAM: {rec}"
    assert window + read_port <= rec.ff <= window + read_port + 64, f"{rec.ff} flip-flops: {rec}"
    assert rec.ff < window + line_bits  # the 4 rows (line_bits) are not in flip-flops


def _random_geometry(rng):
    p = int(rng.choice([1, 1, 2, 3]))
    k_h, k_w = int(rng.integers(1, 5)), 1 + p * int(rng.integers(0, 3)) if p > 1 else int(rng.integers(1, 5))
    s_h, s_w = (1, 1) if p > 1 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    pads = [int(rng.integers(0, 3)) for _ in range(2)] + [p * int(rng.integers(0, 2)) for _ in range(2)]
    h = max(int(rng.integers(1, 9)), k_h - pads[0] - pads[1])
    w = p * max(int(rng.integers(1, 9 // p + 1)), -(-(k_w - pads[2] - pads[3]) // p))
    return (h, w, int(rng.integers(1, 4))), (k_h, k_w), (s_h, s_w), tuple(pads), p


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(24))
def test_random_geometries_match_numpy(seed, tmp_path):
    in_shape, kernel, stride, pads, p = _random_geometry(np.random.default_rng(seed))
    swg = build_swg(in_shape, FixedFormat(3, 0, False), kernel, stride, pads, parallelism=p)
    run = run_swg(swg, tmp_path, seed=seed)
    assert run.frame_periods[:2] == [swg.frame_cycles] * 2
