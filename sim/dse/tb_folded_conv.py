"""cocotb testbench of a folded conv core (hardware/folded/folded.py).

Inputs: ``TB_VECTORS`` -> .npz ``inputs`` (N, in_bytes) packed frames; ``TB_IN_PAUSE``/``TB_OUT_PAUSE``
idle/back-pressure probabilities; ``TB_SEED``. Outputs: ``TB_OUTPUT`` -> .npz ``beats`` (N, steps, out_bytes)
as received; ``TB_RESULT`` -> JSON {frames, beats_per_frame, cycles}.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotbext.axi import AxiStreamFrame

from sim.stage.tb_stage import StageTB  # clock, reset, stream drivers with pause generators, cycle counter


@cocotb.test()
async def folded_conv_streams_every_frame(dut):
    """Each frame comes back as one tlast-terminated packet of P-pixel beats (checked against QKeras in Python)."""
    data = np.load(os.environ["TB_VECTORS"])
    tb = StageTB(dut, float(os.environ.get("TB_IN_PAUSE", 0)), float(os.environ.get("TB_OUT_PAUSE", 0)),
                      int(os.environ.get("TB_SEED", 1)))
    await tb.reset()
    start = tb.cycles
    for row in data["inputs"]:
        await tb.source.send(AxiStreamFrame([int.from_bytes(row.tobytes(), "little")]))
    frames = [list((await tb.sink.recv()).tdata) for _ in data["inputs"]]
    cycles = tb.cycles - start
    beats = {len(f) for f in frames}
    assert len(beats) == 1, f"frames with different beat counts {sorted(beats)}"
    out_bytes = int(os.environ["TB_OUT_BYTES"])
    np.savez(os.environ["TB_OUTPUT"], beats=np.array(
        [[np.frombuffer(int(b).to_bytes(out_bytes, "little"), dtype=np.uint8) for b in f] for f in frames]))
    with open(os.environ["TB_RESULT"], "w") as fh:
        json.dump({"frames": len(frames), "beats_per_frame": beats.pop(), "cycles": cycles}, fh)
