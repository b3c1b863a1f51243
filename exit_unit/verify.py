"""Test vectors for the exit unit and running them through its RTL in cocotb.

``rtl_decide`` is what the calibration check uses: (N, C) logit codes +
config + threshold code in, the decisions the simulated hardware made out.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.exit_unit.generate import GeneratedUnit, write_unit
from exit_unit.reference import Decision, ExitUnitConfig, confidence, decide

TB_DIR = Path(__file__).resolve().parents[1] / "sim" / "exit_unit"
TB_MODULE = "tb_exit_unit"


@dataclass
class VectorSet:
    logits: np.ndarray       # (N, C) codes
    thresholds: np.ndarray   # (B,) register codes, one per batch
    bounds: np.ndarray       # (B + 1,) row offsets of the batches


@dataclass
class SimResult:
    vectors_checked: int
    mismatches: int
    decisions: Decision


def exhaustive_vectors(cfg: ExitUnitConfig) -> np.ndarray:
    """Every combination of logit codes (small configurations only)."""
    count = (cfg.logit.max_code - cfg.logit.min_code + 1) ** cfg.classes
    if count > 1 << 20:
        raise ValueError(f"{count} combinations are too many for an exhaustive run; use random_vectors")
    codes = np.arange(cfg.logit.min_code, cfg.logit.max_code + 1)
    return np.array(list(itertools.product(codes, repeat=cfg.classes)), dtype=np.int64)


def corner_vectors(cfg: ExitUnitConfig) -> np.ndarray:
    """Ties, all-equal rows, extreme codes."""
    lo, hi, C = cfg.logit.min_code, cfg.logit.max_code, cfg.classes
    rows = [np.full(C, v) for v in (lo, hi, 0, lo + 1, hi - 1)]
    for i in range(C):
        r = np.full(C, lo); r[i] = hi; rows.append(r)
        r = np.full(C, hi); r[i] = lo; rows.append(r)
        for j in range(i + 1, C):  # two-way ties at the top, at every position pair
            r = np.full(C, lo); r[i] = r[j] = hi; rows.append(r)
            r = np.zeros(C, dtype=np.int64); r[i] = r[j] = 1; rows.append(r)
    rows.append(np.arange(C) % 2 * hi + (1 - np.arange(C) % 2) * lo)
    return np.array(rows, dtype=np.int64)


def random_vectors(cfg: ExitUnitConfig, n: int, seed: int = 0) -> np.ndarray:
    """Uniform codes, realistic logit spreads and near-ties, plus corner cases."""
    rng = np.random.default_rng(seed)
    fmt, C = cfg.logit, cfg.classes
    corners = corner_vectors(cfg)
    m = max(0, n - len(corners))
    parts = [rng.integers(fmt.min_code, fmt.max_code + 1, size=(m // 4, C))]
    for scale in (0.5, 2.0, 6.0):
        k = m // 4 if scale != 6.0 else m - 3 * (m // 4)
        parts.append(fmt.quantize(rng.normal(0.0, scale, size=(k, C)) + rng.normal(0, scale, (k, 1))))
    z = np.concatenate(parts)
    # near-ties: copy the max onto a random other class, +-a few codes
    ties = rng.random(len(z)) < 0.1
    other = rng.integers(0, C, size=len(z))
    z[ties, other[ties]] = np.clip(z[ties].max(axis=1) - rng.integers(0, 3, size=ties.sum()),
                                   fmt.min_code, fmt.max_code)
    z = np.concatenate([corners, z])[:max(n, 1)]
    return z.astype(np.int64)


def threshold_batches(cfg: ExitUnitConfig, logits: np.ndarray, batches: int = 8, repeat: bool = False) -> VectorSet:
    """Split vectors into batches, each with its own threshold: 0, the maximum
    code, and quantiles of the confidence (so exits and stays are mixed).
    repeat: run every vector at every threshold instead of splitting them."""
    fmt = cfg.confidence_format
    conf = confidence(cfg, logits)
    qs = np.quantile(conf, np.linspace(0.1, 0.9, max(batches - 2, 1)))
    codes = [0, fmt.max_code] + [int(np.clip(q, 0, fmt.max_code)) for q in qs]
    codes = codes[:batches] if batches >= 2 else codes[:1]
    if repeat:
        bounds = np.arange(len(codes) + 1, dtype=np.int64) * len(logits)
        logits = np.tile(logits, (len(codes), 1))
    else:
        bounds = np.linspace(0, len(logits), len(codes) + 1).astype(np.int64)
    return VectorSet(logits=logits, thresholds=np.array(codes, dtype=np.int64), bounds=bounds)


def expected_decisions(cfg: ExitUnitConfig, vs: VectorSet) -> Decision:
    parts = [decide(cfg, vs.logits[lo:hi], int(t))
             for t, lo, hi in zip(vs.thresholds, vs.bounds[:-1], vs.bounds[1:])]
    return Decision(exit=np.concatenate([p.exit for p in parts]), cls=np.concatenate([p.cls for p in parts]),
                    confidence=np.concatenate([p.confidence for p in parts]))


RESET_ROWS = 2_000  # rows the after-reset check runs (no threshold write) before the batches


def simulate(unit: GeneratedUnit, vs: VectorSet, build_dir: Path, simulator: str = "verilator",
             stall: float = 0.3, seed: int = 1, threshold_init: int | None = None) -> SimResult:
    """Run the vector set through the unit's RTL; raises CocotbFailure on any mismatch.

    Every run also checks the unit straight after reset, before any threshold write: its first
    RESET_ROWS rows must decide as at ``threshold_init`` (the THRESHOLD_INIT parameter the unit is
    built with; None: the generator's default, ``cfg.never_exit_code``)."""
    from sim.runner import run_cocotb

    cfg = unit.cfg
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    exp = expected_decisions(cfg, vs)
    init = cfg.never_exit_code if threshold_init is None else int(threshold_init)
    at_reset = decide(cfg, vs.logits[:RESET_ROWS], init)
    vec_path, res_path, out_path = build_dir / "vectors.npz", build_dir / "result.json", build_dir / "output.npz"
    np.savez(vec_path, logits=vs.logits, thresholds=vs.thresholds, bounds=vs.bounds,
             exit=exp.exit, cls=exp.cls, confidence=exp.confidence,
             reset_exit=at_reset.exit, reset_cls=at_reset.cls, reset_confidence=at_reset.confidence)
    for p in (res_path, out_path):
        p.unlink(missing_ok=True)
    env = {"TB_VECTORS": vec_path, "TB_RESULT": res_path, "TB_OUTPUT": out_path,
           "TB_CLASSES": cfg.classes, "TB_WIDTH": cfg.logit.width, "TB_CLASS_BITS": cfg.class_bits,
           "TB_SERIAL": int(unit.variant == "serial"), "TB_LATENCY": unit.latency_cycles, "TB_II": unit.ii,
           "TB_STALL": stall, "TB_SEED": seed}
    params = {} if threshold_init is None else {"THRESHOLD_INIT": init}
    run_cocotb(unit.files, unit.top, TB_MODULE, TB_DIR, build_dir, simulator=simulator, extra_env=env,
               parameters=params)
    result = json.loads(res_path.read_text())
    out = np.load(out_path)
    return SimResult(vectors_checked=result["vectors_checked"], mismatches=result["mismatches"],
                     decisions=Decision(exit=out["exit"], cls=out["cls"], confidence=out["confidence"]))


def rtl_decide(cfg: ExitUnitConfig, logit_codes: np.ndarray, threshold_code: int, build_dir: Path,
               simulator: str = "verilator", variant: str = "parallel") -> Decision:
    """Decisions of the simulated RTL for (N, C) logit codes at one threshold code."""
    unit = write_unit(cfg, variant, Path(build_dir) / "rtl")
    z = np.asarray(logit_codes, dtype=np.int64)
    vs = VectorSet(logits=z, thresholds=np.array([threshold_code]), bounds=np.array([0, len(z)]))
    return simulate(unit, vs, Path(build_dir) / "sim", simulator=simulator, stall=0.1).decisions
