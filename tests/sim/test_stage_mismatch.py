"""A stage core that differs from its QKeras stage is a finding named on one line (first differing
sample, output, element, expected and got codes), not a cocotb assertion traceback; so is a pipeline
result that differs from the software model."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hardware.stage.packing import PortTensor
from frontend.fixedpoint import FixedFormat
from sim.stage.run import first_mismatch

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

TENSORS = [PortTensor("exit_logits", (3,), FixedFormat(8, 2, True)), PortTensor("forwarded", (2, 2), FixedFormat(4, 1))]


def test_first_mismatch_is_the_first_sample_then_output_then_element():
    rng = np.random.default_rng(0)
    want = [rng.integers(-50, 50, (6, 3)), rng.integers(0, 15, (6, 2, 2))]
    got = [w.copy() for w in want]
    got[1][4, 1, 0] += 1          # sample 4, second output, element (1, 0)
    got[0][5, 2] -= 3             # a later sample does not count
    m = first_mismatch(TENSORS, want, got)
    assert (m.vector, m.output, m.element, m.expected, m.got) == (4, "forwarded", (1, 0), want[1][4, 1, 0],
                                                                  want[1][4, 1, 0] + 1)
    assert m.describe(samples=3) == (f"random input 1, output 'forwarded' element (1, 0): expected code "
                                     f"{want[1][4, 1, 0]}, got {want[1][4, 1, 0] + 1}")
    got[0][4, 0] += 1             # same sample, earlier output: that one is named
    assert first_mismatch(TENSORS, want, got).output == "exit_logits"
    assert first_mismatch(TENSORS, want, [w.copy() for w in want]) is None


def tiny_stage(seed: int):
    inp = keras.Input((6,))
    x = qk.QActivation("quantized_relu(6,1)")(inp)
    fwd = qk.QDense(4, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                    activation="quantized_relu(5,2)", name="fwd",
                    kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=11))(x)
    h = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=seed), name="head")(fwd)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(h)
    return keras.Model(inp, [logits, fwd])


def test_a_core_that_differs_from_its_stage_is_named_without_a_cocotb_traceback(tmp_path):
    """The core is built from one model and checked against another whose exit head differs."""
    from hardware.stage import build_stage_rtl
    from sim.stage.verify import verify_stage

    built, other = tiny_stage(seed=12), tiny_stage(seed=99)
    rtl = build_stage_rtl(built, None, tmp_path / "rtl", "tiny")
    fmt = rtl.input_format
    x = np.random.default_rng(3).integers(fmt.min_code, fmt.max_code + 1, size=(40, 6))
    check = verify_stage(other, rtl, x, n_random=8, build_dir=tmp_path / "sim", simulator="icarus")
    assert not check.bit_exact

    # independent reference: the two QKeras models' own codes, first (sample, element) where they part
    def codes(model, inputs):
        ys = model.predict(fmt.to_real(inputs).astype(np.float32), verbose=0)
        return [t.fmt.to_codes(y) for t, y in zip(rtl.outputs, ys)]

    inputs = np.concatenate([x, check_random(rtl, 8)])
    a, b = codes(built, inputs), codes(other, inputs)
    assert np.array_equal(a[1], b[1]), "only the head differs"
    i, j = np.argwhere(a[0] != b[0])[0]
    m = check.sim.first_mismatch
    assert (m.vector, m.output, m.element, m.expected, m.got) == (i, "logits", (j,), b[0][i, j], a[0][i, j])
    line = check.mismatch()
    assert "\n" not in line and f"test sample {i}, output 'logits' element ({j},)" in line
    assert f"expected code {b[0][i, j]}, got {a[0][i, j]}" in line
    assert f"{check.sim.mismatches} of 48 vectors differ" in line


def check_random(rtl, n):
    from sim.stage.verify import random_codes

    return random_codes(rtl.input_format, rtl.input.shape, n, seed=0)   # what verify_stage appends (seed 0)


def test_build_stage_cores_turns_a_mismatch_into_one_verification_line(tmp_path, monkeypatch):
    import sim.stage.verify as verify
    from flows.errors import VerificationFailed
    from flows.report import StageRecord
    from flows.synth import build_stage_cores
    from sim.stage.run import FirstMismatch, StageSimResult

    sim = StageSimResult(vectors=370, mismatches=2, max_abs_diff=[1], cycles=400, sim_seconds=1.0, total_seconds=2.0,
                         outputs=[], first_mismatch=FirstMismatch(17, "exit_logits", (3,), 12, 13))
    check = verify.StageVerification(360, 10, [0], sim)
    rtl = SimpleNamespace(latency_cycles=5, verilog_files=[tmp_path / "stage_1" / "rtl" / "core.v"], fits=True)
    monkeypatch.setattr(verify, "build_and_verify_chain", lambda *a, **k: [(rtl, check)])
    build = SimpleNamespace(
        flow="open", point=None, options=SimpleNamespace(rtl=True, rtl_random_vectors=10, simulator="icarus", io_type="io_parallel"),
        console=SimpleNamespace(status=lambda text: _Nothing()), stages=[SimpleNamespace(model=SimpleNamespace(input_shape=(None, 8)))],
        dataset=SimpleNamespace(x_test=np.zeros((360, 8))), out_dir=tmp_path,
        board=SimpleNamespace(name="b", resources={"lut": 1}), notes=[],
        stage_records=[StageRecord(index=1, input_shape=[8], outputs=["exit_logits"], macs=1)])
    with pytest.raises(VerificationFailed) as err:
        build_stage_cores(build)
    (line,) = err.value.lines()
    assert line.startswith("stage 1 RTL differs from its QKeras stage: RTL simulation first differs at test sample "
                           "17, output 'exit_logits' element (3,): expected code 12, got 13 (2 of 370 vectors differ)")


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_pipeline_analysis_names_the_first_differing_lost_or_duplicated_sample(tmp_path):
    from sim.pipeline.simulate import analyse

    # each output beat carries one result; the fake decoder maps beat k to the k-th result dict
    def run(results: list[tuple[int, int, int]], n: int = 4) -> str | None:
        rtl = SimpleNamespace(decode=lambda beat: [dict(zip(("id", "exit", "class"), results[beat]))],
                              params=SimpleNamespace(id_width=16))
        np.savez(tmp_path / "s.npz", words=np.arange(len(results)), first_valid=np.arange(len(results)) + 10,
                 handshake=np.arange(len(results)) + 10, accepted=np.arange(n), source_idle=np.zeros(0, int))
        (tmp_path / "s.json").write_text(json.dumps({"cycles": 30, "wall_seconds": 0.1}))
        return analyse("s", tmp_path, rtl, np.array([1, 2, 1, 1]), np.array([3, 4, 5, 6])).first_fault

    assert run([(0, 1, 3), (1, 2, 4), (2, 1, 5), (3, 1, 6)]) is None
    assert run([(0, 1, 3), (2, 1, 5), (1, 1, 9), (3, 1, 6)]) == "sample 1: exit expected 2, got 1, class expected 4, got 9"
    assert run([(0, 1, 3), (1, 2, 4), (3, 1, 6)]) == "sample 2 never left the pipeline (expected at exit 1, class 5)"
    assert run([(0, 1, 3), (1, 2, 4), (1, 2, 4), (2, 1, 5), (3, 1, 6)]) == "sample 1 left the pipeline 2 times"
