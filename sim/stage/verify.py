"""Check a stage core against its QKeras stage: numpy reference first, then cocotb.

Inputs are integer codes of the stage's input format: the data set's samples
(quantised for stage 1, the previous QKeras stage's forwarded codes after)
plus random in-range codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.stage import StageRtl
from frontend.fixedpoint import FixedFormat
from sim.stage.run import FirstMismatch, StageSimResult, first_mismatch, simulate_stage


@dataclass
class StageVerification:
    samples: int
    random_vectors: int
    reference_max_abs_diff: list[int]  # da4ml program vs QKeras, per output
    sim: StageSimResult | None
    reference_first_mismatch: FirstMismatch | None = None

    @property
    def bit_exact(self) -> bool:
        ref_ok = all(d == 0 for d in self.reference_max_abs_diff)
        return ref_ok and (self.sim is None or self.sim.bit_exact)

    def mismatch(self) -> str | None:
        """Where the core first differs from QKeras, on one line (None when bit-exact): the RTL simulation's
        first differing vector, output and element, and the da4ml program's when that differs too."""
        parts = []
        if self.sim is not None and self.sim.first_mismatch is not None:
            parts.append(f"RTL simulation first differs at {self.sim.first_mismatch.describe(self.samples)} "
                         f"({self.sim.mismatches} of {self.sim.vectors} vectors differ)")
        if self.reference_first_mismatch is not None:
            parts.append(f"the da4ml program itself first differs at "
                         f"{self.reference_first_mismatch.describe(self.samples)}")
        return "; ".join(parts) or None


def qkeras_codes(stage_model, rtl: StageRtl, x_codes: np.ndarray) -> list[np.ndarray]:
    """The QKeras stage's outputs on input codes, as codes (raises if off the output grid)."""
    ys = stage_model.predict(rtl.input_format.to_real(x_codes).astype(np.float32), verbose=0, batch_size=2048)
    ys = ys if isinstance(ys, list) else [ys]
    return [t.fmt.to_codes(y).reshape((len(x_codes),) + t.shape) for t, y in zip(rtl.outputs, ys)]


def random_codes(fmt: FixedFormat, shape: tuple[int, ...], n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(fmt.min_code, fmt.max_code + 1, size=(n,) + tuple(shape))


def chain_inputs(stage_models: list, rtls: list[StageRtl], x_real: np.ndarray) -> list[np.ndarray]:
    """Input codes of every stage for data-set samples, forwarded through the QKeras stages."""
    codes = [rtls[0].input_format.quantize(x_real).reshape((len(x_real),) + rtls[0].input.shape)]
    for model, rtl in zip(stage_models[:-1], rtls[:-1]):
        codes.append(qkeras_codes(model, rtl, codes[-1])[-1])
    return codes


def verify_stage(stage_model, rtl: StageRtl, sample_codes: np.ndarray, n_random: int, build_dir: Path,
                 simulate: bool = True, simulator: str = "verilator", seed: int = 0,
                 in_pause: float = 0.2, out_pause: float = 0.3) -> StageVerification:
    """QKeras vs numpy reference on samples + random codes, then (optionally) vs the RTL in cocotb."""
    x = np.concatenate([sample_codes, random_codes(rtl.input_format, rtl.input.shape, n_random, seed)])
    want = qkeras_codes(stage_model, rtl, x)
    ref = rtl.reference(x)
    ref_diff = [int(np.max(np.abs(r - w))) for r, w in zip(ref, want)]
    sim = None
    if simulate:
        sim = simulate_stage(rtl, x, want, build_dir, simulator=simulator, in_pause=in_pause,
                             out_pause=out_pause, seed=seed + 1)
    return StageVerification(len(sample_codes), n_random, ref_diff, sim, first_mismatch(rtl.outputs, want, ref))


def build_and_verify_chain(stage_models: list, stage1_input_format: FixedFormat | None, x_real: np.ndarray,
                           out_root: Path, n_random: int = 10_000, simulate: bool = True,
                           lut_budget: int | None = None, names: list[str] | None = None,
                           simulator: str = "verilator") -> list[tuple[StageRtl, StageVerification]]:
    """Build every stage core (stage k's input format = stage k-1's forwarded format) and verify each.

    Files: ``out_root/<name>/rtl`` (Verilog, stage.json) and ``out_root/<name>/sim`` (cocotb build).
    """
    from hardware.stage import build_stage_rtl

    names = names or [f"stage_{i + 1}" for i in range(len(stage_models))]
    rtls: list[StageRtl] = []
    for i, (model, name) in enumerate(zip(stage_models, names)):
        fmt = rtls[-1].forwarded.fmt if rtls else stage1_input_format
        rtls.append(build_stage_rtl(model, fmt, Path(out_root) / name / "rtl", name, lut_budget=lut_budget))
    inputs = chain_inputs(stage_models, rtls, x_real)
    return [(rtl, verify_stage(model, rtl, x, n_random, Path(out_root) / name / "sim", simulate=simulate,
                               simulator=simulator, seed=i))
            for i, (model, rtl, x, name) in enumerate(zip(stage_models, rtls, inputs, names))]
