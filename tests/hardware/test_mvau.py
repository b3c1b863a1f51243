"""The matrix-vector unit (hardware/mvau) in cocotb against numpy and QKeras, under random stalls on both sides.

References are independent of the generator: integer codes drawn here, ``x @ W + b`` in numpy, quantised
with frontend.fixedpoint.FixedFormat.quantize; or a QKeras layer's own output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat

U4 = FixedFormat(4, 4, False)   # unsigned 4-bit inputs
S5 = FixedFormat(5, 3, True)    # signed 5-bit inputs


@dataclass(frozen=True)
class Case:
    vec: int
    out: int
    in_elems: int
    simd: int
    pe: int
    in_fmt: FixedFormat
    quantizer: tuple[FixedFormat, bool] | None
    multiplier: str = "lut"
    w_bits: int = 4        # signed weight codes in [-2**(w_bits-1), 2**(w_bits-1)), grid 2**-(w_bits-1)
    b_frac: int = 4        # bias grid; finer than the products' grid makes the product shift non-zero
    values: tuple[int, ...] | None = None   # weight codes drawn from this set (pow2 encodings), else all

    @property
    def id(self) -> str:
        q = "exact" if self.quantizer is None else f"{self.quantizer[0]}{'_relu' if self.quantizer[1] else ''}"
        w = f"w{self.w_bits}" if self.values is None else "w" + "".join(map(str, self.values))
        return f"v{self.vec}o{self.out}e{self.in_elems}_s{self.simd}p{self.pe}_{self.in_fmt}_{q}_{self.multiplier}_{w}"


CASES = [
    Case(12, 6, 4, 2, 3, U4, (FixedFormat(4, 2, False), True)),                   # 3 beats, SF=2, NF=2
    Case(12, 6, 12, 12, 6, S5, (FixedFormat(5, 2, True), False)),                 # fully parallel: 1 cycle/vector
    Case(8, 4, 4, 1, 1, S5, None, "dsp"),                                          # SIMD=PE=1, 2 beats, exact
    Case(24, 8, 8, 4, 2, U4, (FixedFormat(6, 3, True), True), "dsp"),              # 3 beats, SF=2, NF=4
    Case(16, 5, 4, 2, 5, S5, (FixedFormat(4, 1, True), False), w_bits=8),           # NF=1 with 4 beats, saturates
    Case(18, 8, 6, 6, 2, U4, (FixedFormat(5, 3, False), False), b_frac=10),        # SF=1, NF=4, bias finer
    Case(10, 4, 5, 5, 4, S5, (FixedFormat(6, 2, True), True), "dsp", w_bits=2),    # 2 beats, fully parallel dsp
    Case(12, 6, 6, 3, 2, S5, (FixedFormat(5, 2, True), False), values=(-1, 0, 1)),             # ternary (pow2)
    Case(16, 4, 8, 4, 2, U4, (FixedFormat(4, 2, False), True), values=(-4, -2, -1, 0, 1, 2, 4)),  # pow2
    Case(8, 4, 4, 2, 2, U4, None, values=(-1, 1)),                                            # binary (pow2)
    Case(12, 4, 6, 2, 2, FixedFormat(5, 0, True), (FixedFormat(8, 5, True), False), b_frac=2),  # output finer
]
POW2_CASES = [c for c in CASES if c.values]


def random_layer(case: Case, seed: int):
    """Weight and bias codes drawn on their grids, and the real values build_mvau takes."""
    rng = np.random.default_rng(seed)
    half = 1 << (case.w_bits - 1)
    w_codes = (rng.integers(-half, half, (case.vec, case.out)) if case.values is None
               else rng.choice(case.values, (case.vec, case.out)))
    b_codes = rng.integers(-(1 << (case.b_frac + 1)), 1 << (case.b_frac + 1), case.out)
    return w_codes, w_codes / half, b_codes, b_codes / 2.0**case.b_frac


def reference(case: Case, x_codes, w_codes, w_frac: int, b_codes, b_frac: int):
    """Real accumulator values x @ W + b (exact in float64 here) and, if quantised, the output codes."""
    acc = (x_codes @ w_codes) * 2.0**-(case.in_fmt.frac + w_frac) + b_codes * 2.0**-b_frac
    if case.quantizer is None:
        return acc, None
    fmt, relu = case.quantizer
    return acc, fmt.quantize(np.maximum(acc, 0.0) if relu else acc)


def build(case: Case, tmp_path, seed: int = 0):
    from hardware.mvau import build_mvau

    w_codes, kernel, b_codes, bias = random_layer(case, seed)
    mvau = build_mvau("mvau_t", tmp_path / "rtl", kernel, bias, case.in_fmt, case.in_elems, case.quantizer,
                      case.simd, case.pe, case.multiplier)
    return mvau, (w_codes, case.w_bits - 1, b_codes, case.b_frac)


def check_outputs(case: Case, mvau, x, layer, outputs) -> None:
    acc, want = reference(case, x, *layer)
    if want is None:
        assert mvau.out_fmt == mvau.acc_fmt
        np.testing.assert_array_equal(mvau.out_fmt.to_real(outputs), acc)
    else:
        assert int(np.max(np.abs(outputs - want))) == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_mvau_matches_numpy_under_random_stalls(case, tmp_path):
    from sim.hardware.mvau import simulate_mvau

    mvau, layer = build(case, tmp_path)
    rng = np.random.default_rng(1)
    x = rng.integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (24, case.vec))
    hi, lo = case.in_fmt.max_code, case.in_fmt.min_code
    w0 = layer[0][:, 0]   # the extremes the accumulator is sized for: output 0 at its maximum and minimum
    x[:4] = [np.where(w0 > 0, hi, lo), np.where(w0 > 0, lo, hi), np.full(case.vec, hi), np.full(case.vec, lo)]
    res = simulate_mvau(mvau, x, tmp_path / "stalls", in_pause=0.3, out_pause=0.4, seed=7)
    check_outputs(case, mvau, x, layer, res.outputs)
    assert res.tlast.all() and len(res.outputs) == len(x)
    assert mvau.weight_encoding == ("pow2" if case.values and case.multiplier == "lut" else "twos")


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[2], CASES[5]], ids=lambda c: c.id)
def test_mvau_takes_beats_times_folds_cycles_per_vector_back_to_back(case, tmp_path):
    """No stalls: output beats BEATS * (IN_ELEMS/SIMD) * (OUT/PE) cycles apart (no bubble between vectors),
    each latency_cycles after its vector's last input beat."""
    from sim.hardware.mvau import simulate_mvau

    mvau, layer = build(case, tmp_path)
    folds = (case.in_elems // case.simd) * (case.out // case.pe)
    assert mvau.cycles_per_vector == (case.vec // case.in_elems) * folds
    x = np.random.default_rng(2).integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (40, case.vec))
    res = simulate_mvau(mvau, x, tmp_path / "free")
    check_outputs(case, mvau, x, layer, res.outputs)
    assert set(np.diff(res.in_cycles)) == {folds}
    assert set(np.diff(res.out_cycles)) == {mvau.cycles_per_vector}
    last_beats = res.in_cycles[mvau.beats - 1::mvau.beats]
    assert set(res.out_cycles - last_beats) == {mvau.latency_cycles}
    assert mvau.latency_cycles - folds <= mvau.tree_stages + 4  # weight word, tree, accumulate, quantise


@pytest.mark.parametrize("case", [CASES[0], CASES[1]], ids=lambda c: c.id)
def test_mvau_takes_the_next_vector_while_a_result_waits_for_the_output(case, tmp_path):
    """Output held for 300 cycles: the whole next vector is accepted before the first result leaves
    (one result register, CASES[0]; a FIFO of 8, CASES[1], takes 8 more)."""
    from sim.hardware.mvau import simulate_mvau

    mvau, layer = build(case, tmp_path)
    x = np.random.default_rng(6).integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (12, case.vec))
    res = simulate_mvau(mvau, x, tmp_path / "sim", out_hold=300)
    check_outputs(case, mvau, x, layer, res.outputs)
    accepted = int(np.sum(res.in_cycles < res.out_cycles[0]))
    assert accepted >= (mvau.fifo_depth + 1) * mvau.beats
    assert res.out_cycles[0] > 290  # the hold counts from the clock start, the cycles from the end of reset


