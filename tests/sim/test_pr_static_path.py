"""The DFX static stream path: region results get the shared exit unit's decision appended, across a reconfiguration."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hardware.exit_unit.generate import write_unit
from exit_unit.reference import config_for_exit, decide
from hardware.pr.rm import write_stage_rm
from hardware.pr.static import StaticExitUnit, write_static_path
from frontend.fixedpoint import FixedFormat
from sim.runner import run_cocotb

ROOT = Path(__file__).resolve().parents[2]
TB_DIR = ROOT / "sim" / "pr"
IN_W, OUT_W, CLASSES, W = 176, 224, 10, 16      # stand-in core: result = input + 1, logits in the low 160 bits


def beats(value: int, bits: int) -> list[int]:
    return [(value >> (32 * i)) & 0xFFFFFFFF for i in range(-(-bits // 32))]


def test_exit_decision_is_appended_to_every_result_once(tmp_path):
    cfg = config_for_exit(CLASSES, FixedFormat(W, 9, True), "max_prob")
    unit = write_unit(cfg, "parallel", tmp_path / "eu")
    core = [TB_DIR / "stage_core_model.v", ROOT / "hardware" / "fifo" / "pl_fifo.v",
            ROOT / "hardware" / "stream_shell" / "stream_shell.v"]
    rm = write_stage_rm(1, "stage_core_model", IN_W, OUT_W, core, tmp_path / "rm",
                        core_params={"IN_W": IN_W, "OUT_W": OUT_W})
    static = write_static_path(tmp_path / "static", StaticExitUnit.from_generated(unit))

    rng = np.random.default_rng(4)
    n = 36
    codes = rng.integers(-1500, 1500, size=(n, CLASSES))
    codes[:, rng.integers(0, CLASSES, size=n)[0]] += 2500          # some confident rows
    high = rng.integers(0, 1 << 16, size=n)
    xs = [sum((int(c) & 0xFFFF) << (W * j) for j, c in enumerate(row)) | (int(h) << 160) for row, h in zip(codes, high)]
    ys = [(x + 1) % (1 << OUT_W) for x in xs]
    logits = np.array([[((y >> (W * j)) & 0xFFFF) - ((y >> (W * j + W - 1)) & 1) * (1 << W) for j in range(CLASSES)]
                       for y in ys])
    fmt = cfg.confidence_format
    thr0, thr1 = cfg.threshold_code(0.9), cfg.threshold_code(0.5)

    def expected(thr: int) -> np.ndarray:
        d = decide(cfg, logits, thr)
        words = [int(e) | (int(c) << 1) | (int(f) << (1 + cfg.class_bits))
                 for e, c, f in zip(d.exit, d.cls, d.confidence)]
        return np.array([beats(y, OUT_W) + [w] for y, w in zip(ys, words)], dtype=np.int64)

    out0, out1 = expected(thr0), expected(thr1)
    assert (out0[:, -1] & 1).any() and not (out0[:, -1] & 1).all()   # the vectors exercise both decisions
    assert fmt.width == StaticExitUnit.from_generated(unit).threshold_width
    vectors = tmp_path / "vectors.npz"
    np.savez(vectors, inputs=np.array([beats(x, IN_W) for x in xs], dtype=np.int64), outputs=out0, outputs1=out1,
             thr0=thr0, thr1=thr1)
    run_cocotb([*static, *rm], "pr_static_path", "tb_pr_static_path", TB_DIR, tmp_path / "sim", simulator="icarus",
               extra_env={"TB_VECTORS": vectors, "TB_STALL": 0.3})
