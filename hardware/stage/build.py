"""build_stage_rtl: one stage model -> traced, pipelined, streaming Verilog core.

Steps, in order: trace the Keras stage with da4ml (trace.py) -> combinational
program (da4ml comb_trace) -> pipeline + Verilog + stream shell (emit.py) ->
manifest ``stage.json`` and da4ml program ``comb.json`` beside the Verilog.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from da4ml.cmvm.types import CombLogic
from da4ml.trace import comb_trace

from frontend.fixedpoint import FixedFormat

from .emit import ADDER_LEVELS_PER_REGISTER, emit_stage
from .packing import PortTensor, StreamPorts
from .trace import trace_stage


@dataclass
class StageRtl(StreamPorts):
    """What a caller needs to simulate, synthesise and chain one stage core.

    Ports (see packing.py): ``s_axis_tdata`` carries ``input``; ``m_axis_tdata``
    carries ``outputs`` in order (exit logits first, then the forwarded tensor).
    A headless core (``has_logits`` False: its exit is dropped) outputs the
    forwarded tensor only.
    """

    name: str
    top: str
    verilog_files: list[Path]
    input: PortTensor
    outputs: list[PortTensor]
    latency_cycles: int
    pipeline_stages: int
    adder_levels_per_register: int
    lut_estimate: float  # da4ml's cost model (~LUTs of adders/muxes, core only)
    register_bits: int  # da4ml's pipeline register bits (core only)
    build_seconds: float
    comb: CombLogic = field(repr=False)
    lut_budget: int | None = None  # LUTs the caller allows this core (e.g. the board's total)
    has_logits: bool = True  # False: built from frontend.stages.headless_model, no exit head

    @property
    def fits(self) -> bool | None:
        """Whether da4ml's LUT estimate of the fully parallel core is within ``lut_budget``."""
        return None if self.lut_budget is None else self.lut_estimate <= self.lut_budget

    def reference(self, x_codes: np.ndarray) -> list[np.ndarray]:
        """Bit-exact model of the core from the da4ml program (numpy, no simulator).

        x_codes: (n, *input.shape) integer codes; returns per-output (n, *shape) codes.
        """
        x_codes = np.asarray(x_codes)
        n = x_codes.shape[0]
        if x_codes[0].size != self.input.size:
            raise ValueError(f"expected inputs of shape (n, {self.input.shape}), got {x_codes.shape}")
        real = self.input.fmt.to_real(x_codes.reshape(n, -1))
        flat = np.asarray(self.comb.predict(real), dtype=np.float64)
        out, pos = [], 0
        for t in self.outputs:
            part = flat[:, pos:pos + t.size]
            out.append(t.fmt.to_codes(part).reshape((n,) + t.shape))
            pos += t.size
        return out

    def to_dict(self) -> dict:
        def port(t: PortTensor) -> dict:
            return {"name": t.name, "shape": list(t.shape),
                    "format": {"width": t.fmt.width, "frac": t.fmt.frac, "signed": t.fmt.signed}}

        return {
            "name": self.name, "top": self.top, "verilog_files": [str(p) for p in self.verilog_files],
            "input": port(self.input), "outputs": [port(t) for t in self.outputs],
            "in_width": self.in_width, "out_width": self.out_width,
            "latency_cycles": self.latency_cycles, "pipeline_stages": self.pipeline_stages,
            "adder_levels_per_register": self.adder_levels_per_register,
            "lut_estimate": self.lut_estimate, "register_bits": self.register_bits,
            "build_seconds": self.build_seconds, "lut_budget": self.lut_budget, "fits": self.fits,
            "has_logits": self.has_logits,
            "packing": "element i of the C-order flatten at bits [i*W +: W]; tensors back to back from bit 0",
        }


class StageTooLarge(UserWarning):
    """A fully parallel stage core is estimated larger than its LUT budget."""


def build_stage_rtl(stage_model, input_format: FixedFormat | None, out_dir: Path, name: str,
                    adder_levels_per_register: int = ADDER_LEVELS_PER_REGISTER,
                    lut_budget: int | None = None, has_logits: bool = True) -> StageRtl:
    """Trace ``stage_model`` and write its streaming Verilog core into ``out_dir``.

    input_format: None for stage 1 (taken from its input QActivation); for
    stage k > 1, the previous StageRtl's ``forwarded.fmt``.
    lut_budget: if given and da4ml's LUT estimate exceeds it, the core is still
    written (it simulates fine) but ``fits`` is False, stage.json says so and a
    StageTooLarge warning is raised: a fully parallel core cannot be placed.
    has_logits: False when ``stage_model`` is a headless stage (frontend.stages.headless_model):
    its one output is the forwarded tensor, not logits.
    """
    start = time.perf_counter()
    if not has_logits and len(stage_model.outputs) != 1:
        raise ValueError(f"stage model {stage_model.name!r} has {len(stage_model.outputs)} outputs but "
                         "has_logits=False; a headless stage outputs its forwarded tensor only "
                         "(frontend.stages.headless_model)")
    traced = trace_stage(stage_model, input_format, has_logits=has_logits)
    inp = PortTensor("input", traced.input_shape, traced.input_format)
    outputs = [PortTensor(o.name, o.shape, o.fmt) for o in traced.outputs]
    outs = np.concatenate([o.vars._vars.ravel() for o in traced.outputs])
    comb = comb_trace(traced.inputs._vars.ravel(), outs)
    out_dir = Path(out_dir)
    emitted = emit_stage(comb, inp, outputs, out_dir, name, adder_levels_per_register)
    rtl = StageRtl(
        name=name, top=emitted.top, verilog_files=emitted.files, input=inp, outputs=outputs,
        latency_cycles=emitted.latency_cycles, pipeline_stages=emitted.pipeline_stages,
        adder_levels_per_register=adder_levels_per_register,
        lut_estimate=float(comb.cost), register_bits=int(emitted.pipeline.reg_bits),
        build_seconds=0.0, comb=comb, lut_budget=lut_budget, has_logits=has_logits)
    rtl.build_seconds = time.perf_counter() - start
    if rtl.fits is False:
        warnings.warn(f"stage core {name}: da4ml estimates {comb.cost:.0f} LUTs for the fully parallel core, "
                      f"over the budget of {lut_budget}; it cannot be placed as is (reduce filters/units or "
                      "bit widths, or split the stage)", StageTooLarge, stacklevel=2)
    comb.save(out_dir / "comb.json")
    (out_dir / "stage.json").write_text(json.dumps(rtl.to_dict(), indent=2, allow_nan=False))
    return rtl