def test_mvau_passes_the_window_streams_frame_tlast(tmp_path):
    """A conv MVAU's output tlast is the tlast of the window stream (frame ends), not one per vector."""
    from sim.hardware.mvau import simulate_mvau

    case = CASES[1]
    mvau, layer = build(case, tmp_path)
    x = np.random.default_rng(3).integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (15, case.vec))
    tlast = np.arange(15) % 5 == 4   # frames of 5 windows
    res = simulate_mvau(mvau, x, tmp_path / "sim", tlast=tlast, in_pause=0.2, out_pause=0.2)
    np.testing.assert_array_equal(res.tlast, tlast)
    check_outputs(case, mvau, x, layer, res.outputs)


def test_mvau_rounds_ties_to_even_and_saturates_over_every_input_code(tmp_path):
    """One input, weight 1: y = x + b for all 256 codes, through a 3-fraction-bit quantiser (ties every 8)."""
    from hardware.mvau import build_mvau
    from sim.hardware.mvau import simulate_mvau

    in_fmt, out_fmt = FixedFormat(8, 4, True), FixedFormat(4, 1, True)
    x = np.arange(in_fmt.min_code, in_fmt.max_code + 1).reshape(-1, 1)
    for relu in (False, True):
        mvau = build_mvau(f"tie{int(relu)}", tmp_path / f"rtl{relu}", np.ones((1, 1)), np.array([0.0625]), in_fmt, 1,
                          (out_fmt, relu), 1, 1)
        res = simulate_mvau(mvau, x, tmp_path / f"sim{relu}", in_pause=0.1)
        y = x[:, 0] * in_fmt.lsb + 0.0625
        np.testing.assert_array_equal(res.outputs[:, 0], out_fmt.quantize(np.maximum(y, 0) if relu else y))


