"""front.png and dse.md of a streaming DSE (front.json is the record; these read it)."""
from __future__ import annotations

from pathlib import Path


def plot_front(path: Path, doc: dict) -> None:
    """Throughput against LUTs per budget: the best adaptive design and the best no-exit design, predicted
    (lines) and measured (crosses)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, colour in (("adaptive", "early exit (adaptive)", "tab:blue"), ("baseline", "no exit", "tab:grey")):
        rows = [r[key] for r in doc["budget_sweep"] if r.get(key)]
        ax.plot([r["predicted"]["lut"] for r in rows], [r["predicted"]["throughput_samples_per_s"] for r in rows],
                "o-", c=colour, label=f"{label}, predicted")
    measured = [p for p in [doc["chosen"], doc["baseline"], *doc["front"]] if p and (p.get("measured") or {}).get("lut")]
    if measured:
        ax.scatter([p["measured"]["lut"] for p in measured],
                   [p["measured"]["throughput_samples_per_s"] for p in measured], marker="x", s=70, c="k",
                   label="measured (Yosys + pipeline RTL)", zorder=5)
    ax.set_xlabel("LUTs")
    ax.set_ylabel("samples/s (steady state)")
    ax.set_title(f"{doc['model']} on {doc['board']}: best design per LUT budget")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _tp(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _design(p: dict) -> str:
    return (f"exits {p['exits']} ({', '.join(p['policies'])}), P {p['parallelism']}, II {p['stage_ii']}, "
            f"buffer {p['buffer_frames']} frames")


def write_markdown(path: Path, doc: dict) -> None:
    lines = [f"# Streaming DSE: {doc['model']} on {doc['board']}", "",
             f"Selected on the **{doc['selected_on']}** split; the test split is only reported. "
             f"LUT budget {doc['budget']['lut']:,}. Accuracy constraint: {doc['accuracy_constraint']}.", "",
             "| role | design | LUT pred. | LUT meas. | samples/s pred. (test) | samples/s meas. | accuracy sel. | "
             "accuracy test | errors % (LUT, throughput, bursty order) |", "|---|---|---|---|---|---|---|---|---|"]
    rows = [("chosen", doc["chosen"]), ("baseline (no exit)", doc["baseline"]), ("subnet", doc["subnet"])]
    rows += [("front", p) for p in doc["front"] if p.get("measured") and p["id"] != doc["chosen"]["id"]]
    for role, p in rows:
        if not p:
            continue
        m = p.get("measured") or {}
        t = p.get("predicted_test") or {}
        err = p.get("errors_pct") or {}
        lines.append(f"| {role} | {_design(p)} | {p['predicted']['lut']:,.0f} | {_tp(m.get('lut'))} | "
                     f"{_tp(t.get('throughput_samples_per_s'))} | {_tp(m.get('throughput_samples_per_s'))} | "
                     f"{p['accuracy_selection']:.4f} | {p.get('accuracy_test', float('nan')):.4f} | "
                     f"{', '.join(f'{v:+.1f}' for v in err.values()) or '-'} |")
    r = doc["throughput_ratio"]
    lines += ["", f"Throughput, early exit over no exit at the same budget: predicted "
                  f"{r['predicted']:.2f}x" + (f", measured **{r['measured']:.2f}x**" if r.get("measured") else "")
              + f" (ATHEENA reports {r['atheena_reported']}x).", "",
              "## Best design per LUT budget (predicted)", "",
              "| LUT budget | early exit: LUT, samples/s | no exit: LUT, samples/s | ratio |", "|---|---|---|---|"]
    for row in doc["budget_sweep"]:
        cell = (lambda p: "-" if not p else f"{p['predicted']['lut']:,.0f}, "  # noqa: E731
                f"{p['predicted']['throughput_samples_per_s']:,.0f}")
        ratio = "-" if row["ratio_predicted"] is None else f"{row['ratio_predicted']:.2f}x"
        lines.append(f"| {row['lut_budget']:,} | {cell(row['adaptive'])} | {cell(row['baseline'])} | {ratio} |")
    pr = doc.get("pr") or {}
    if pr.get("decisions"):
        lines += ["", "## Partial reconfiguration (modelled)", ""]
        for dec in pr["decisions"]:
            lines.append(f"- {dec['lut_budget']:,} LUTs: **{dec['winner']}**: {dec['why']}")
            for name, sch in (dec.get("pr_on_whole_device") or (dec.get("pr") or {}).get("schedules") or {}).items():
                lines.append(f"  - {name} (batch {sch['batch_size']}): {sch['throughput_samples_per_s']:,.0f} samples/s, "
                             f"p99 {sch['p99_latency_s'] * 1e3:.2f} ms, {sch['reconfigs_per_1000']:.1f} reconfigurations "
                             "per 1,000 samples (modelled)" + (" on the whole device" if dec.get("pr_on_whole_device")
                                                               else ""))
        if pr.get("note"):
            lines.append(f"- {pr['note']}")
    q = (doc["chosen"]["predicted"] or {}).get("queue")
    if q:
        lines += ["", "## Conditional buffer as a queue (chosen design; bursts: every built point with a buffer)", "",
                  f"- q = {q['q']:.3f} of samples go on; {q['buffer_frames_held']} frames held; M/D/1/K blocking "
                  f"{q['blocking']:.4f}, stage-2 utilisation {q['stage2_utilisation']:.3f}, "
                  f"{q['throughput_samples_per_s']:,.0f} samples/s (analytic) vs the trace's "
                  f"{doc['chosen']['predicted']['throughput_samples_per_s']:,.0f}"]
    burst_rows = [p for p in [doc["chosen"], *doc.get("front", [])]
                  if (p.get("measured") or {}).get("throughput_bursty_samples_per_s")]
    for p in {p["id"]: p for p in burst_rows}.values():
        m, pred = p["measured"], p.get("predicted_test") or {}
        want = pred.get("throughput_bursty_samples_per_s")
        lines.append(f"- {p['id']} ({p.get('role', 'front')}), the test split with the hard samples in bursts of 8: "
                     f"{want:,.0f} samples/s predicted, {m['throughput_bursty_samples_per_s']:,.0f} measured"
                     if want else f"- {p['id']}: {m['throughput_bursty_samples_per_s']:,.0f} samples/s measured in bursts")
    lines += read_fraction_lines((doc.get("figures") or {}).get("queue_read_fraction") or {})
    lines += ["", f"Energy: {doc['energy']['basis']}.", f"Evaluated {doc['evaluated']:,} designs in "
              f"{doc['seconds']:.0f} s."]
    path.write_text("\n".join(lines) + "\n")


def read_fraction_lines(rf: dict) -> list[str]:
    """The queue model's one constant, its basis, and the calibration-split predictions at other values."""
    if not rf:
        return []
    lines = ["", f"Queue constant READ_FRACTION = {rf['value']:g}: {rf['basis']}."]
    for pid, by_value in (rf.get("sensitivity_calibration") or {}).items():
        lines.append(f"- {pid}, predicted on the calibration split at READ_FRACTION " + ", ".join(
            f"{v}: {r['nominal']:,.0f} / {r['bursty']:,.0f}" for v, r in by_value.items())
            + " samples/s (its order / bursts of 8)")
    return lines
