"""Per-stage cost figures for the DSE model, from real Yosys runs.

For every stage with a convolution, the whole stage with its first conv folded
(hardware/folded/folded.py: folded conv -> gather -> fully parallel rest) is
generated at two parallelisms and synthesised (Dask jobs, cached), giving
LUT(P) = a + b * P (and FF). At P = all windows the design uses the flow's
fully parallel stage core (``make synth``), whose measured figures the model
takes as they are. Dense-only stages: the measured core, independent of P.
Exit units: the flow's Yosys records. Exit heads: every stage but the last is
also synthesised fully parallel without its head (the core a design builds when
it drops that exit), and head LUT/FF = with head - without; the model subtracts
that from a stage whose exit is dropped, at any P (the head is not folded).
"""
from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError
from frontend.fixedpoint import FixedFormat, qkeras_format

from .jobs import SynthJob
from .model import StageCost, fit_linear


class MissingFlowOutput(UserError):
    """The DSE needs the fully parallel flow's outputs (make synth) first."""


@dataclass(frozen=True)
class ConvSite:
    stage: int             # 1-based
    layer: object
    activation: object     # the QActivation right after it, or None
    input_format: FixedFormat
    pixels: int


def conv_sites(stages) -> list[ConvSite]:
    """The QConv2D layers of each stage with the format of the tensor feeding them."""
    sites = []
    for k, stage in enumerate(stages, start=1):
        layers = stage.model.layers
        for i, layer in enumerate(layers):
            if type(layer).__name__ != "QConv2D":
                continue
            inbound = layer._inbound_nodes[0].inbound_layers
            inbound = inbound[0] if isinstance(inbound, list) else inbound
            if type(inbound).__name__ == "QActivation":
                fmt = qkeras_format(inbound.quantizer)
            elif type(inbound).__name__ == "InputLayer" and stage.input_format is not None:
                fmt = stage.input_format
            else:
                raise UserError(f"stage {k}: conv {layer.name!r} is fed by {type(inbound).__name__}; the DSE folds "
                                 "convolutions fed by a QActivation or the stage input")
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            act = nxt if nxt is not None and type(nxt).__name__ == "QActivation" and \
                nxt._inbound_nodes[0].inbound_layers is layer else None
            out_h, out_w = (int(d) for d in layer.output_shape[1:3])
            sites.append(ConvSite(k, layer, act, fmt, out_h * out_w))
    return sites


def probe_parallelisms(pixels: int) -> tuple[int, int]:
    """Two P values to fit LUT(P) on: small and about a sixth of the windows (cheap to synthesise)."""
    hi = max(2, min(pixels, math.ceil(pixels / 6)))
    return (1, hi) if pixels > 1 else (1, 1)


def flow_records(out_dir: Path, stages, exit_configs, family: str) -> tuple[list[dict], list[dict], list[int]]:
    """(stage resources, exit-unit resources, stage latencies) of exactly these stages and exit configs, from
    the Yosys records the fully parallel flow (``make synth``) wrote under ``<out_dir>/yosys/records``.

    Each record is found by a name that encodes what its core is built from (flows/core_records.py):
    a record of another exit policy, another model or older generator code is never taken."""
    from flows.core_records import exit_unit_name, read_record, stage_core_name

    records = Path(out_dir) / "yosys" / "records"
    full, units, latency = [], [], []
    for k, stage in enumerate(stages, start=1):
        name = stage_core_name(k, stage.model, stage.input_format, family)
        record = read_record(records, name)
        if record is None:
            raise MissingFlowOutput(f"no Yosys record of stage {k} as this model builds it ({records / name}.json); "
                                    "run `make synth` (open flow) for this model and board first")
        full.append(record)
        latency.append(int(record["latency_cycles"]))
    for k, config in enumerate(exit_configs, start=1):
        name = exit_unit_name(k, config, family)
        record = read_record(records, name)
        if record is None:
            raise MissingFlowOutput(f"no Yosys record of the {config.policy} exit unit of exit {k} "
                                    f"({records / name}.json); run `make synth POLICY={config.policy}` (open flow)")
        units.append(record)
    return full, units, latency


def folded_stage_core(stages, k: int, p: int, rtl_dir: Path):
    """Stage k (1-based) with its first conv folded to P windows; one name and folder per (k, P)."""
    from hardware.folded.folded import build_folded_stage

    from .point import core_tag

    tag = core_tag(k, p)
    return build_folded_stage(stages[k - 1].model, stages[k - 1].input_format, Path(rtl_dir) / tag, f"dse_{tag}", p)


def fold_probes(stages, rtl_dir: Path, family: str):
    """Folded stage cores at the probe P values of every conv stage; returns [(stage, P, core, job)]."""
    probes = []
    seen = set()
    for site in conv_sites(stages):
        if site.stage in seen:
            continue
        seen.add(site.stage)
        for p in sorted(set(probe_parallelisms(site.pixels))):
            core = folded_stage_core(stages, site.stage, p, rtl_dir)
            probes.append((site, p, core, SynthJob(tuple(str(f) for f in core.verilog_files), core.top, family)))
    return probes


