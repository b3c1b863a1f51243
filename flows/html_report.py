"""A self-contained ``report.html`` per run: tables and matplotlib plots inlined as base64 PNG.

Made from the ``report.json`` dict alone (never from the Markdown), so it works
on any run; each block the report lacks (``resources``, ``sim``, ``sweep``,
``pr``) is left out with a line saying so. No external assets: the file opens
offline and can be attached to a CI run.
"""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

PLOT_DPI = 100


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(6.4, 3.8))


def _png(fig, plt) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=PLOT_DPI)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_sweep(report: dict, x_key: str) -> str | None:
    """Accuracy vs ``x_key`` (mean_latency_cycles, energy_nj or avg_macs) over the threshold sweep."""
    points = [p for p in report.get("sweep") or [] if p.get(x_key) is not None and p.get("accuracy") is not None]
    if not points:
        return None
    labels = {"mean_latency_cycles": "mean latency (cycles)", "energy_nj": "energy per sample (nJ, modelled)",
              "avg_macs": "average MACs per sample"}
    plt, fig, ax = _figure()
    xs, ys = [p[x_key] for p in points], [100 * p["accuracy"] for p in points]
    ax.plot(xs, ys, "o-", color="tab:blue", label="threshold sweep")
    for p, x, y in zip(points, xs, ys):
        tag = p.get("accuracy_drop", p.get("threshold_scale"))
        if tag is not None:
            ax.annotate(f"{tag:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    chosen = _chosen_point(report, x_key)
    if chosen is not None:
        ax.plot(*chosen, "*", color="tab:red", markersize=14, label="this run")
    final = (report.get("overall") or {}).get("final_exit_accuracy")
    if final is not None:
        ax.axhline(100 * final, color="grey", ls="--", lw=1, label="final exit alone")
    ax.set_xlabel(labels.get(x_key, x_key))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs cost as the exit thresholds sweep (labels: accuracy-drop target)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig, plt)


def _chosen_point(report: dict, x_key: str) -> tuple[float, float] | None:
    overall = report.get("overall") or {}
    x = {"avg_macs": overall.get("avg_macs"),
         "mean_latency_cycles": ((report.get("sim") or {}).get("early_exit") or {}).get("mean_latency_cycles"),
         "energy_nj": ((report.get("sim") or {}).get("early_exit") or {}).get("energy_nj_per_sample")}.get(x_key)
    if x is None or overall.get("accuracy") is None:
        return None
    return x, 100 * overall["accuracy"]


def plot_exit_distribution(report: dict) -> str | None:
    exits = report.get("exits") or []
    if not exits:
        return None
    plt, fig, ax = _figure()
    idx = [e["index"] for e in exits]
    rates = [100 * (e.get("exit_rate") or 0) for e in exits]
    bars = ax.bar([f"exit {k}" for k in idx], rates, color="tab:blue")
    for bar, e in zip(bars, exits):
        acc = e.get("accuracy_at_exit")
        label = f"{bar.get_height():.1f}%" + ("" if acc is None else f"\nacc {100 * acc:.1f}%")
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("samples leaving here (%)")
    ax.set_ylim(0, max(rates + [1]) * 1.25)
    ax.set_title("Exit distribution on the test set", fontsize=9)
    return _png(fig, plt)


def plot_resources(report: dict) -> str | None:
    """Per-stage and per-exit-unit LUT/FF/DSP/BRAM as % of the board's capacity."""
    res = report.get("resources") or {}
    capacity = res.get("capacity") or {}
    blocks = [(f"stage {r['index']}", r) for r in res.get("stages") or []]
    blocks += [(f"exit unit {r['index']}", r) for r in res.get("exit_units") or []]
    if not blocks or not capacity:
        return None
    import numpy as np

    keys = [("lut", "lut"), ("ff", "ff"), ("dsp", "dsp"), ("bram", "bram36")]
    plt, fig, ax = _figure()
    width = 0.8 / len(keys)
    x = np.arange(len(blocks))
    for i, (key, cap_key) in enumerate(keys):
        cap = capacity.get(cap_key) or 0
        values = [100.0 * float(r.get(key) or 0) / cap if cap else 0.0 for _, r in blocks]
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, label=key.upper())
    ax.set_xticks(x, [name for name, _ in blocks], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"% of {report.get('board', 'board')} capacity")
    ax.set_title(f"Resources per block against {report.get('board')} ({report.get('part')})", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig, plt)


