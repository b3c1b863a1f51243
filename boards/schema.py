"""The schema of ``boards/<name>.yaml`` (pydantic): required fields, types and the shape of the
optional blocks the flows read (``power:``, ``energy:``, ``reconfiguration:``).

``boards.board.load_board`` validates the raw YAML with ``BoardFile`` (every problem at once)
and builds the ``Board`` record from it; the optional blocks stay plain dicts in ``Board.extra``,
read by the flow that needs them (flows/pr, sim/pipeline/energy.py, the DSE).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


FIXES = {
    "name": "give the board's name, e.g. name: pynq-z2",
    "part": "give the FPGA part, e.g. part: xc7z020clg400-1",
    "family": "give the Yosys synth_xilinx family, e.g. family: xc7 (xcup for UltraScale+)",
    "clock_mhz": "give the fabric clock in MHz, a number > 0, e.g. clock_mhz: 100",
    "resources": "give the device totals, e.g. resources: {lut: 53200, ff: 106400, bram36: 140, dsp: 220}",
    "lut": "give the device's LUT count, an integer >= 0",
    "ff": "give the device's flip-flop count, an integer >= 0",
    "bram36": "give the device's RAMB36 count, an integer >= 0",
    "dsp": "give the device's DSP count, an integer >= 0",
    "value": "give the figure as {value: <number>, source: <where it comes from>}",
    "source": "say where the figure comes from, e.g. source: estimate, XPE ...",
    "port": "name the configuration port the schedules use, e.g. port: pcap",
}


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figure(_Block):
    """A number and where it comes from (datasheet, estimate, measurement)."""

    value: float
    source: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            raise ValueError(f"{data} is a bare number; write it as {{value: {data}, source: <where it comes from>}}")
        return data


class Resources(BaseModel):
    model_config = ConfigDict(extra="allow")   # further counts (e.g. uram) are kept as given

    lut: int = Field(ge=0)
    ff: int = Field(ge=0)
    bram36: int = Field(ge=0)
    dsp: int = Field(ge=0)


class StaticRegion(_Block):
    lut: float = Field(0, ge=0)
    ff: float = Field(0, ge=0)
    dsp: float = Field(0, ge=0)
    bram: float = Field(0, ge=0)
    source: str = ""


class Reconfiguration(BaseModel):
    """flows/pr/inputs.py reads it (and says which figure is missing); here only the shapes are checked."""

    model_config = ConfigDict(extra="allow")

    port: str
    ports: dict[str, dict[str, Figure]]
    frames_per_column: dict[str, Figure] = {}
    columns_per_row: dict[str, Figure] = {}
    static_region: StaticRegion = StaticRegion()


class BoardFile(BaseModel):
    model_config = ConfigDict(extra="allow")   # descriptive fields (vendor, vivado_board_part, ...) go to extra

    name: str
    part: str
    family: str
    clock_mhz: float = Field(gt=0)
    resources: Resources
    vivado_board_part: str | None = None
    power: dict[str, Figure] | None = None
    energy: dict[str, Figure] | None = None
    reconfiguration: Reconfiguration | None = None
