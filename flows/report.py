"""The report schema, written down once, and its JSON / Markdown / console views.

Each step of the flow fills its own section; the views are made from these
records, never parsed back out of text. Bump SCHEMA when a field changes meaning.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from frontend.calibrate import ExitReport

SCHEMA = 1


@dataclass
class DatasetInfo:
    name: str
    test_samples: int
    calibration_samples: int
    train_samples: int


@dataclass
class Overall:
    accuracy: float
    final_exit_accuracy: float
    avg_macs: float
    baseline_macs: int
    accuracy_drop_target: float | None  # points; None when a design point fixes the thresholds
    calibration_accuracy: float
    calibration_final_exit_accuracy: float

    @property
    def macs_saved_pct(self) -> float:
        return 100.0 * (1.0 - self.avg_macs / self.baseline_macs)


@dataclass
class StageRecord:
    index: int
    input_shape: list[int]
    outputs: list[str]                # "exit_logits", "forwarded"
    macs: int
    hls_project: str | None = None
    backend: str | None = None
    io_type: str | None = None
    reuse_factor: int | None = None
    csim_bit_exact: bool | None = None
    csim_samples: int = 0
    max_abs_diff: float | None = None
    csim_first_mismatch: str | None = None
    csim_first_differing_layer: str | None = None
    logit_format: str | None = None
    rtl_bit_exact: bool | None = None
    rtl_samples: int = 0
    rtl_random_vectors: int = 0
    rtl_latency_cycles: int | None = None
    rtl_dir: str | None = None
    rtl_io: str | None = None                 # "parallel" (one beat per sample) or "stream" (pixels per beat)
    rtl_ii_cycles: int | None = None          # streaming: the slowest block's cycles per frame
    rtl_folding: dict | None = None           # streaming: how each conv/dense layer is built (kernel or MVAU)
    rtl_parallelism: int | None = None        # streaming: pixels per beat of the stage input


@dataclass
class ModelPrep:
    """What the flow did to the model before building it (frontend/prepare.py), and why."""

    input_format: str                                   # stage 1's input port format
    input_how: str                                      # the model's quantiser, inferred from the data, INPUT_BITS
    logits: list[dict] = field(default_factory=list)    # per exit: exit, layer, format, how
    folded_batch_norms: list[dict] = field(default_factory=list)   # batch_norm, into, kernel_saturated
    attached_exits: list[dict] = field(default_factory=list)       # exit, after, head
    accuracy: list[dict] = field(default_factory=list)  # per model change: change, before, after (final exit, test)

    def lines(self) -> list[str]:
        out = [f"Input: {self.input_format} ({self.input_how})."]
        out += [f"Exit {e['exit']} logits ({e['layer']}): {e['format']} ({e['how']})." for e in self.logits]
        out += [f"Batch norm {f['batch_norm']} folded into {f['into']} and re-quantised by its quantisers"
                + (f"; {100 * f['kernel_saturated']:.0f}% of the folded kernel lies beyond the kernel quantiser's "
                   f"range and saturates: give {f['into']}'s kernel_quantizer more integer bits."
                   if f.get("kernel_saturated") else ".") for f in self.folded_batch_norms]
        out += [f"Exit head {a['head']} attached after {a['after']}." for a in self.attached_exits]
        out += [f"{a['change']}: final-exit test accuracy {100 * a['before']:.2f}% before, {100 * a['after']:.2f}% "
                "after." for a in self.accuracy]
        return out


@dataclass
class Report:
    model: str
    board: str
    part: str
    clock_mhz: float
    flow: str                        # what produced the cores: "open" (no vendor tools) or "vendor"
    dataset: DatasetInfo
    training: dict[str, Any]
    exits: list[ExitReport]
    overall: Overall
    stages: list[StageRecord]
    tools: dict[str, str]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    sweep: list[dict] = field(default_factory=list)   # accuracy vs cost as the calibration target sweeps
    resources: dict | None = None                     # open (Yosys) or vendor resource records
    sim: dict | None = None                           # pipeline simulation: latency, throughput, energy
    pr: dict | None = None                            # partial-reconfiguration evaluation
    design: dict | None = None                        # a DSE point built as given: predicted vs measured
    board_top: dict | None = None                     # the AXI-wrapped top: files, simulation over AXI, timing
    model_prep: ModelPrep | None = None               # input/logit formats and the changes made to the model
    sections: list[str] = field(default_factory=list)  # Markdown a step renders from its own records (not JSON)
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("sections")
        data["overall"]["macs_saved_pct"] = self.overall.macs_saved_pct
        return {"schema": data.pop("schema"), **data}


def tool_versions() -> dict[str, str]:
    import platform

    import hls4ml
    import qkeras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "qkeras": getattr(qkeras, "__version__", "0.9.0"), "hls4ml": hls4ml.__version__}


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path, Path]:
    """Write report.json, report.md and report.html atomically (a failed write leaves the old files)."""
    from flows.html_report import to_html

    out_dir.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    paths = out_dir / "report.json", out_dir / "report.md", out_dir / "report.html"
    # strict JSON (no NaN/Infinity): a non-finite figure is a bug to fix where it is made, not a file to write
    json_text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    for path, text in zip(paths, (json_text, to_markdown(report), to_html(data))):
        _atomic_write(path, text)
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _threshold(value: float | None) -> str:
    return "never (no sample exits)" if value is None else f"{value:.4g}"


def exit_rows(report: Report) -> list[list[str]]:
    last = len(report.exits)
    return [[str(e.index), e.policy, "always (last)" if e.index == last else _threshold(e.threshold),
             str(e.threshold_code), _pct(e.exit_rate), _pct(e.accuracy_at_exit), f"{e.cumulative_macs:,}"]
            for e in report.exits]


def stage_rows(report: Report) -> list[list[str]]:
    rows = []
    for s in report.stages:
        exact = {True: "yes", False: "NO", None: "-"}[s.csim_bit_exact]
        rows.append([str(s.index), "x".join(map(str, s.input_shape)), f"{s.macs:,}", s.logit_format or "-",
                     exact, str(s.csim_samples), "-" if s.max_abs_diff is None else f"{s.max_abs_diff:g}"])
    return rows


RESOURCE_HEADER = ["core", "LUT", "FF", "CARRY4", "DSP", "BRAM36", "LUT levels", "est. Fmax (MHz)", "seconds"]


def resource_rows(resources: dict) -> list[list[str]]:
    def row(name: str, r: dict) -> list[str]:
        return [name, *(f"{r.get(k, 0):,}" if isinstance(r.get(k), int) else f"{r.get(k, 0):g}"
                        for k in ("lut", "ff", "carry4", "dsp", "bram")),
                str(r.get("lut_levels", "-")), _fmax(r), f"{r.get('seconds', 0):.0f}"]

    rows = [row(f"stage {r['index']}", r) for r in resources.get("stages", [])]
    rows += [row(f"exit unit {r['index']}", r) for r in resources.get("exit_units", [])]
    rows += [row(f"conditional buffer {r['index']}", r) for r in resources.get("buffers", [])]
    rows.append(row("total", resources.get("total", {})))
    cap, pct = resources.get("capacity", {}), resources.get("utilisation_pct", {})
    rows.append(["board capacity", *(f"{cap.get(k, 0):,}" for k in ("lut", "ff")), "-",
                 *(f"{cap.get(k, 0):,}" for k in ("dsp", "bram36")), "-", "-", "-"])
    rows.append(["utilisation", *(f"{pct.get(k, 0):.1f}%" for k in ("lut", "ff")), "-",
                 *(f"{pct.get(k, 0):.1f}%" for k in ("dsp", "bram36")), "-", "-", "-"])
    return rows


MEMORY_HEADER = ["core", "instance", "role", "RAMB36", "RAMB18", "LUTRAM (LUTs)", "SRL (LUTs)"]


def memory_rows(resources: dict) -> list[list[str]]:
    """Where each core's BRAM and LUTRAM went (Yosys memory_instances): line buffers, weight ROMs, FIFOs."""
    cores = [(f"stage {r['index']}", r) for r in resources.get("stages", [])]
    cores += [(f"conditional buffer {r['index']}", r) for r in resources.get("buffers", [])]
    rows = []
    for name, record in cores:
        for m in record.get("memories") or []:
            role = "conditional buffer" if name.startswith("conditional") else m["role"]
            rows.append([name, f"`{m['instance']}`", role, *(str(m[k]) for k in ("ramb36", "ramb18", "lutram_luts",
                                                                             "srl_luts"))])
    return rows


