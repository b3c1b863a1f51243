"""DSE stage costs: conv sites found with their input formats, LUT(P) fitted from folded-stage probes."""
from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("qkeras")


class _Stage:
    def __init__(self, model, input_format):
        self.model, self.input_format = model, input_format


def test_stage_costs_fit_probes_and_use_the_measured_full_core_at_all_windows(tmp_path):
    from flows.dse.costs import conv_sites, fold_probes, probe_parallelisms, stage_costs
    from frontend.fixedpoint import FixedFormat
    from sim.stage.testmodels import two_exit_stages

    s1, s2 = two_exit_stages(seed=1)
    stages = [_Stage(s1, None), _Stage(s2, FixedFormat(6, 4, True))]
    sites = conv_sites(stages)
    assert [(s.stage, s.pixels, s.input_format) for s in sites] == [(1, 36, FixedFormat(7, 5, True))]
    assert probe_parallelisms(36) == (1, 6) and probe_parallelisms(9) == (1, 2)
    probes = fold_probes(stages, tmp_path / "rtl", "xc7")
    assert [(site.stage, p, core.steps) for site, p, core, _ in probes] == [(1, 1, 36), (1, 6, 6)]
    fake = {probes[0][3].key(): {"lut": 1000, "ff": 500}, probes[1][3].key(): {"lut": 2000, "ff": 600}}
    full = [{"lut": 9000, "ff": 900, "dsp": 0, "bram": 0}, {"lut": 700, "ff": 100, "dsp": 0, "bram": 0}]
    costs, fits = stage_costs(stages, full, [6, 4], probes, fake)
    assert costs[0].lut == pytest.approx((800.0, 200.0)) and costs[0].luts(3) == pytest.approx(1400.0)
    assert costs[0].luts(36) == 9000 and costs[0].ffs(36) == 900  # P = all windows: the flow's core
    assert costs[1].conv_pixels == () and costs[1].luts(5) == 700
    assert fits[0]["probes"] == [{"p": 1, "lut": 1000, "ff": 500}, {"p": 6, "lut": 2000, "ff": 600}]
