"""stream_fifo.v: integrity under random stalls, one beat per cycle, capacity, and its RAM mapping in Yosys."""
from __future__ import annotations

import pytest

from hardware.fifo import StreamFifo
from hardware.primitive import PrimitiveParameterError
from sim.hardware.run import run_primitive_tb


@pytest.mark.parametrize("width, depth", [(8, 16), (24, 512), (1, 2)])
def test_stream_fifo_integrity_throughput_and_capacity(tmp_path, width, depth):
    fifo = StreamFifo(width, depth)
    result = run_primitive_tb(fifo, "tb_stream_fifo", tmp_path, env={
        "TB_WIDTH": width, "TB_DEPTH": depth, "TB_FRAMES": 60, "TB_MAX_LEN": min(3 * depth, 40), "TB_SEED": depth})
    assert result["full"]["held"] == fifo.capacity
    assert result["unstalled"]["cycles"] == result["unstalled"]["beats"] + StreamFifo.LATENCY


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pause", [0.1, 0.5, 0.8])
def test_stream_fifo_under_many_stall_patterns(tmp_path, seed, pause):
    run_primitive_tb(StreamFifo(5, 8), "tb_stream_fifo", tmp_path, testcase="fifo_passes_every_beat_once_in_order",
                     env={"TB_WIDTH": 5, "TB_DEPTH": 8, "TB_FRAMES": 150, "TB_MAX_LEN": 40, "TB_PAUSE": pause,
                          "TB_LONGEST": 12, "TB_SEED": seed})


def test_stream_fifo_maps_deep_storage_to_block_ram_and_shallow_to_lutram(tmp_path):
    from flows.yosys import synth_xilinx

    deep = StreamFifo(24, 512)
    res = synth_xilinx(deep.files, deep.top, params=deep.parameters, work_dir=tmp_path / "deep")
    assert res.ramb18 + res.ramb36 >= 1 and res.lut_as_memory == 0
    assert res.ff < 60, f"{res.ff} FFs: storage did not go to block RAM"  # pointers + output register only
    shallow = StreamFifo(8, 16)
    res = synth_xilinx(shallow.files, shallow.top, params=shallow.parameters, work_dir=tmp_path / "shallow")
    assert res.bram == 0 and res.lut_as_memory > 0
    assert res.ff < 16 * 9, f"{res.ff} FFs: storage went to flip-flops"


def test_stream_fifo_rejects_a_depth_that_is_not_a_power_of_two():
    with pytest.raises(PrimitiveParameterError, match=r"DEPTH=24 must be a power of two: use DEPTH=32"):
        StreamFifo(8, 24)
