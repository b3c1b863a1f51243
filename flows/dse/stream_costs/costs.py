"""``StreamCosts``: the fitted models of every primitive, as one object the DSE and plan_stage take.

    costs = fit_costs(cache_dir)                      # fit.py
    costs.block_cost("mvau", knobs)                   # {lut, ff, lut_as_memory, ramb18, ramb36, dsp}
    costs.layer_luts(layer, LayerPlan("mvau", 15, 4), in_beats, in_elems)   # what the planner compares
    costs.cond_buffer(width=24, frame_beats=144, depth=256); costs.exit_unit(exit_unit_config)

Every figure is a model figure (``SOURCE``), never a synthesis result.
"""
from __future__ import annotations

from pathlib import Path

from frontend.ir import LayerIR
from hardware.stream_stage.plan import LayerPlan

from .blocks import CondBufferKnobs, ExitUnitKnobs, input_stream, layer_blocks
from .describe import describe, finish
from .features import KernelCostCache, describe_kernel
from .fit import SCHEMA, KindFit
from .models import METRICS, RULES

SOURCE = "model: per-primitive fits to Yosys probes (flows/dse/stream_costs)"


class StreamCosts:
    def __init__(self, fits: dict[str, KindFit], kernels: KernelCostCache, family: str, digest: str):
        self.fits, self.kernels, self.family, self.digest = fits, kernels, family, digest

    def features(self, kind: str, knobs) -> dict[str, float]:
        return describe(kind, knobs, self.kernels)

    def block_cost(self, kind: str, knobs) -> dict[str, float]:
        """Predicted resources of one block (LUT includes its LUTRAM/SRL, as Yosys counts them)."""
        if kind == "mvau" and knobs.multiplier != "lut":
            raise KeyError(f"no fitted cost model for {knobs.multiplier!r}-multiplier MVAUs (the probes use LUT "
                           "multipliers); plan MVAUs with multiplier='lut'")
        if kind not in self.fits:
            raise KeyError(f"no fitted cost model for {kind!r}; fitted: {', '.join(sorted(self.fits))}")
        return self.fits[kind].predict(self.features(kind, knobs))

    def cond_buffer(self, width: int, frame_beats: int, depth: int) -> dict[str, float]:
        """The conditional buffer after a stage (hardware/cond_buffer, as hardware/pipeline/stream.py sizes
        it: width = forwarded bits per beat, frame_beats = forwarded beats, depth a power of two)."""
        from hardware.cond_buffer import CondBuffer

        CondBuffer(width, frame_beats, depth)     # the primitive's own checks: a depth it cannot take fails here
        return self.block_cost("cond_buffer", CondBufferKnobs(width, frame_beats, depth))

    def exit_unit(self, config) -> dict[str, float]:
        """The parallel exit unit of an exit_unit.reference.ExitUnitConfig (its LUT-table options at
        their defaults, as the flow builds them)."""
        return self.block_cost("exit_unit", ExitUnitKnobs(config.classes, config.logit, config.policy))

    def layer_luts(self, layer: LayerIR, plan: LayerPlan, in_beats: int, in_elems: int,
                   bound: float | None = None) -> float:
        """LUTs of the blocks a conv/dense layer is built from under ``plan`` (its swg, the same for every
        implementation, included), reading a stream of ``in_beats`` x ``in_elems``.

        With ``bound``, a kernel whose screening estimate (features.kernel_screen_cost, below da4ml's
        cost on every kernel traced in the tests) already exceeds the bound is not traced: the
        screening figure, above ``bound``, is returned (hardware/stream_stage.plan.LayerCosts)."""
        blocks, _ = layer_blocks(layer, plan, input_stream(layer, in_beats, in_elems))
        if bound is not None and not all(self.kernels.known(b.knobs) for b in blocks if b.kind == "kernel"):
            screened = 0.0
            for b in blocks:
                f = self.features(b.kind, b.knobs) if b.kind != "kernel" else finish(describe_kernel(
                    b.knobs, self.kernels.screen(b.knobs)))
                screened += self.fits[b.kind].predict(f)["lut"]
            if screened > bound:
                return screened
        return sum(self.block_cost(b.kind, b.knobs)["lut"] for b in blocks)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "source": SOURCE, "family": self.family, "probe_set": self.digest,
                "metrics": [*METRICS, *RULES], "kinds": {k: f.to_dict() for k, f in sorted(self.fits.items())}}

    @classmethod
    def from_dict(cls, data: dict, kernels: KernelCostCache) -> "StreamCosts":
        fits = {k: KindFit.from_dict(k, d) for k, d in data["kinds"].items()}
        return cls(fits, kernels, data["family"], data["probe_set"])

    @classmethod
    def load(cls, cache_dir: Path) -> "StreamCosts":
        """Fits written by fit_costs, without checking the probe set (fit_costs does)."""
        import json

        from .fit import FILE

        path = Path(cache_dir) / FILE
        if not path.is_file():
            raise FileNotFoundError(f"no cost fits at {path}; run flows.dse.stream_costs.fit_costs({cache_dir!s}) "
                                    "(python -m flows.dse.stream_costs fit) first")
        return cls.from_dict(json.loads(path.read_text()), KernelCostCache(Path(cache_dir) / "kernels"))
