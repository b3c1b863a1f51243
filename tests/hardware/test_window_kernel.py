"""Window kernels (hardware/window_kernel) behind a sliding-window generator are bit-exact with QKeras/Keras layers."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

from frontend.fixedpoint import FixedFormat, qkeras_format  # noqa: E402
from hardware.swg import build_swg  # noqa: E402
from hardware.window_kernel import WindowKernelError, build_window_kernel  # noqa: E402
from hardware.window_kernel.chain import build_window_chain  # noqa: E402


def digits(size: int, n: int) -> np.ndarray:
    """sklearn digits /16 as (n, size, size, 1); 28x28 = each pixel repeated 3x3, then a 2-pixel zero border."""
    from sklearn.datasets import load_digits

    images = load_digits().images[:n] / 16.0
    if size == 28:
        images = np.pad(np.kron(images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2)))
    return images[..., None]


def qconv_model(in_shape, in_q: str, filters: int, kernel: int, strides: int, padding: str, kernel_q: str,
                bias_q: str | None, activation: str | None, out_q: str | None, seed: int):
    """Input quantiser -> QConv2D (its own activation or none) -> optional QActivation; outputs (xq, y)."""
    init = keras.initializers.RandomUniform(-1.0, 1.0, seed=seed)
    inp = keras.Input(in_shape)
    xq = qk.QActivation(in_q, name="in_q")(inp)
    y = qk.QConv2D(filters, kernel, strides=strides, padding=padding, kernel_quantizer=kernel_q,
                   bias_quantizer=bias_q, use_bias=bias_q is not None, activation=activation,
                   kernel_initializer=init, bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=seed + 1),
                   name="conv")(xq)
    if out_q is not None:
        y = qk.QActivation(out_q, name="out_q")(y)
    return keras.Model(inp, [xq, y])


def conv_chain(model, name: str, out_dir, parallelism: int = 1):
    """The SWG -> conv kernel chain of the model's QConv2D, weights from its quantisers."""
    conv = model.get_layer("conv")
    in_fmt = qkeras_format(model.get_layer("in_q").quantizer)
    kernel = np.asarray(conv.kernel_quantizer_internal(conv.kernel)).reshape(-1, conv.filters)
    bias = np.asarray(conv.bias_quantizer_internal(conv.bias)) if conv.use_bias else None
    quantizer = model.get_layer("out_q").quantizer if "out_q" in [l.name for l in model.layers] else conv.activation
    output = None
    if type(quantizer).__name__ in ("quantized_bits", "quantized_relu"):
        output = (qkeras_format(quantizer), type(quantizer).__name__ == "quantized_relu")
    swg = build_swg(tuple(conv.input_shape[1:]), in_fmt, conv.kernel_size, conv.strides, conv.padding, parallelism)
    kern = build_window_kernel(f"{name}_k", "conv", swg.window_shape, in_fmt, out_dir, parallelism, kernel, bias, output)
    return build_window_chain(name, swg, kern, out_dir)


def stream_chain(chain, x_codes: np.ndarray, tmp_path, free_frames: int = 2, pause: float = 0.3, seed: int = 1,
                 simulator: str = "icarus"):
    """All frames back to back (stalls on both sides after ``free_frames``); (n, out_h, out_w, C_out) codes."""
    from sim.hardware.pixel_stream import pixel_beats, stream_frames

    n = len(x_codes)
    run = stream_frames(chain.verilog_files, chain.top, pixel_beats(x_codes, chain.swg.parallelism), chain.in_format,
                        chain.out_elements, chain.out_format, n, tmp_path / "sim", simulator=simulator,
                        in_pause=pause, out_pause=pause, seed=seed, free_frames=free_frames)
    assert run.beats_per_frame == [chain.swg.out_beats] * n, "tlast is not on each frame's last pixel"
    assert run.frame_periods[:free_frames - 1] == [chain.frame_cycles] * (free_frames - 1)
    return run.outputs.reshape((n, *chain.out_shape))


def reference(model, x: np.ndarray):
    xq, y = model.predict(x.astype(np.float32), verbose=0)
    conv = model.get_layer("conv")
    last = model.layers[-1]
    quantizer = last.quantizer if last.name == "out_q" else conv.activation
    if type(quantizer).__name__ in ("quantized_bits", "quantized_relu"):
        out_fmt = qkeras_format(quantizer)
    else:  # exact accumulator: the chain's covering format, checked to hold QKeras's float32 values exactly
        out_fmt = None
    return qkeras_format(model.get_layer("in_q").quantizer).to_codes(xq), y, out_fmt


