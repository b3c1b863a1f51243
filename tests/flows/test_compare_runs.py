"""compare on real runs of the example: two boards agree; a looser calibration target gates CI."""
from pathlib import Path

import pytest
from rich.console import Console

from flows.compare import Tolerances, compare_main, compare_reports, load_report

def _run(board: str, keep: Path, root: Path, accuracy_drop: float | None = None) -> Path:
    """One run of the example (no HLS); its report.json is copied to ``keep`` (the module's runs share ``root``)."""
    from flows.synth import SynthOptions, run_synth

    build = run_synth(SynthOptions(board=board, build_root=root, hls=False, rtl=False, accuracy_drop=accuracy_drop),
                      Console(quiet=True))
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(build.report_paths[0].read_text())
    return keep


@pytest.fixture(scope="module")
def runs(tmp_path_factory, example_build_root):
    tmp, root = tmp_path_factory.mktemp("reports"), example_build_root
    return {"pynq-z2": _run("pynq-z2", tmp / "pynq.json", root), "zcu104": _run("zcu104", tmp / "zcu104.json", root),
            "drop3": _run("pynq-z2", tmp / "drop3.json", root, 3.0)}


def test_same_model_on_two_boards_compares_clean(runs):
    console = Console(width=140, record=True)
    assert compare_main(runs["pynq-z2"], runs["zcu104"], Tolerances(), console) == 0
    text = console.export_text()
    assert "pynq-z2/open" in text and "zcu104/open" in text and "different boards" in text


def test_a_looser_accuracy_target_is_flagged_unless_tolerated(runs):
    a, b = load_report(runs["pynq-z2"]), load_report(runs["drop3"])
    lost = 100 * (a["overall"]["accuracy"] - b["overall"]["accuracy"])
    comparison = compare_reports(a, b, Tolerances())
    if lost > 0.5:
        assert compare_main(runs["pynq-z2"], runs["drop3"], Tolerances(), Console(quiet=True)) == 1
        assert any(r.metric == "accuracy %" for r in comparison.regressions)
    tolerant = Tolerances.parse([f"accuracy={lost + 0.01:.2f}", "macs=100"])
    assert compare_main(runs["pynq-z2"], runs["drop3"], tolerant, Console(quiet=True)) == 0


def test_every_new_board_runs_the_open_flow(runs, tmp_path, example_build_root):
    for board in ("ultra96-v2", "kv260", "arty-a7-100t"):
        report = load_report(_run(board, tmp_path / f"{board}.json", example_build_root))
        assert report["board"] == board and report["flow"] == "open"