def _fmax(r: dict) -> str:
    """A core's estimated Fmax (its timing record), or the total's (the slowest core)."""
    value = (r.get("timing") or {}).get("fmax_mhz", r.get("fmax_mhz_estimate"))
    return "-" if value is None else f"{value:.0f}"


def timing_lines(resources: dict) -> list[str]:
    t = resources.get("timing")
    if not t:
        return []
    lines = [f"Estimated Fmax {t['fmax_mhz_estimate']:.0f} MHz (slowest core: {t['slowest_core']}, critical path "
             f"{t['critical_path_ns']:.2f} ns) against the {t['clock_mhz']:g} MHz board clock. Method: {t['method']}; "
             f"delays from {t['figures']}."]
    lines += [f"- **warning**: {w}" for w in t.get("warnings", [])]
    return lines


def pr_lines(pr: dict) -> list[str]:
    if "error" in pr:
        return [f"Not evaluated: {pr['error']}"]
    mapping = pr.get("mapping", {})

    def describe(m: dict) -> str:
        return (f"{m.get('name')} (static: stages {m.get('static_stages') or 'none'}, "
                f"reconfigurable region: stages {m.get('region_stages') or 'none'})")

    lines = [f"Chosen mapping: {describe(mapping.get('chosen', {}))}. PR alternative evaluated: "
             f"{describe(mapping.get('pr', {}))}, partial bitstream {pr.get('partial_bitstream_bytes', 0):,} B, "
             f"reconfiguration {1e3 * pr.get('reconfig_seconds', 0):.2f} ms over {pr.get('port', 'the port')}.", ""]
    header = ["schedule", "batch", "samples/s", "mean latency (ms)", "p99 latency (ms)", "reconfigs / 1000",
              "energy / sample (uJ, modelled)"]
    rows = [[s["name"], str(s["batch_size"]), f"{s['throughput_samples_per_s']:,.0f}",
             f"{1e3 * s['mean_latency_s']:.3f}", f"{1e3 * s['p99_latency_s']:.3f}", f"{s['reconfigs_per_1000']:.2f}",
             f"{1e6 * s['energy_j_per_sample']:.2f}"] for s in pr.get("schedules", [])]
    lines += [_md_table(header, rows), ""]
    lines.append(f"Break-even batch: {pr.get('break_even_batch')}. {pr.get('break_even_note', '')}".strip())
    lines.append("Energy per sample is modelled, not measured: run time x the estimated static, PS and per-resource "
                 "power of the board file's power: block (sources there).")
    lines += [f"- {n}" for n in pr.get("notes", [])]
    return lines