def headless_probes(stages, rtl_dir: Path, family: str) -> dict[int, tuple[object, SynthJob]]:
    """Fully parallel core of every stage but the last without its exit head: {stage: (core, job)}."""
    from hardware.stage import build_stage_rtl
    from frontend.stages import headless_model

    from .point import core_tag

    probes = {}
    for k, stage in enumerate(stages[:-1], start=1):
        tag = core_tag(k, None, exit_kept=False)
        core = build_stage_rtl(headless_model(stage), stage.input_format, Path(rtl_dir) / tag, f"dse_{tag}",
                               has_logits=False)
        probes[k] = (core, SynthJob(tuple(str(f) for f in core.verilog_files), core.top, family))
    return probes


def stage_costs(stages, full: list[dict], latency: list[int], probes, results: dict[str, dict],
                heads: dict[int, tuple[object, SynthJob]] | None = None) -> tuple[list[StageCost], list[dict]]:
    """StageCost per stage and the fit records (for the report).

    Conv stage: LUT(P) = a + b * P through the folded-stage probes; at P = all windows the
    flow's fully parallel core is what gets built, so its measured figures are used there.
    """
    fits = []
    costs = []
    heads = heads or {}
    for k, rec in enumerate(full, start=1):
        mine = [(site, p, results[job.key()]) for site, p, _, job in probes if site.stage == k]
        headless = results[heads[k][1].key()] if k in heads else None
        failed = [r["error"] for _, _, r in mine if r.get("error")] + \
            ([headless["error"]] if headless and headless.get("error") else [])
        if failed:
            raise RuntimeError(f"stage {k}: folded or headless stage synthesis failed twice: {failed[0]}")
        head_lut = max(0.0, float(rec["lut"] - headless["lut"])) if headless else 0.0
        head_ff = max(0.0, float(rec["ff"] - headless["ff"])) if headless else 0.0
        fit = {"stage": k, "lut_full": rec["lut"], "ff_full": rec["ff"], "head_lut": head_lut, "head_ff": head_ff}
        if not mine:
            costs.append(StageCost((), (float(rec["lut"]), 0.0), (float(rec["ff"]), 0.0), latency[k - 1],
                                   dsp=float(rec["dsp"]), bram=float(rec["bram"]), head_lut=head_lut,
                                   head_ff=head_ff))
            fits.append({**fit, "kind": "dense"})
            continue
        pixels = (mine[0][0].pixels,)
        folded_base = max(core.latency_cycles - core.steps for site, _, core, _ in probes if site.stage == k)
        lut = fit_linear([(p, r["lut"]) for _, p, r in mine])
        ff = fit_linear([(p, r["ff"]) for _, p, r in mine])
        costs.append(StageCost(pixels, lut, ff, latency[k - 1], dsp=float(rec["dsp"]), bram=float(rec["bram"]),
                               head_lut=head_lut, head_ff=head_ff, full_lut=float(rec["lut"]),
                               full_ff=float(rec["ff"]), folded_latency_base=folded_base))
        fits.append({**fit, "kind": "conv", "pixels": list(pixels), "folded_latency_base": folded_base,
                     "probes": [{"p": p, "lut": r["lut"], "ff": r["ff"]} for _, p, r in mine],
                     "lut_fit": list(lut), "ff_fit": list(ff)})
    return costs, fits


def exit_unit_latency(config) -> int:
    from hardware.exit_unit.generate import write_unit

    with tempfile.TemporaryDirectory() as tmp:
        return int(write_unit(config, "parallel", Path(tmp)).latency_cycles)


def pipeline_overheads(out_dir: Path, latency: list[int], exit_latency: int, policy: str) -> tuple[int, int, str]:
    """(hop_cycles, output_cycles, source) of the pipeline RTL around the cores, from the fully parallel
    build's own pipeline simulation: exit 1's fixed latency is stage 1 + exit unit + output; exit 2's
    adds the inter-stage FIFO, stage 2 and its exit unit. Only a report of these cores (same stage
    latencies, same exit policy) is read."""
    path = out_dir / "report.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    sim = report.get("sim")
    lat = {e["index"]: e["latency_cycles"]["min"] for e in (sim or {}).get("exits", [])}
    if lat.get(1) is None or lat.get(2) is None:
        return 0, 0, f"not measured: {path} has no pipeline latency at exits 1 and 2 (make synth with SIM=1)"
    cores = [s.get("rtl_latency_cycles") for s in report.get("stages", [])]
    policies = {e.get("policy") for e in report.get("exits", [])}
    if cores != list(latency) or policies != {policy}:
        return 0, 0, (f"not measured: {path} is of other cores (stage latencies {cores}, policy "
                      f"{', '.join(map(str, sorted(policies, key=str)))}) than these ({list(latency)}, {policy})")
    output = lat[1] - latency[0] - exit_latency
    hop = lat[2] - lat[1] - latency[1] - exit_latency
    return max(0, hop), max(0, output), f"{path} sim.exits (minimum latency at exits 1 and 2)"


def other_policy_units(stages, policy: str, rtl_dir: Path, family: str) -> dict[str, tuple[list, list[SynthJob]]]:
    """For every exit policy besides ``policy``: its exit configs and one Yosys job per exit unit."""
    from hardware.exit_unit.generate import write_unit
    from frontend.calibrate import exit_configs
    from frontend.spec import POLICIES

    out = {}
    for other in POLICIES:
        if other == policy:
            continue
        configs = exit_configs(stages, other)
        units = [write_unit(cfg, "parallel", Path(rtl_dir) / "exit_units" / other / f"exit_{k}")
                 for k, cfg in enumerate(configs, start=1)]
        out[other] = (configs, [SynthJob(tuple(str(f) for f in u.files), u.top, family) for u in units])
    return out