def plot_pr_batches(report: dict) -> str | None:
    """The partial-reconfiguration batch sweep: throughput and p99 latency vs batch size."""
    sweep = (report.get("pr") or {}).get("sweep") or []
    rows = [r for r in sweep if r.get("batch_size") and r.get("throughput_samples_per_s")]
    if not rows:
        return None
    plt, fig, ax = _figure()
    batch = [r["batch_size"] for r in rows]
    ax.plot(batch, [r["throughput_samples_per_s"] for r in rows], "o-", color="tab:blue", label="PR throughput")
    resident = next((s for s in (report["pr"].get("schedules") or []) if s.get("name") == "all_resident"), None)
    if resident and resident.get("throughput_samples_per_s"):
        ax.axhline(resident["throughput_samples_per_s"], color="tab:green", ls="--", label="all resident")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size (samples)")
    ax.set_ylabel("throughput (samples/s)")
    if any(r.get("p99_latency_s") for r in rows):
        ax2 = ax.twinx()
        ax2.plot(batch, [r.get("p99_latency_s") for r in rows], "s-", color="tab:red", label="p99 latency")
        ax2.set_yscale("log")
        ax2.set_ylabel("p99 latency (s)", color="tab:red")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Partial reconfiguration: batch size sweep", fontsize=9)
    return _png(fig, plt)


# ---------------------------------------------------------------- HTML

CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}
figcaption{font-size:.85em;color:#555}.na{color:#888;font-style:italic}img{max-width:100%}
.off{color:#c00;font-weight:bold}"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _threshold(exit_: dict) -> str:
    """A null threshold beside a register code: the code lets no sample out (max_prob code 0)."""
    if exit_.get("threshold") is None and exit_.get("threshold_code") is not None:
        return "never (no sample exits)"
    return _fmt(exit_.get("threshold"))


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if pct:
            return f"{100 * value:.1f}%"
        if isinstance(value, int) or abs(value) >= 1000:  # whole numbers, not 1.541e+04
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, dict) and "mean" in value:
        if value["mean"] is None:
            return "n/a"
        return f"{value.get('min', '?')} / {value['mean']:.4g} / {value.get('max', '?')}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(data: str | None, caption: str, plot_id: str) -> str:
    if data is None:
        return ""
    return (f'<figure><img class="plot" id="{plot_id}" alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _absent(what: str) -> str:
    return f'<p class="na">{_e(what)}: not in this report.</p>'


def design_table(design: dict) -> str:
    """Predicted vs measured per metric; an error beyond the metric's tolerance gets class "off" (red)."""
    predicted, errors, limits = design.get("predicted") or {}, design.get("errors") or {}, design.get("tolerances") or {}
    rows = []
    for key, value in (design.get("measured") or {}).items():
        err = errors.get(key)
        off = err is not None and abs(err) > limits.get(key, float("inf"))
        text = "n/a" if err is None else f"{100 * err:+.1f}%"
        cell = '<td class="off">' if off else "<td>"
        label = f"{key} (modelled)" if key.startswith("energy") else key
        rows.append(f"<tr><td>{_e(label)}</td><td>{_e(_fmt(predicted.get(key)))}</td><td>{_e(_fmt(value))}</td>"
                    f"{cell}{_e(text)}</td></tr>")
    split = design.get("predicted_on", "model")
    return (f"<table><thead><tr><th>metric</th><th>predicted ({_e(split)} split)</th><th>measured (test split)</th>"
            f"<th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>{_e(design.get('measured_by', ''))}.</p>")


def to_html(report: dict) -> str:
    o = report.get("overall") or {}
    title = f"{report.get('model')} on {report.get('board')} ({report.get('part')}, {report.get('clock_mhz', 0):g} MHz)"
    parts = [f"<h1>{_e(title)}</h1>"]
    if o:
        parts.append(f"<p>Accuracy {_fmt(o.get('accuracy'), True)} with early exits vs "
                     f"{_fmt(o.get('final_exit_accuracy'), True)} for the final exit alone; "
                     f"{_fmt(o.get('avg_macs'))} MACs per sample on average vs {_fmt(o.get('baseline_macs'))} "
                     f"({_fmt(o.get('macs_saved_pct'))}% saved). Cores from the {_e(report.get('flow'))} flow.</p>")

    parts.append("<h2>Exits</h2>")
    exits = report.get("exits") or []
    parts.append(_table(["exit", "policy", "threshold", "register", "exit rate", "accuracy there", "cumulative MACs"],
                        [[e.get("index"), e.get("policy"), _threshold(e), e.get("threshold_code"),
                          _fmt(e.get("exit_rate"), True), _fmt(e.get("accuracy_at_exit"), True),
                          _fmt(e.get("cumulative_macs"))] for e in exits]) if exits else _absent("exits"))
    parts.append(_img(plot_exit_distribution(report), "Exit distribution (test set)", "plot-exits"))

    parts.append("<h2>Accuracy vs cost</h2>")
    sweep_plots = [(plot_sweep(report, key), caption, f"plot-sweep-{key}") for key, caption in
                   (("mean_latency_cycles", "Accuracy vs mean latency"), ("energy_nj", "Accuracy vs energy"),
                    ("avg_macs", "Accuracy vs average MACs"))]
    shown = [p for p in sweep_plots if p[0] is not None]
    # latency and energy when simulated; MACs as the always-available cost otherwise
    if any(p[2] != "plot-sweep-avg_macs" for p in shown):
        shown = [p for p in shown if p[2] != "plot-sweep-avg_macs"]
    parts += [_img(*p) for p in shown] or [_absent("threshold sweep (sweep)")]

    parts.append("<h2>Stages</h2>")
    stages = report.get("stages") or []
    parts.append(_table(["stage", "input", "MACs", "logits", "C-sim exact", "max abs diff"],
                        [[s.get("index"), "x".join(map(str, s.get("input_shape", []))), _fmt(s.get("macs")),
                          s.get("logit_format") or "n/a", _fmt(s.get("csim_bit_exact")), _fmt(s.get("max_abs_diff"))]
                         for s in stages]) if stages else _absent("stages"))

    parts.append("<h2>Resources</h2>")
    res = report.get("resources") or {}
    if res:
        rows = [[f"stage {r.get('index')}", *(_fmt(r.get(k)) for k in ("lut", "ff", "dsp", "bram", "latency_cycles")),
                 r.get("source", "")] for r in res.get("stages") or []]
        rows += [[f"exit unit {r.get('index')}", *(_fmt(r.get(k)) for k in ("lut", "ff", "dsp", "bram",
                                                                            "latency_cycles")), r.get("source", "")]
                 for r in res.get("exit_units") or []]
        total, cap = res.get("total") or {}, res.get("capacity") or {}
        rows.append(["total", *(_fmt(total.get(k)) for k in ("lut", "ff", "dsp", "bram", "latency_cycles")),
                     total.get("source", "")])
        rows.append([f"{report.get('board')} capacity", *(_fmt(cap.get(k)) for k in ("lut", "ff", "dsp", "bram36")),
                     "", ""])
        parts.append(_table(["block", "LUT", "FF", "DSP", "BRAM36", "latency (cycles)", "source"], rows))
        parts.append(_img(plot_resources(report), "Resources against board capacity", "plot-resources"))
    else:
        parts.append(_absent("resources"))

    sim = report.get("sim") or {}
    parts.append("<h2>Simulation</h2>")
    if sim:
        rows = [[f"exit {x.get('index')}", _fmt(x.get("samples")), _fmt(x.get("latency_cycles")),
                 _fmt(x.get("energy_nj"))] for x in sim.get("exits") or []]
        parts.append(_table(["exit", "samples", "latency min / mean / max (cycles)", "energy (nJ, modelled)"], rows))
        ee = sim.get("early_exit") or {}
        parts.append(f"<p>Early exit: mean latency {_fmt(ee.get('mean_latency_cycles'))} cycles, steady-state "
                     f"throughput {_fmt(ee.get('throughput_samples_per_cycle'))} samples/cycle (whole run, fill and "
                     f"drain included: {_fmt(ee.get('whole_run_samples_per_cycle'))}), "
                     f"{_fmt(ee.get('energy_nj_per_sample'))} nJ/sample (modelled); speed-up "
                     f"{_fmt(sim.get('speedup'))}.</p>")
        if sim.get("throughput_definition"):
            parts.append(f"<p><small>{_e(sim['throughput_definition'])}</small></p>")
        if sim.get("energy_model"):
            from sim.pipeline.energy import energy_sentence

            parts.append(f"<p>Energy is {_e(energy_sentence(sim['energy_model']))}</p>")
    else:
        parts.append(_absent("simulation (sim)"))

    design = report.get("design")
    if design:
        parts.append("<h2>Design point: predicted vs measured</h2>")
        parts.append(f"<p>Point <code>{_e(design.get('id'))}</code>: exits {_e(design.get('exits'))}, "
                     f"thresholds {_e(design.get('thresholds'))} ({_e(design.get('policy'))}), P per stage "
                     f"{_e(design.get('parallelism'))}, mode {_e(design.get('mode'))}.</p>")
        parts.append(design_table(design))
    if report.get("pr"):
        parts.append("<h2>Partial reconfiguration</h2>")
        parts.append(_img(plot_pr_batches(report), "Batch-size sweep", "plot-pr"))
    notes = report.get("notes") or []
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    tools = report.get("tools") or {}
    parts.append("<p><small>Tools: " + _e(", ".join(f"{k} {v}" for k, v in tools.items())) + "</small></p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n")


def write_html_report(report: dict, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` atomically and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(to_html(report))
    os.replace(tmp, path)
    return path