EXIT_HEADER = ["exit", "policy", "threshold", "register", "exit rate", "accuracy there", "cumulative MACs"]
STAGE_HEADER = ["stage", "input", "MACs", "logits", "C-sim exact", "samples", "max abs diff"]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def design_lines(design: dict) -> list[str]:
    """Predicted vs measured for a DSE point; a metric off by more than its tolerance is marked red."""
    lines = [f"Point `{design['id']}` from `{design['file']}`: exits {design['exits']}, thresholds "
             f"{design['thresholds']} ({design['policy'] or 'spec policy'}), P per stage {design['parallelism']}, "
             f"mode {design['mode']}, " + (f"streaming: target II {design['target_ii']} cycles per frame, conditional "
                                           f"buffers {design['buffer_frames'] or 'default'} frames."
                                           if design.get("io") == "stream" else
                                           f"FIFO depth {design['fifo_depth'] or 'default'}."), "",
             f"| metric | predicted ({design.get('predicted_on', 'model')} split) | "
             f"measured ({design.get('measured_on', 'test')} split) | error |",
             "|---|---|---|---|"]
    predicted = design["predicted"] or {}
    for key, value in design["measured"].items():
        err = design["errors"].get(key)
        text = "n/a" if err is None else f"{100 * err:+.1f}%"
        if err is not None and abs(err) > design["tolerances"].get(key, float("inf")):
            text = f'<span style="color:red">**{text}**</span>'
        show = (lambda v: "n/a" if v is None else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}")  # noqa: E731
        label = f"{key} (modelled)" if key.startswith("energy") else key
        lines.append(f"| {label} | {show(predicted.get(key))} | {show(value)} | {text} |")
    lines += ["", f"Measured: {design['measured_by']}. Tolerances: "
              + ", ".join(f"{k} {100 * v:.0f}%" for k, v in design["tolerances"].items()) + "."]
    return lines


def summary_lines(report: Report) -> list[str]:
    o = report.overall
    target = ("thresholds fixed by the design point" if o.accuracy_drop_target is None
              else f"target: within {o.accuracy_drop_target:g} points")
    return [
        f"Accuracy {100 * o.accuracy:.2f}% with early exits vs {100 * o.final_exit_accuracy:.2f}% "
        f"final exit alone ({target}) on {report.dataset.test_samples} "
        f"{report.dataset.name} test samples.",
        f"Average {o.avg_macs:,.0f} MACs per sample vs {o.baseline_macs:,} without early exits "
        f"({o.macs_saved_pct:.1f}% saved).",
    ]