def test_mvau_rom_file_is_found_by_verilator(tmp_path):
    from sim.hardware.mvau import simulate_mvau

    case = CASES[3]
    mvau, layer = build(case, tmp_path)
    assert mvau.rom_depth > 1
    x = np.random.default_rng(4).integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (12, case.vec))
    res = simulate_mvau(mvau, x, tmp_path / "sim", simulator="verilator", in_pause=0.3, out_pause=0.3)
    check_outputs(case, mvau, x, layer, res.outputs)


def test_mvau_rom_file_is_found_by_yosys(tmp_path):
    """Yosys reads the $readmemh file: its generic netlist of the MVAU simulates bit-exact in Icarus."""
    import json
    import subprocess
    import sys

    from sim.hardware.mvau import simulate_mvau

    case = CASES[0]
    mvau, layer = build(case, tmp_path)
    netlist = tmp_path / "netlist.v"
    commands = [f"read_verilog {f}" for f in mvau.files]
    commands += [f"synth -flatten -top {mvau.top}", f"write_verilog -noattr {netlist}"]
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"commands": commands}))
    subprocess.run([sys.executable, "-c", f"from flows.yosys import _worker; _worker({str(job)!r})"], check=True,
                   cwd=tmp_path, stdout=subprocess.DEVNULL)
    text = netlist.read_text()
    assert "$readmemh" not in text  # the ROM became logic holding the file's contents
    netlist.write_text("`timescale 1ns / 1ps\n" + text)
    x = np.random.default_rng(5).integers(case.in_fmt.min_code, case.in_fmt.max_code + 1, (16, case.vec))
    res = simulate_mvau(mvau, x, tmp_path / "sim", in_pause=0.2, out_pause=0.2, sources=[netlist])
    check_outputs(case, mvau, x, layer, res.outputs)


def test_generated_mvau_is_clean_under_verilator_lint(tmp_path):
    """Every generated module (each multiplier, encoding, folding and result slot kind) passes -Wall."""
    import subprocess

    from flows.tools import setup_verilator

    root = setup_verilator()
    for k, case in enumerate(CASES):
        mvau, _ = build(case, tmp_path / str(k))
        lint = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", mvau.top,
                               *map(str, mvau.files)], capture_output=True, text=True)
        assert lint.returncode == 0, f"{case.id}: {lint.stderr[:2000]}"
    assert {build(c, tmp_path / "d")[0].fifo_depth for c in CASES[:2]} == {1, 8}  # a register and a FIFO


@pytest.mark.parametrize("change, message", [
    (dict(simd=4), r"simd=4 does not divide in_elems=6; use one of 1, 2, 3, 6"),
    (dict(pe=3), r"pe=3 does not divide OUT=4; use one of 1, 2, 4"),
    (dict(in_elems=5), r"in_elems=5 does not divide VEC=12"),
    (dict(multiplier="bram"), r"multiplier 'bram' is unknown; use 'lut' or 'dsp'"),
    (dict(kernel=np.full((12, 4), 0.1)), r"kernel value 0.1 at index \(0, 0\) is not on a fixed-point grid"),
    (dict(bias=np.zeros(3)), r"bias has shape \(3,\); it needs one value per output, shape \(4,\)"),
])
def test_mvau_rejects_bad_folding_or_values_in_one_line_and_writes_nothing(tmp_path, change, message):
    from hardware.mvau import MVAUConfigError, build_mvau

    args = dict(name="bad", out_dir=tmp_path / "rtl", kernel=np.full((12, 4), 0.5), bias=np.zeros(4), in_fmt=U4,
                in_elems=6, quantizer=(U4, True), simd=3, pe=2, multiplier="lut")
    args.update(change)
    with pytest.raises(MVAUConfigError, match=message) as err:
        build_mvau(**args)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "rtl").exists()