CONV_CASES = {  # name: (in_shape, in_q, filters, kernel, strides, padding, kernel_q, bias_q, activation, out_q, P)
    "k3_s1_same_relu": ((8, 8, 1), "quantized_bits(6,1,alpha=1)", 4, 3, 1, "same", "quantized_bits(4,1,alpha=1)",
                        "quantized_bits(5,2,alpha=1)", None, "quantized_relu(4,2)", 1),
    "k3_s2_same_bits_c2": ((8, 7, 2), "quantized_bits(5,1,alpha=1)", 3, 3, 2, "same", "quantized_bits(3,0,alpha=1)",
                           "quantized_bits(4,1,alpha=1)", "quantized_bits(6,2,alpha=1)", None, 1),
    "k5_valid_p2_exact": ((8, 8, 1), "quantized_bits(6,1,alpha=1)", 3, 5, 1, "valid", "quantized_bits(4,1,alpha=1)",
                          None, None, None, 2),
}


@pytest.mark.parametrize("name", CONV_CASES)
def test_conv_chain_matches_qconv2d_on_digits_and_random_codes(name, tmp_path):
    in_shape, in_q, filters, k, s, pad, kq, bq, act, out_q, p = CONV_CASES[name]
    model = qconv_model(in_shape, in_q, filters, k, s, pad, kq, bq, act, out_q, seed=len(name))
    rng = np.random.default_rng(7)
    real = digits(8, 3) if in_shape[2] == 1 else np.zeros((0, *in_shape))
    x = np.concatenate([real[:, :in_shape[0], :in_shape[1]], rng.uniform(-2.5, 2.5, (3, *in_shape))])
    x_codes, y, out_fmt = reference(model, x)
    chain = conv_chain(model, name, tmp_path / "rtl", p)
    if out_fmt is None:
        out_fmt = chain.out_format
    else:
        assert chain.out_format == out_fmt
    got = stream_chain(chain, x_codes, tmp_path)
    assert int(np.max(np.abs(got - out_fmt.to_codes(y)))) == 0


def pool_chain(kind: str, fmt: FixedFormat, in_shape, pool: int, stride: int, out_dir, name: str):
    swg = build_swg(in_shape, fmt, pool, stride, "valid")
    kernel = build_window_kernel(f"{name}_k", kind, swg.window_shape, fmt, out_dir)
    return build_window_chain(name, swg, kernel, out_dir)


@pytest.mark.parametrize("kind, pool, stride", [("max", 2, 2), ("max", 3, 1), ("avg", 2, 1)])
def test_pool_chain_matches_keras_pooling(kind, pool, stride, tmp_path):
    fmt = FixedFormat(5, 2, signed=True)
    in_shape = (7, 6, 3)
    codes = np.random.default_rng(pool * 10 + stride).integers(fmt.min_code, fmt.max_code + 1, (4, *in_shape))
    layer = (keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D)(pool, stride)
    want = np.asarray(layer(fmt.to_real(codes).astype(np.float32)))
    chain = pool_chain(kind, fmt, in_shape, pool, stride, tmp_path / "rtl", f"{kind}{pool}s{stride}")
    assert chain.out_format == (fmt if kind == "max" else FixedFormat(7, 4, signed=True))
    got = stream_chain(chain, codes, tmp_path)
    assert got.shape == want.shape
    assert int(np.max(np.abs(got - chain.out_format.to_codes(want)))) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "min"}, r"kind 'min' is not a window kernel"),
    ({"kind": "avg", "window": (3, 3, 1)}, r"avg window 3x3: pool area 9 is not a power of two"),
    ({"kind": "max", "kernel": np.zeros((4, 1))}, r"kind 'max' takes no kernel"),
    ({"kind": "conv"}, r"kind 'conv' needs a kernel"),
    ({"kind": "conv", "kernel": np.full((4, 2), 0.1)}, r"kernel values are not on a fixed-point grid"),
    ({"kind": "conv", "kernel": np.zeros((5, 2))}, r"kernel shape \(5, 2\) does not match window \(2, 2, 1\)"),
    ({"kind": "conv", "kernel": np.zeros((4, 2)), "bias": np.zeros(3)}, r"bias shape \(3,\) does not match"),
    ({"kind": "max", "name": "2bad"}, r"kernel name '2bad' is not a Verilog identifier"),
])
def test_bad_kernel_requests_are_rejected_in_one_line(kwargs, message, tmp_path):
    args = {"name": "k", "window": (2, 2, 1), "in_fmt": FixedFormat(4, 2), "out_dir": tmp_path} | kwargs
    with pytest.raises(WindowKernelError, match=message) as err:
        build_window_kernel(**args)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.iterdir()), "a rejected kernel wrote files"


def test_chain_rejects_a_kernel_for_other_windows(tmp_path):
    fmt = FixedFormat(4, 2)
    kernel = build_window_kernel("k", "max", (2, 2, 1), fmt, tmp_path)
    with pytest.raises(WindowKernelError, match=r"takes \(2, 2, 1\) windows .* the generator gives \(3, 3, 1\)"):
        build_window_chain("c", build_swg((6, 6, 1), fmt, 3), kernel, tmp_path)