def to_markdown(report: Report) -> str:
    parts = [
        f"# {report.model} on {report.board} ({report.part}, {report.clock_mhz:g} MHz)",
        "",
        *summary_lines(report),
        "",
        *(["## Model as built", "", *[f"- {line}" for line in report.model_prep.lines()], ""]
          if report.model_prep else []),
        "## Exits (test set)",
        "",
        _md_table(EXIT_HEADER, exit_rows(report)),
        "",
        "## Stages",
        "",
        _md_table(STAGE_HEADER, stage_rows(report)),
        "",
        *[f"- stage {s.index}: HLS project `{s.hls_project}` ({s.backend}, {s.io_type}, reuse {s.reuse_factor})"
          for s in report.stages if s.hls_project],
        "",
        f"Cores from the {report.flow} flow. Tools: " + ", ".join(f"{k} {v}" for k, v in report.tools.items()) + ".",
    ]
    if report.resources:
        parts += ["", "## Resources", "", _md_table(RESOURCE_HEADER, resource_rows(report.resources))]
        fits = report.resources.get("fits")
        parts += ["", f"The design {'fits' if fits else 'does NOT fit'} the {report.board} "
                      f"({report.resources.get('total', {}).get('source', '')})."]
        timing = timing_lines(report.resources)
        if timing:
            parts += ["", *timing]
        memories = memory_rows(report.resources)
        if memories:
            parts += ["", "### On-chip memory by instance (Yosys)", "", _md_table(MEMORY_HEADER, memories)]
    for section in report.sections:
        parts += ["", section.strip()]
    if report.design:
        parts += ["", "## Design point: predicted vs measured", "", *design_lines(report.design)]
    if report.pr:
        parts += ["", "## Partial reconfiguration", "", *pr_lines(report.pr)]
    if report.notes:
        parts += ["", "## Notes", "", *[f"- {n}" for n in report.notes]]
    if report.seconds:
        parts += ["", "Step times: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()) + "."]
    return "\n".join(parts) + "\n"


def print_report(report: Report, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    tables = [("Exits (test set)", EXIT_HEADER, exit_rows(report)), ("Stages", STAGE_HEADER, stage_rows(report))]
    if report.resources:
        tables.append((f"Resources ({report.resources.get('total', {}).get('source', '')})", RESOURCE_HEADER,
                       resource_rows(report.resources)))
    for title, header, rows in tables:
        table = Table(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if report.model_prep:
        for line in report.model_prep.lines():
            console.print(line, highlight=False)
    for line in summary_lines(report):
        console.print(line)
    if report.resources:
        fits = report.resources["fits"]
        console.print(f"The design {'fits' if fits else '[red]does NOT fit[/red]'} the {report.board} "
                      f"({report.resources['utilisation_pct']['lut']:.1f}% of its LUTs).")
    if report.sim:
        on, off = report.sim["early_exit"], report.sim.get("exits_off")
        if off is None:   # PIPELINE_SCENARIOS without exits_off: the early-exit run alone
            off = {"energy_nj_per_sample": float("nan"), "mean_latency_cycles": float("nan")}
        energy = (f"{on['energy_nj_per_sample']:.2f} vs {off['energy_nj_per_sample']:.2f} nJ/sample modelled "
                  f"(SAIF toggles x estimated coefficients, {report.sim['energy_model']['coefficients']})"
                  if on.get("energy_nj_per_sample") is not None else "no energy figures (see the report's notes)")
        rate = "/".join("-" if r.get("throughput_samples_per_cycle") is None else
                        f"{r['throughput_samples_per_cycle']:.3g}" for r in (on, off))
        per_s = "/".join("-" if r.get("throughput_samples_per_s") is None else
                         f"{r['throughput_samples_per_s']:,.0f}" for r in (on, off))
        console.print(f"RTL pipeline: mean latency {on['mean_latency_cycles']:.1f} cycles with early exits vs "
                      f"{off['mean_latency_cycles']:.1f} without ({report.sim['speedup'] or float('nan'):.2f}x), "
                      f"{rate} samples/cycle in steady state ({per_s} samples/s at {report.clock_mhz:g} MHz), "
                      f"{energy}; "
                      f"{report.sim['mismatches']} mismatches, {report.sim['lost']} lost, "
                      f"{report.sim['duplicated']} duplicated.")
    if report.pr and "error" not in report.pr:
        console.print(f"Partial reconfiguration: break-even batch {report.pr.get('break_even_batch')}.")
