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
    accuracy_drop_target: float      # points
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
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
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
    for path, text in zip(paths, (json.dumps(data, indent=2) + "\n", to_markdown(report), to_html(data))):
        _atomic_write(path, text)
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def exit_rows(report: Report) -> list[list[str]]:
    last = len(report.exits)
    return [[str(e.index), e.policy, "always (last)" if e.index == last else f"{e.threshold:.4g}",
             str(e.threshold_code), _pct(e.exit_rate), _pct(e.accuracy_at_exit), f"{e.cumulative_macs:,}"]
            for e in report.exits]


def stage_rows(report: Report) -> list[list[str]]:
    rows = []
    for s in report.stages:
        exact = {True: "yes", False: "NO", None: "-"}[s.csim_bit_exact]
        rows.append([str(s.index), "x".join(map(str, s.input_shape)), f"{s.macs:,}", s.logit_format or "-",
                     exact, str(s.csim_samples), "-" if s.max_abs_diff is None else f"{s.max_abs_diff:g}"])
    return rows


EXIT_HEADER = ["exit", "policy", "threshold", "register", "exit rate", "accuracy there", "cumulative MACs"]
STAGE_HEADER = ["stage", "input", "MACs", "logits", "C-sim exact", "samples", "max abs diff"]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_lines(report: Report) -> list[str]:
    o = report.overall
    return [
        f"Accuracy {100 * o.accuracy:.2f}% with early exits vs {100 * o.final_exit_accuracy:.2f}% "
        f"final exit alone (target: within {o.accuracy_drop_target:g} points) on {report.dataset.test_samples} "
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
    if report.notes:
        parts += ["", "## Notes", "", *[f"- {n}" for n in report.notes]]
    if report.seconds:
        parts += ["", "Step times: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()) + "."]
    return "\n".join(parts) + "\n"


def print_report(report: Report, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for title, header, rows in (("Exits (test set)", EXIT_HEADER, exit_rows(report)),
                                ("Stages", STAGE_HEADER, stage_rows(report))):
        table = Table(title=title, title_justify="left")
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for line in summary_lines(report):
        console.print(line)
