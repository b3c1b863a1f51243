"""A stage core wrapped as the region's reconfigurable module streams through the decoupler intact."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardware.pr.rm import write_stage_rm
from sim.runner import run_cocotb

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hardware" / "pr"
TB_DIR = ROOT / "sim" / "pr"


@pytest.mark.parametrize("simulator,in_w,out_w", [("icarus", 40, 72), ("icarus", 64, 16), ("verilator", 40, 72)])
def test_generated_stage_module_packs_and_unpacks_samples(tmp_path, simulator, in_w, out_w):
    core = [TB_DIR / "stage_core_model.v", ROOT / "hardware" / "fifo" / "pl_fifo.v",
            ROOT / "hardware" / "stream_shell" / "stream_shell.v"]
    files = write_stage_rm(1, "stage_core_model", in_w, out_w, core, tmp_path / "rm",
                           core_params={"IN_W": in_w, "OUT_W": out_w})
    sources = [RTL / "pr_decoupler.v", RTL / "pr_region_wrapper.v", *files]
    run_cocotb(sources, "pr_region_wrapper", "tb_pr_stage_rm", TB_DIR, tmp_path / "sim", simulator=simulator,
               extra_env={"TB_IN_W": in_w, "TB_OUT_W": out_w, "TB_STALL": 0.3, "TB_SEED": 2})


def test_missing_core_sources_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="build the stage RTL first"):
        write_stage_rm(2, "stage_2", 64, 64, [tmp_path / "stage_2.v"], tmp_path)
