"""Compare two runs' ``report.json``: per stage, exit unit and total, A vs B, with CI-gating tolerances.

Works across flows (open vs vendor) and boards; refuses (exit code 2) when the
reports describe different models, datasets or schema versions. Blocks a report
does not have (``resources``, ``sim``, ...) show as "n/a" rows and never gate.

Tolerances are per metric, in percent of A (``lut=5`` lets B use up to 5 % more
LUTs than A), except ``accuracy`` which is in percentage points (``accuracy=0.5``
lets B lose up to half a point). A metric whose B is worse than A by more than
its tolerance is a regression, and ``compare_main`` returns 1.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import UserError

RESOURCE_KEYS = ("lut", "ff", "dsp", "bram")
# metric -> allowed regression (percent of A; accuracy: points). Resources and latency must not grow
# unnoticed; DSP and BRAM are scarce on small boards, so any growth counts by default.
DEFAULT_TOLERANCES: dict[str, float] = {"lut": 5.0, "ff": 5.0, "dsp": 0.0, "bram": 0.0, "latency": 5.0,
                                        "throughput": 5.0, "energy": 5.0, "accuracy": 0.5, "macs": 5.0}


class CompareInputError(UserError):
    """An input ``compare`` cannot use (not a report, a malformed tolerance): exit code 2, "not comparable"."""

    exit_code = 2


@dataclass
class Tolerances:
    limits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))

    @classmethod
    def parse(cls, items: list[str] | None) -> "Tolerances":
        """From CLI items ``metric=value`` (e.g. ``lut=5``, ``accuracy=0.5``) over the defaults."""
        limits = dict(DEFAULT_TOLERANCES)
        for item in items or []:
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep or key not in DEFAULT_TOLERANCES:
                raise CompareInputError(f"tolerance {item!r}: use metric=percent with metric one of "
                                 f"{', '.join(DEFAULT_TOLERANCES)} (e.g. --tol lut=5)")
            try:
                limits[key] = float(value)
            except ValueError:
                raise CompareInputError(f"tolerance {item!r}: {value!r} is not a number; give a percentage, "
                                        "e.g. lut=5") from None
            if limits[key] < 0:
                raise CompareInputError(f"tolerance {item!r} must be >= 0 (a tolerated regression)")
        return cls(limits)


@dataclass
class Row:
    section: str            # "stage 1", "exit unit 2", "total", "exit 1", "overall", "utilisation"
    metric: str
    a: float | None
    b: float | None
    better: str | None = None    # "lower", "higher" or None (informational)
    tolerance_key: str | None = None
    tolerance: float | None = None
    regression: bool = False

    @property
    def diff(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def pct(self) -> float | None:
        if self.diff is None or not self.a:
            return None
        return 100.0 * self.diff / abs(self.a)


@dataclass
class Comparison:
    a_label: str
    b_label: str
    rows: list[Row]
    comparable: bool = True
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]


def _get(data: Any, *path, default=None):
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return default
        if data is None:
            return default
    return data


def _by_index(items) -> dict[int, dict]:
    return {int(x["index"]): x for x in items or [] if isinstance(x, dict) and "index" in x}


def _number(value) -> float | None:
    if isinstance(value, dict):  # {min, mean, max} -> mean
        value = value.get("mean")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _bram(record: dict | None) -> float | None:
    if not record:
        return None
    return _number(record.get("bram", record.get("bram36")))


def comparability(a: dict, b: dict) -> str:
    """Empty when A and B can be compared, else the reason they cannot."""
    if a.get("schema") != b.get("schema"):
        return f"schema {a.get('schema')} vs {b.get('schema')}: regenerate the older report with this version"
    if a.get("model") != b.get("model"):
        return f"different models ({a.get('model')!r} vs {b.get('model')!r})"
    shapes = lambda r: [tuple(s.get("input_shape", ())) for s in r.get("stages", [])]  # noqa: E731
    if shapes(a) != shapes(b):
        return f"model {a.get('model')!r} is split differently (stage inputs {shapes(a)} vs {shapes(b)})"
    da, db = a.get("dataset", {}), b.get("dataset", {})
    if (da.get("name"), da.get("test_samples")) != (db.get("name"), db.get("test_samples")):
        return (f"different test data ({da.get('name')}/{da.get('test_samples')} vs "
                f"{db.get('name')}/{db.get('test_samples')} samples): accuracies would not mean the same")
    split = lambda r: ((r.get("sim") or {}).get("split") or "test") if r.get("sim") else None  # noqa: E731
    if split(a) and split(b) and split(a) != split(b):
        return (f"pipeline simulated on the {split(a)} split vs the {split(b)} split: its throughput and latency "
                "would not mean the same; compare builds made with the same SIM_SPLIT")
    return ""


def compare_reports(a: dict, b: dict, tolerances: Tolerances | None = None) -> Comparison:
    """Rows of A, B, difference and percent; rows worse than their tolerance are marked regressions."""
    tolerances = tolerances or Tolerances()
    label = lambda r: f"{r.get('board', '?')}/{r.get('flow', '?')}"  # noqa: E731
    comparison = Comparison(a_label=label(a), b_label=label(b), rows=[])
    reason = comparability(a, b)
    if reason:
        comparison.comparable, comparison.reason = False, reason
        return comparison
    rows = comparison.rows
    add = lambda *args, **kw: rows.append(Row(*args, **kw))  # noqa: E731

    # resources: per stage, per exit unit, total
    ra, rb = a.get("resources") or {}, b.get("resources") or {}
    for block, title in (("stages", "stage"), ("exit_units", "exit unit")):
        sa, sb = _by_index(ra.get(block)), _by_index(rb.get(block))
        indices = set(sa) | set(sb)
        if not indices and block == "stages":
            indices = {int(s["index"]) for s in a.get("stages", [])}
        for k in sorted(indices):
            for key in RESOURCE_KEYS:
                va = _bram(sa.get(k)) if key == "bram" else _number(_get(sa, k, key))
                vb = _bram(sb.get(k)) if key == "bram" else _number(_get(sb, k, key))
                add(f"{title} {k}", key.upper(), va, vb, "lower", key)
            la, lb = _number(_get(sa, k, "latency_cycles")), _number(_get(sb, k, "latency_cycles"))
            if la is not None or lb is not None:
                add(f"{title} {k}", "latency (cycles)", la, lb, "lower", "latency")
    for key in RESOURCE_KEYS:
        va = _bram(ra.get("total")) if key == "bram" else _number(_get(ra, "total", key))
        vb = _bram(rb.get("total")) if key == "bram" else _number(_get(rb, "total", key))
        add("total", key.upper(), va, vb, "lower", key)
    if ra.get("total", {}).get("source") or rb.get("total", {}).get("source"):
        comparison.notes.append(f"resource source: A {_get(ra, 'total', 'source', default='n/a')}, "
                                f"B {_get(rb, 'total', 'source', default='n/a')}")

    # utilisation of each run's own board
    for key, cap_key in (("lut", "lut"), ("ff", "ff"), ("dsp", "dsp"), ("bram", "bram36")):
        add("utilisation", f"{key.upper()} %", _utilisation(ra, key, cap_key),
            _utilisation(rb, key, cap_key))

    # per exit: simulated latency and energy, exit rate, accuracy there
    ea, eb = _by_index(a.get("exits")), _by_index(b.get("exits"))
    xa, xb = _by_index(_get(a, "sim", "exits")), _by_index(_get(b, "sim", "exits"))
    for k in sorted(set(ea) | set(eb)):
        add(f"exit {k}", "latency (cycles)", _number(_get(xa, k, "latency_cycles")),
            _number(_get(xb, k, "latency_cycles")), "lower", "latency")
        add(f"exit {k}", "energy (nJ)", _number(_get(xa, k, "energy_nj")), _number(_get(xb, k, "energy_nj")),
            "lower", "energy")
        add(f"exit {k}", "exit rate %", _pct_of(_get(ea, k, "exit_rate")), _pct_of(_get(eb, k, "exit_rate")))
        add(f"exit {k}", "accuracy there %", _pct_of(_get(ea, k, "accuracy_at_exit")),
            _pct_of(_get(eb, k, "accuracy_at_exit")))

    # whole design
    add("overall", "accuracy %", _pct_of(_get(a, "overall", "accuracy")), _pct_of(_get(b, "overall", "accuracy")),
        "higher", "accuracy")
    add("overall", "avg MACs / sample", _number(_get(a, "overall", "avg_macs")),
        _number(_get(b, "overall", "avg_macs")), "lower", "macs")
    add("overall", "mean latency (cycles)", _number(_get(a, "sim", "early_exit", "mean_latency_cycles")),
        _number(_get(b, "sim", "early_exit", "mean_latency_cycles")), "lower", "latency")
    add("overall", "throughput (samples/cycle)",
        _number(_get(a, "sim", "early_exit", "throughput_samples_per_cycle")),
        _number(_get(b, "sim", "early_exit", "throughput_samples_per_cycle")), "higher", "throughput")
    add("overall", "energy (nJ/sample)", _number(_get(a, "sim", "early_exit", "energy_nj_per_sample")),
        _number(_get(b, "sim", "early_exit", "energy_nj_per_sample")), "lower", "energy")

    for row in rows:
        _judge(row, tolerances)
    comparison.rows = _collapse_absent(rows)
    if a.get("board") != b.get("board"):
        comparison.notes.append(f"different boards ({a.get('board')} vs {b.get('board')}): "
                                "utilisation rows are against each run's own board")
    if a.get("flow") != b.get("flow"):
        comparison.notes.append(f"different flows ({a.get('flow')} vs {b.get('flow')}): "
                                "open-flow counts are Yosys estimates, vendor counts are Vivado's")
    return comparison


def _collapse_absent(rows: list[Row]) -> list[Row]:
    """A block neither report has (e.g. no ``sim`` yet) becomes one n/a row instead of many."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.section.split()[0], []).append(row)
    out = []
    for name, group in groups.items():
        if all(r.a is None and r.b is None for r in group):
            out.append(Row(name, "n/a: in neither report", None, None))
        else:
            out.extend(group)
    return out


