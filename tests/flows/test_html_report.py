"""report.html: self-contained, plots decoded by a real (headless) browser, sweep computed on real data."""
import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flows.html_report import to_html, write_html_report
from flows.sweep import threshold_sweep

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits_build(example_build_root):
    from rich.console import Console

    from flows.synth import SynthOptions, run_synth

    return run_synth(SynthOptions(build_root=example_build_root, hls=False, rtl=False), Console(quiet=True))


@pytest.fixture(scope="module")
def codes(digits_build):
    from frontend.calibrate import logit_codes

    b = digits_build
    return (logit_codes(b.model, b.stages, b.dataset.x_cal), b.dataset.y_cal,
            logit_codes(b.model, b.stages, b.dataset.x_test), b.dataset.y_test)


def _exit_macs(build):
    from frontend.macs import baseline_macs, cumulative_exit_macs

    return cumulative_exit_macs(build.stages), baseline_macs(build.stages)


def test_sweep_point_at_the_runs_target_reproduces_the_report(digits_build, codes):
    b = digits_build
    macs, base = _exit_macs(b)
    drop = b.training["accuracy_drop_target"]
    (point,) = threshold_sweep(b.exit_configs, *codes, macs, base, drops=(drop,))
    assert point["thresholds"] == b.thresholds
    assert point["accuracy"] == b.evaluation.accuracy and point["avg_macs"] == b.evaluation.avg_macs


def test_sweep_calibrates_with_the_flows_safety_margin(digits_build, codes):
    from frontend.calibrate import calibrate

    b = digits_build
    macs, base = _exit_macs(b)
    (point,) = threshold_sweep(b.exit_configs, *codes, macs, base, drops=(1.0,), margin_se=0.0)
    assert point["thresholds"] == calibrate(b.exit_configs, codes[0], codes[1], macs, 1.0, 0.0)


def test_looser_accuracy_targets_never_cost_more_macs_on_the_calibration_split(digits_build, codes):
    b = digits_build
    macs, base = _exit_macs(b)
    cal_codes, cal_y = codes[0], codes[1]
    points = threshold_sweep(b.exit_configs, cal_codes, cal_y, cal_codes, cal_y, macs, base,
                             exit_latency_cycles=[40, 90, 120], exit_energy_nj=[4.0, 9.0, 12.0])
    assert [p["accuracy_drop"] for p in points] == [0, 0.5, 1, 2, 4, 8]
    avg = [p["avg_macs"] for p in points]
    assert all(x >= y for x, y in zip(avg, avg[1:])), avg
    final = b.calibration_eval.final_exit_accuracy
    for p in points:
        assert p["accuracy"] >= final - p["accuracy_drop"] / 100 - 1e-12
        assert p["mean_latency_cycles"] == pytest.approx(float(np.dot(p["exit_rates"], [40, 90, 120])))
        assert sum(p["exit_rates"]) == pytest.approx(1.0)


def test_sweep_rejects_per_exit_lists_of_the_wrong_length(digits_build, codes):
    b = digits_build
    macs, base = _exit_macs(b)
    with pytest.raises(ValueError, match="one per exit"):
        threshold_sweep(b.exit_configs, *codes, macs, base, exit_latency_cycles=[1, 2])


