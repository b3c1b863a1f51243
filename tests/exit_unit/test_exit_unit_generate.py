"""The RTL generator: names, files, stated latency/II, LUT contents from the reference tables."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hardware.exit_unit.generate import VARIANTS, write_unit
from exit_unit.reference import POLICIES, ExitUnitConfig
from frontend.fixedpoint import FixedFormat

LOGIT = FixedFormat(16, 9)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_unit_is_named_by_config_and_states_timing(policy, variant, tmp_path):
    cfg = ExitUnitConfig(10, LOGIT, policy)
    unit = write_unit(cfg, variant, tmp_path)
    assert unit.top == f"exit_unit_10c_16b_{policy.replace('_', '')}" + ("_serial" if variant == "serial" else "")
    text = unit.files[0].read_text()
    assert text.startswith("`timescale")
    assert f"localparam LATENCY = {unit.latency_cycles};" in text
    assert unit.ii == (1 if variant == "parallel" else 10)
    if variant == "parallel":
        assert unit.latency_cycles <= 6


def test_lut_contents_are_the_reference_tables(tmp_path):
    cfg = ExitUnitConfig(10, LOGIT, "entropy")
    text = write_unit(cfg, "parallel", tmp_path).files[0].read_text()
    for name, table in (("exp_lut", cfg.exp_table), ("xexp_lut", cfg.xexp_table), ("ln_lut", cfg.ln_table),
                        ("recip_lut", cfg.recip_table), ("kln_lut", cfg.kln_table)):
        body = text.split(f"function [")[0:0] or text[text.index(f"] {name};"):]
        body = body[:body.index("endfunction")]
        entries = [int(v) for v in re.findall(rf"'d\d+: {name} = \d+'d(\d+);", body)]
        assert entries == [int(v) for v in table], name


def test_unknown_variant_fails_before_writing(tmp_path):
    with pytest.raises(ValueError, match="variant"):
        write_unit(ExitUnitConfig(10, LOGIT, "margin"), "systolic", tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_verilog_elaborates_in_icarus(variant, tmp_path):
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    for policy in POLICIES:
        unit = write_unit(ExitUnitConfig(10, LOGIT, policy), variant, tmp_path)
        proc = subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "a.out"), "-s", unit.top,
                               *map(str, unit.files)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