def _pct_of(value) -> float | None:
    v = _number(value)
    return None if v is None else 100.0 * v


def _utilisation(resources: dict, key: str, cap_key: str) -> float | None:
    used = _bram(resources.get("total")) if key == "bram" else _number(_get(resources, "total", key))
    cap = _number(_get(resources, "capacity", cap_key))
    return None if used is None or not cap else 100.0 * used / cap


def _judge(row: Row, tolerances: Tolerances) -> None:
    if row.better is None or row.tolerance_key is None or row.diff is None:
        return
    row.tolerance = tolerances.limits.get(row.tolerance_key)
    if row.tolerance is None:
        return
    worse = row.diff if row.better == "lower" else -row.diff
    if row.tolerance_key == "accuracy":       # points, not percent
        row.regression = worse > row.tolerance + 1e-9
    elif row.a == 0:
        row.regression = worse > 0 and (row.tolerance < float("inf"))
    else:
        row.regression = 100.0 * worse / abs(row.a) > row.tolerance + 1e-9


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


def table_rows(comparison: Comparison) -> list[list[str]]:
    out = []
    for r in comparison.rows:
        diff = "n/a" if r.diff is None else ("+" if r.diff > 0 else "") + _fmt(r.diff)
        pct = "n/a" if r.pct is None else f"{r.pct:+.1f}%"
        tol = "" if r.tolerance is None else (f"{r.tolerance:g} pt" if r.tolerance_key == "accuracy"
                                              else f"{r.tolerance:g}%")
        out.append([r.section, r.metric, _fmt(r.a), _fmt(r.b), diff, pct, tol,
                    "REGRESSION" if r.regression else ""])
    return out


