"""Predict a streaming stage's resources and timing from (StageIR, plans), without synthesising it.

    pred = predict_stage(ir, plans, parallelism=1, costs=costs)
    pred.lut, pred.ff, pred.bram, pred.dsp, pred.ii_cycles, pred.latency_cycles, pred.blocks

Resources are the sum of the blocks' fitted models (a stage top adds only wires). Timing:

- ``ii_cycles``: cycles per frame of the slowest block (StreamStage.ii_cycles), the initiation
  interval when no block waits for another. The measured frame interval (validate.py, sim/stream)
  is compared with it.
- ``latency_cycles``: a frame's first input beat to its last output beat in an idle stage: each
  block starts ``fill`` cycles after its first input and ends ``drain`` cycles after its last input,
  or after its own cycles per frame when it is the slower one. An estimate, labelled as such.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from frontend.ir import StageIR
from hardware.stream_stage.plan import LayerPlan

from .blocks import BlockSpec, stage_graph
from .costs import SOURCE, StreamCosts
from .describe import mvau_structure

FIFO_LATENCY = 3   # hardware/fifo StreamFifo.LATENCY


@dataclass
class BlockPrediction:
    instance: str
    kind: str
    layer: str
    cycles_per_frame: int
    lut: float
    ff: float
    lut_as_memory: float
    ramb18: float
    ramb36: float
    dsp: float
    fill_cycles: int
    drain_cycles: int


@dataclass
class StagePrediction:
    name: str
    lut: float
    ff: float
    lut_as_memory: float
    ramb18: int
    ramb36: int
    dsp: int
    ii_cycles: int
    latency_cycles: int
    input_beats: int
    blocks: list[BlockPrediction] = field(default_factory=list)
    source: str = SOURCE

    @property
    def bram(self) -> float:
        """RAMB36 equivalents, as flows/yosys.py counts them."""
        return self.ramb36 + self.ramb18 / 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bram"] = self.bram
        for key in ("lut", "ff", "lut_as_memory"):
            d[key] = round(d[key], 1)
        return d


def _timing(b: BlockSpec, costs: StreamCosts) -> tuple[int, int]:
    """(fill, drain) cycles of a block: first input -> first output, last input -> last output."""
    k = b.knobs
    if b.kind == "swg":
        (h, w, _), (kh, kw), (pt, pb, pl, pr), p = k.in_shape, k.kernel, k.padding, k.parallelism
        wp = w + pl + pr
        fill = math.ceil(((kh - 1 - pt) * wp + (kw - pl)) / p) + 1
        return max(1, fill), math.ceil((pb * wp + pr) / p) + 1
    if b.kind == "kernel":
        latency = int(costs.features("kernel", k)["latency"])
        return latency + 1, latency + 1
    if b.kind == "mvau":
        s = mvau_structure(k)
        return s["cycles_per_vector"] + s["latency_cycles"], s["latency_cycles"]
    if b.kind == "fifo":
        return FIFO_LATENCY, FIFO_LATENCY
    if b.kind == "gather":
        return k.pieces, 1
    return 1, 1   # fork: one register


def predict_stage(ir: StageIR, plans: dict[str, LayerPlan], parallelism: int = 1,
                  costs: StreamCosts | None = None) -> StagePrediction:
    """Model figures of the stage build_stream_stage(ir, plans, ..., parallelism) would write."""
    if costs is None:
        from . import default_costs

        costs = default_costs()
    blocks, ports = stage_graph(ir, plans, parallelism)
    h, w, _ = ir.input_shape
    input_beats = h * w // parallelism
    # event model: (first beat, last beat) cycle of every stream, the input arriving at one beat per cycle
    times = {"s_axis": (0, input_beats - 1)}
    preds = []
    for b in blocks:
        r = costs.block_cost(b.kind, b.knobs)
        fill, drain = _timing(b, costs)
        preds.append(BlockPrediction(b.instance, b.kind, b.layer, b.cycles_per_frame, r["lut"], r["ff"],
                                     r["lut_as_memory"], r["ramb18"], r["ramb36"], r["dsp"], fill, drain))
        f0, l0 = (max(v) for v in zip(*(times[r] for r in b.reads.split("+"))))   # a join waits for both
        times[b.writes] = (f0 + fill, max(l0 + drain, f0 + b.cycles_per_frame + drain - 1))
    latency = max(times[s][1] for s in ports.values()) + 1
    ii = max(b.cycles_per_frame for b in blocks)
    return StagePrediction(ir.name, sum(p.lut for p in preds), sum(p.ff for p in preds),
                           sum(p.lut_as_memory for p in preds), int(sum(p.ramb18 for p in preds)),
                           int(sum(p.ramb36 for p in preds)), int(sum(p.dsp for p in preds)), ii, latency,
                           input_beats, preds)
