"""stream_fork.v: every output sees every beat once, in order, under independent stalls; 1 beat/cycle."""
from __future__ import annotations

import pytest

from hardware.fork import StreamFork
from hardware.primitive import PrimitiveParameterError
from sim.hardware.run import run_primitive_tb


@pytest.mark.parametrize("outputs", [2, 3])
def test_stream_fork_broadcasts_under_independent_stalls_at_one_beat_per_cycle(tmp_path, outputs):
    fork = StreamFork(7, outputs)
    result = run_primitive_tb(fork, "tb_stream_fork", tmp_path, toplevel="stream_fork_tb",
                              wrapper="stream_fork_tb.v",
                              env={"TB_WIDTH": 7, "TB_OUTPUTS": outputs, "TB_SEED": outputs})
    assert result["unstalled"]["cycles"] == result["unstalled"]["beats"] + 1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("pause", [0.1, 0.6])
def test_stream_fork_under_many_stall_patterns(tmp_path, seed, pause):
    run_primitive_tb(StreamFork(5, 3), "tb_stream_fork", tmp_path, toplevel="stream_fork_tb",
                     wrapper="stream_fork_tb.v", testcase="fork_gives_every_output_every_beat_once_in_order",
                     env={"TB_WIDTH": 5, "TB_OUTPUTS": 3, "TB_FRAMES": 300, "TB_PAUSE": pause, "TB_LONGEST": 10,
                          "TB_SEED": seed})


def test_stream_fork_needs_at_least_one_output():
    with pytest.raises(PrimitiveParameterError, match=r"N=0 must be an integer >= 1"):
        StreamFork(8, 0)