HEADER = ["block", "metric", "A", "B", "B-A", "%", "tolerance", ""]


def comparison_markdown(comparison: Comparison) -> str:
    """The same table as Markdown (for CI artefacts and pull-request comments)."""
    if not comparison.comparable:
        return f"**Not comparable:** {comparison.reason}\n"
    lines = [f"A = {comparison.a_label}, B = {comparison.b_label}", "",
             "| " + " | ".join(h or "verdict" for h in HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(comparison)]
    lines += ["", *[f"- {n}" for n in comparison.notes]]
    verdict = (f"**{len(comparison.regressions)} regression(s) beyond tolerance.**" if comparison.regressions
               else "No regression beyond tolerance.")
    return "\n".join(lines + ["", verdict]) + "\n"


def render_comparison(comparison: Comparison, console=None) -> None:
    """The comparison as a rich table (grouped by block) and a one-line verdict."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not comparison.comparable:
        console.print(f"[red]not comparable:[/red] {comparison.reason}")
        return
    table = Table(title=f"A = {comparison.a_label}   B = {comparison.b_label}", title_justify="left")
    for h in HEADER:
        table.add_column(h, justify="right" if h in ("A", "B", "B-A", "%", "tolerance") else "left")
    previous = None
    for row, cells in zip(comparison.rows, table_rows(comparison)):
        if previous is not None and row.section.split()[0] != previous:
            table.add_section()
        previous = row.section.split()[0]
        table.add_row(*cells, style="red" if row.regression else None)
    console.print(table)
    for note in comparison.notes:
        console.print(f"note: {note}")
    if comparison.regressions:
        console.print(f"[red]{len(comparison.regressions)} regression(s) beyond tolerance:[/red] " +
                      ", ".join(f"{r.section} {r.metric}" for r in comparison.regressions))
    else:
        console.print("[green]no regression beyond tolerance[/green]")


def load_report(path: Path | str) -> dict:
    """An exitflow report.json (or the folder holding one); CompareInputError (exit 2) for anything else."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise CompareInputError(f"report {path} does not exist; run `make synth` first or pass a report.json")
    try:
        data = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise CompareInputError(f"{path} is not an exitflow report.json (not text); pass the report.json that "
                                "`make synth` wrote under build/<model>/<board>/") from None
    except json.JSONDecodeError as exc:
        raise CompareInputError(f"{path} is not an exitflow report.json (invalid JSON: {exc.msg} at line "
                                f"{exc.lineno}); pass the report.json that `make synth` wrote") from None
    if not isinstance(data, dict) or "schema" not in data:
        raise CompareInputError(f"{path} is not an exitflow report.json (no 'schema' key); pass the report.json "
                                "that `make synth` wrote under build/<model>/<board>/")
    return data


def compare_main(a_path: Path | str, b_path: Path | str, tolerances: Tolerances | None = None,
                 console=None, markdown: Path | str | None = None) -> int:
    """Print the comparison; 0 = no regression, 1 = B regresses A beyond tolerance, 2 = not comparable.

    An input that is not a report raises CompareInputError (exit code 2 through the CLI).
    ``markdown``: also write the table there (e.g. build/compare.md for CI).
    """
    a, b = load_report(a_path), load_report(b_path)
    comparison = compare_reports(a, b, tolerances)
    render_comparison(comparison, console)
    if markdown is not None:
        Path(markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(markdown).write_text(comparison_markdown(comparison))
    if not comparison.comparable:
        return 2
    return 1 if comparison.regressions else 0
