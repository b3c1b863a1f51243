"""cocotb module used by test_sim_runner.py: one passing and one failing test."""
import os

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def inverter_inverts(dut):
    for v in (0, 1):
        dut.a.value = v
        await Timer(1, unit="ns")
        assert int(dut.y.value) == 1 - v
    with open(os.environ["TB_RESULT"], "w") as f:
        f.write("ok")


@cocotb.test()
async def deliberately_fails(dut):
    if os.environ.get("TB_FAIL") == "1":
        assert False, "failing on purpose"
