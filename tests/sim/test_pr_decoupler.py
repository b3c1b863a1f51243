"""The PR region wrapper's decoupler, in cocotb: a mid-stream reconfiguration loses and duplicates nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.runner import run_cocotb

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hardware" / "pr"
TB_DIR = ROOT / "sim" / "pr"
SOURCES = [RTL / "pr_decoupler.v", RTL / "pr_region_wrapper.v", TB_DIR / "stage_rm_model.v"]


@pytest.mark.parametrize("simulator,stall", [("icarus", 0.3), ("icarus", 0.0), ("verilator", 0.5)])
def test_region_reconfigured_mid_stream_delivers_every_packet_once(tmp_path, simulator, stall):
    run_cocotb(SOURCES, "pr_region_wrapper", "tb_pr_decoupler", TB_DIR, tmp_path / "sim", simulator=simulator,
               parameters={"DATA_W": 16}, extra_env={"TB_STALL": stall, "TB_SEED": 3})