def test_generated_modules_carry_the_kernel_name_so_two_kernels_share_a_design(tmp_path):
    import re

    fmt = FixedFormat(4, 2)
    a = build_window_kernel("ka", "max", (2, 2, 2), fmt, tmp_path / "a")
    b = build_window_kernel("kb", "conv", (2, 2, 2), fmt, tmp_path / "b", kernel=np.eye(8)[:, :2] * 0.5)
    shared = {f.name for f in a.verilog_files} & {f.name for f in b.verilog_files}
    modules = [re.findall(r"^module (\w+)", f.read_text(), re.M) for f in {*a.verilog_files, *b.verilog_files}]
    names = [m for ms in modules for m in ms]
    assert shared == {"pl_fifo.v", "stream_shell.v"}
    assert len(names) == len(set(names)), f"module defined twice: {names}"


LENET_CONV1 = ((28, 28, 1), "quantized_bits(8,1,alpha=1)", 6, 5, 1, "valid", "quantized_bits(4,0,alpha=1)",
               "quantized_bits(6,2,alpha=1)", None, "quantized_relu(4,2)")


@pytest.mark.slow
def test_lenet_conv1_chain_is_bit_exact_on_28x28_digits(tmp_path):
    """LeNet conv1 (28x28x1 8-bit, 5x5 valid, 6 filters, 4-bit weights, quantized_relu(4,2)) on Verilator."""
    model = qconv_model(*LENET_CONV1, seed=11)
    x = np.concatenate([digits(28, 6), np.random.default_rng(3).uniform(-2, 2, (4, 28, 28, 1))])
    x_codes, y, out_fmt = reference(model, x)
    chain = conv_chain(model, "lenet_conv1", tmp_path / "rtl")
    got = stream_chain(chain, x_codes, tmp_path, free_frames=3, simulator="verilator")
    assert int(np.max(np.abs(got - out_fmt.to_codes(y)))) == 0


@pytest.mark.slow
def test_lenet_conv1_chain_resources(tmp_path):
    """Yosys: the chain's line buffer is RAM; LUTs near da4ml's estimate of the kernel."""
    from flows.yosys import synth_xilinx

    chain = conv_chain(qconv_model(*LENET_CONV1, seed=11), "lenet_conv1", tmp_path / "rtl")
    rec = synth_xilinx(chain.verilog_files, chain.top, work_dir=tmp_path / "yosys")
    print(f"LeNet conv1 chain: {rec.lut} LUT ({rec.lut_as_memory} as memory), {rec.ff} FF, {rec.bram} BRAM, "
          f"{rec.dsp} DSP; da4ml kernel estimate {chain.kernel.lut_estimate:.0f} LUT")
    assert rec.lut_as_memory > 0 or rec.bram > 0
    assert rec.dsp == 0
    assert rec.ff < 25 * 8 + 4 * 8 + 64 + 2 * chain.kernel.lut_estimate  # window + read port + counters + pipeline
    assert 0.5 * chain.kernel.lut_estimate < rec.lut < 2 * chain.kernel.lut_estimate + 500


def test_kernel_alone_takes_a_beat_per_cycle_and_answers_after_its_latency(tmp_path):
    """P = 2 max kernel fed windows directly: per-channel maxima as numpy's; the last beat leaves latency + 1
    cycles after it entered, and frames of beats pass at one beat per cycle."""
    from sim.hardware.pixel_stream import stream_frames

    fmt = FixedFormat(4, 1, signed=True)
    kernel = build_window_kernel("max_p2", "max", (3, 2, 2), fmt, tmp_path / "rtl", parallelism=2)
    windows = np.random.default_rng(5).integers(fmt.min_code, fmt.max_code + 1, (3, 10, 2, 3 * 2 * 2))
    run = stream_frames(kernel.verilog_files, kernel.top, windows.reshape(3, 10, -1), fmt, kernel.out_elements,
                        kernel.out_format, 3, tmp_path / "sim")
    want = windows.reshape(3, 10, 2, 6, 2).max(axis=3)  # (frame, beat, window, cell, channel)
    assert np.array_equal(run.outputs.reshape(want.shape), want)
    last_in = [run.input_cycles[10 * f + 9] for f in range(3)]
    assert [t - i for t, i in zip(run.tlast_cycles, last_in)] == [kernel.latency_cycles + 1] * 3
    assert run.frame_periods == [10, 10]


def test_generated_chain_is_lint_clean(tmp_path):
    import subprocess

    from flows.tools import setup_verilator

    fmt = FixedFormat(4, 2)
    swg = build_swg((6, 6, 2), fmt, 3, 1, "valid", parallelism=2)
    kernel = build_window_kernel("lint_k", "conv", swg.window_shape, fmt, tmp_path, 2,
                                 kernel=np.arange(36).reshape(18, 2) / 16 - 1, bias=np.array([0.5, -0.25]),
                                 output=(FixedFormat(4, 1, False), True))
    chain = build_window_chain("lint_chain", swg, kernel, tmp_path)
    root = setup_verilator()
    proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", chain.top,
                           *map(str, chain.verilog_files)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
