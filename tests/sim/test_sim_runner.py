"""sim.runner: builds, runs, passes data through env-named files, names failing tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.runner import CocotbFailure, run_cocotb

PROBE_DIR = Path(__file__).resolve().parent / "runner_probe"
INVERTER = """`timescale 1ns / 1ps
module inverter (input wire a, output wire y);
  assign y = ~a;
endmodule
"""


@pytest.fixture
def inverter(tmp_path):
    path = tmp_path / "inverter.v"
    path.write_text(INVERTER)
    return path


def test_passing_run_returns_results_and_sees_env_files(inverter, tmp_path):
    result_file = tmp_path / "out.txt"
    results = run_cocotb([inverter], "inverter", "runner_probe_tb", PROBE_DIR, tmp_path / "b", simulator="icarus",
                         extra_env={"TB_RESULT": result_file, "TB_FAIL": "0"})
    assert results.is_file() and result_file.read_text() == "ok"


def test_failing_cocotb_test_is_named_in_the_error(inverter, tmp_path):
    with pytest.raises(CocotbFailure, match="deliberately_fails"):
        run_cocotb([inverter], "inverter", "runner_probe_tb", PROBE_DIR, tmp_path / "b", simulator="icarus",
                   extra_env={"TB_RESULT": tmp_path / "out.txt", "TB_FAIL": "1"})


def test_unknown_simulator_is_rejected(inverter, tmp_path):
    with pytest.raises(ValueError, match="unknown simulator"):
        run_cocotb([inverter], "inverter", "runner_probe_tb", PROBE_DIR, tmp_path, simulator="modelsim")