def _full_report(build, codes) -> dict:
    """The run's real report plus the blocks later steps add (resources, sim figures are illustrative)."""
    report = build.report.to_dict()
    macs, base = _exit_macs(build)
    report["sweep"] = threshold_sweep(build.exit_configs, *codes, macs, base,
                                      exit_latency_cycles=[40, 90, 120], exit_energy_nj=[4.0, 9.0, 12.0])
    rec = lambda k, lut: {"index": k, "lut": lut, "ff": lut // 2, "dsp": k, "bram": 0.5, "source": "yosys"}  # noqa
    report["resources"] = {"stages": [rec(1, 900), rec(2, 2500), rec(3, 800)],
                           "exit_units": [rec(1, 150), rec(2, 150), rec(3, 150)],
                           "total": rec(0, 4650), "capacity": {"lut": 53200, "ff": 106400, "bram36": 140, "dsp": 220}}
    report["sim"] = {"exits": [{"index": k, "samples": 10, "latency_cycles": {"min": c, "mean": c, "max": c},
                                "energy_nj": e} for k, c, e in ((1, 40, 4.0), (2, 90, 9.0), (3, 120, 12.0))],
                     "early_exit": {"mean_latency_cycles": 55.0, "throughput_samples_per_cycle": 0.02,
                                    "energy_nj_per_sample": 5.5}, "speedup": 2.1}
    report["pr"] = {"sweep": [{"batch_size": n, "throughput_samples_per_s": 1e4 * n / (n + 8),
                               "p99_latency_s": 1e-4 * n} for n in (1, 2, 4, 8, 16, 32)],
                    "schedules": [{"name": "all_resident", "throughput_samples_per_s": 1e4}]}
    return report


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_html_is_self_contained_with_every_plot(digits_build, codes, tmp_path):
    path = write_html_report(_full_report(digits_build, codes), tmp_path)
    text = path.read_text()
    ids = re.findall(r'<img class="plot" id="([^"]+)"', text)
    assert ids == ["plot-exits", "plot-sweep-mean_latency_cycles", "plot-sweep-energy_nj", "plot-resources",
                   "plot-pr"]
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in _images(text))
    assert not re.search(r'(src|href)="(https?:|//|file:)', text)  # nothing fetched from outside
    assert not (tmp_path / "report.html.tmp").exists()


def test_html_of_a_report_without_later_blocks_says_what_is_missing(digits_build):
    report = digits_build.report.to_dict()   # a run without the RTL steps: no resources, no simulation
    report.pop("sweep")
    text = to_html(report)
    for block in ("resources", "simulation (sim)", "threshold sweep (sweep)"):
        assert f"{block}: not in this report" in text
    assert re.findall(r'<img class="plot" id="([^"]+)"', text) == ["plot-exits"]


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
PROBE = """<script>window.addEventListener("load", function () {
  var out = document.createElement("pre"); out.id = "probe";
  out.textContent = Array.from(document.images).map(function (i) {
    return i.id + " " + i.naturalWidth + " " + i.naturalHeight; }).join("\\n");
  document.body.appendChild(out); });</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(BROWSER is None, reason="headless browser test needs Debian package `chromium` (apt-get install -y chromium)")
def test_headless_browser_decodes_every_plot_and_renders_a_non_blank_page(digits_build, codes, tmp_path):
    path = write_html_report(_full_report(digits_build, codes), tmp_path / "run")
    probe = tmp_path / "probe.html"   # the report plus a probe that lists each image's decoded size
    probe.write_text(path.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium(tmp_path, "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page did not finish loading in the browser"
    sizes = {line.split()[0]: (int(line.split()[1]), int(line.split()[2])) for line in found.group(1).splitlines()}
    assert set(sizes) == {"plot-exits", "plot-sweep-mean_latency_cycles", "plot-sweep-energy_nj", "plot-resources",
                          "plot-pr"}
    assert all(w == 640 and h == 380 for w, h in sizes.values()), sizes   # 6.4 x 3.8 in at 100 dpi, decoded

    shot = tmp_path / "page.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", path.as_uri())
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[0] == 1400 and pixels.shape[1] == 1000
    assert pixels[..., :3].std() > 0.05   # text and plots, not a blank page


def test_design_point_table_marks_metrics_beyond_their_tolerance():
    from flows.html_report import design_table

    design = {"predicted": {"lut": 1000.0, "throughput_samples_per_s": 1e7, "energy_nj_per_sample": 4.0},
              "measured": {"lut": 1300.0, "throughput_samples_per_s": 1.05e7, "energy_nj_per_sample": None},
              "errors": {"lut": 0.3, "throughput_samples_per_s": 0.05},
              "tolerances": {"lut": 0.15, "throughput_samples_per_s": 0.10}}
    table = design_table(design)
    assert '<td class="off">+30.0%</td>' in table
    assert "<td>+5.0%</td>" in table and table.count('class="off"') == 1
    assert "<td>energy_nj_per_sample (modelled)</td><td>4</td><td>n/a</td><td>n/a</td>" in table
