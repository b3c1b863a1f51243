"""The driver's file-level logic: thresholds from report.json and its calibration sweep, the PR schedule, and
the messages when files and hardware disagree. (Its register and stream logic runs against the simulated
top in tests/sim/test_axi_top.py.)"""
from __future__ import annotations

import json

import pytest

from hardware.axi_top.driver import DriverError, ExitflowDriver
from hardware.axi_top.regmap import ResultField, register_map, to_json

REPORT = {"exits": [{"index": 1, "threshold_code": 944}, {"index": 2, "threshold_code": 8191},
                    {"index": 3, "threshold_code": 8191}],
          "sweep": [{"accuracy_drop": 0.0, "thresholds": [755, 8191, 8191]},
                    {"accuracy_drop": 2.0, "thresholds": [600, 7000, 8191]}],
          "pr": {"mapping": {"chosen": {"name": "pr", "static_stages": [1], "region_stages": [2, 3]}}}}


class RecordingIO:
    """Registers as a dict; STATUS reads idle; writes are logged (no hardware behaviour is modelled)."""

    def __init__(self, regmap: dict, **values):
        self.offsets = {r["name"]: r["offset"] for r in regmap["registers"]}
        self.values = {self.offsets[r["name"]]: r["reset"] for r in regmap["registers"]}
        self.values[self.offsets["STATUS"]] = 1
        self.values.update({self.offsets[k]: v for k, v in values.items()})
        self.writes: list[tuple[str, int]] = []
        self.partials: list = []

    def read32(self, offset):
        return self.values.get(offset, 0)

    def write32(self, offset, value):
        name = next(n for n, o in self.offsets.items() if o == offset)
        self.writes.append((name, value))
        if name != "CTRL":
            self.values[offset] = value

    def load_partial(self, path):
        self.partials.append(path)


def _regmap() -> dict:
    rm = register_map([1, 2, 3], {k: 13 for k in (1, 2, 3)}, {1: 944, 2: 8191, 3: 8191}, 64, 8, 1, 512,
                      [ResultField("id", 0, 16)], 0x12345678, {"shape": [8, 8, 1], "width": 8, "frac": 7,
                                                            "signed": False})
    return json.loads(to_json(rm))


def test_accuracy_target_writes_the_sweep_points_thresholds_then_applies(tmp_path):
    regmap = _regmap()
    io = RecordingIO(regmap)
    driver = ExitflowDriver(io, regmap, REPORT)
    driver.check()
    assert driver.thresholds_from_report() == {1: 944, 2: 8191, 3: 8191}
    assert driver.set_accuracy_target(2.0) == {1: 600, 2: 7000, 3: 8191}
    assert io.writes == [("THRESHOLD_1", 600), ("THRESHOLD_2", 7000), ("THRESHOLD_3", 8191), ("CTRL", 4)]
    with pytest.raises(DriverError, match="no calibration sweep point for an accuracy drop of 1; the report has 0, 2"):
        driver.set_accuracy_target(1.0)


def test_pr_schedule_loads_each_region_stage_from_the_dfx_bitstreams(tmp_path):
    regmap = _regmap()
    io = RecordingIO(regmap)
    driver = ExitflowDriver(io, regmap, REPORT, base_dir=tmp_path)
    steps = driver.partial_schedule()
    assert [(s.stage, s.bitstream.name) for s in steps] == [(2, "stage_2_partial.bit"), (3, "stage_3_partial.bit")]
    with pytest.raises(DriverError, match="partial bitstream .*stage_2_partial.bit missing"):
        driver.load_partial(steps[0])
    (tmp_path / "bitstreams").mkdir()
    steps[0].bitstream.write_bytes(b"\0")
    driver.load_partial(steps[0])
    assert io.partials == [steps[0].bitstream]
    resident = {**REPORT, "pr": {"mapping": {"chosen": {"name": "all_resident", "region_stages": []}}}}
    assert ExitflowDriver(io, regmap, resident).partial_schedule() == []


def test_a_bitstream_of_another_build_is_named(tmp_path):
    regmap = _regmap()
    with pytest.raises(DriverError, match="design id 0x0badc0de differs .*different builds"):
        ExitflowDriver(RecordingIO(regmap, DESIGN_ID=0x0BADC0DE), regmap).check()
    with pytest.raises(DriverError, match="no exit-flow top"):
        ExitflowDriver(RecordingIO(regmap, MAGIC=0), regmap).check()
    with pytest.raises(DriverError, match=r"exit\(s\) \[4\] are not in this design"):
        ExitflowDriver(RecordingIO(regmap), regmap).set_thresholds({4: 1})


def test_the_driver_runs_from_the_board_folder_without_the_project(tmp_path):
    """On the board only driver.py, fixedpoint.py and the JSON files exist: no `frontend` package."""
    import shutil
    import subprocess
    import sys

    import frontend.fixedpoint
    import hardware.axi_top.driver

    shutil.copy(hardware.axi_top.driver.__file__, tmp_path / "driver.py")
    shutil.copy(frontend.fixedpoint.__file__, tmp_path / "fixedpoint.py")
    (tmp_path / "regmap.json").write_text(json.dumps(_regmap()))
    script = ("import sys; sys.modules['frontend'] = None\n"    # the project is not installed on the board
              "import numpy as np, driver\n"
              "d = driver.ExitflowDriver.from_files(None, '.', check=False)\n"
              "assert d.report is None and d.input_format.width == 8\n"
              "print(d.pack(d.input_format.quantize(np.full((2, 8, 8, 1), 0.5))).shape)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(2, 64)"
