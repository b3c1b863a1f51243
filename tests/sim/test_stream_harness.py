"""The HDL-driven stream harness: every beat played and logged once, idle input and back-pressure applied."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")


@pytest.fixture(scope="module")
def tiny_core(tmp_path_factory):
    from hardware.stage import build_stage_rtl

    inp = keras.Input((6,))
    x = qk.QActivation("quantized_relu(6,1)")(inp)
    y = qk.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", bias_quantizer="quantized_bits(4,0,alpha=1)",
                  kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=12))(x)
    model = keras.Model(inp, qk.QActivation("quantized_bits(12,5,alpha=1)")(y))
    return model, build_stage_rtl(model, None, tmp_path_factory.mktemp("core") / "rtl", "harness_core")


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_harness_plays_and_logs_every_beat_under_idle_input_and_back_pressure(tiny_core, simulator, tmp_path):
    from hardware.stage import pack, unpack
    from sim.stream.harness import Port, StreamBench

    model, rtl = tiny_core
    fmt = rtl.input_format
    n = 1500
    x = np.random.default_rng(3).integers(fmt.min_code, fmt.max_code + 1, size=(n, 6))
    want = rtl.outputs[0].fmt.to_codes(model.predict(fmt.to_real(x), verbose=0))
    bench = StreamBench(rtl.top, rtl.verilog_files, inputs=[Port("s_axis", rtl.in_width, has_last=False)],
                        outputs=[Port("m_axis", rtl.out_width, has_last=False)])
    frames = {"s_axis": [[w] for w in pack([rtl.input], [x])]}
    runs = {}
    for name, rate in (("stalled", 0.3), ("free", 0.0)):   # one build, two runs
        runs[name] = bench.run(tmp_path, frames, {"m_axis": n}, name=name, idle={"s_axis": rate},
                               stall={"m_axis": rate + 0.1 if rate else 0.0}, simulator=simulator)
    for res in runs.values():
        out = res.outputs["m_axis"]
        assert not res.timed_out
        assert len(out.data) == n                               # nothing lost, nothing duplicated
        assert np.array_equal(unpack(rtl.outputs, out.data)[0], want)
        assert len(res.frame_accepted["s_axis"]) == n and np.all(np.diff(res.frame_accepted["s_axis"]) >= 1)
    # idle input and back-pressure cost cycles (and waits are seen); without them one beat per cycle
    stalled, free = runs["stalled"], runs["free"]
    assert stalled.cycles > 1.5 * n and np.any(stalled.outputs["m_axis"].accepted > stalled.outputs["m_axis"].first_valid)
    span = free.frame_accepted["s_axis"][-1] - free.frame_accepted["s_axis"][0]
    assert span == n - 1
