"""Every cache key: nothing changed -> the same key (a hit); exactly one input changed -> another key (a miss).

The training cache has its own module (test_training_cache.py, with the DATA= edit through the flow).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import flows.content_key as content_key
from exit_unit.reference import ExitUnitConfig
from flows.content_key import ContentKey
from frontend.fixedpoint import FixedFormat

ADDER = "`timescale 1ns / 1ps\nmodule add (input clk, input [7:0] a, output reg [7:0] s);\n" \
        "    always @(posedge clk) s <= a + {width};\nendmodule\n"


def _fake_version(monkeypatch, tool: str, version: str = "99.0") -> None:
    real = content_key.tool_version
    monkeypatch.setattr(content_key, "tool_version", lambda name: version if name == tool else real(name))


def _fake_checkout(monkeypatch, tmp_path, files: list[str]) -> Path:
    """A checkout with one small file per path, as ROOT of the content keys; returns its root."""
    root = tmp_path / "checkout"
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"// {rel}\n")
    monkeypatch.setattr(content_key, "ROOT", root)
    return root


def _all_distinct(base: str, misses: dict[str, str]) -> None:
    same = [name for name, key in misses.items() if key == base]
    assert not same, f"these inputs do not change the key: {same}"


# ---- the helper --------------------------------------------------------------------------------

def test_content_key_is_stable_and_tells_parts_apart(tmp_path):
    f = tmp_path / "a.v"
    f.write_text("module a; endmodule\n")
    base = ContentKey("p").text("t", {"b": 1, "a": 2}).file(f).array("x", np.arange(4)).hexdigest()
    assert ContentKey("p").text("t", {"a": 2, "b": 1}).file(f).array("x", np.arange(4)).hexdigest() == base
    copy = tmp_path / "elsewhere" / "a.v"
    copy.parent.mkdir()
    copy.write_text(f.read_text())
    assert ContentKey("p").text("t", {"a": 2, "b": 1}).file(copy).array("x", np.arange(4)).hexdigest() == base
    misses = {
        "purpose": ContentKey("q").text("t", {"b": 1, "a": 2}).file(f).array("x", np.arange(4)).hexdigest(),
        "text": ContentKey("p").text("t", {"b": 1, "a": 3}).file(f).array("x", np.arange(4)).hexdigest(),
        "array dtype": ContentKey("p").text("t", {"b": 1, "a": 2}).file(f).array(
            "x", np.arange(4, dtype=np.int32)).hexdigest(),
        "array shape": ContentKey("p").text("t", {"b": 1, "a": 2}).file(f).array(
            "x", np.arange(4).reshape(2, 2)).hexdigest(),
        # the same bytes split differently between two parts
        "boundaries": ContentKey("p").text("t", '{"a": 2, "b": 1}' + "x").hexdigest(),
    }
    _all_distinct(base, misses)
    f.write_text("module a; endmodule // edited\n")
    assert ContentKey("p").text("t", {"b": 1, "a": 2}).file(f).array("x", np.arange(4)).hexdigest() != base


def test_tool_versions_are_read_not_assumed():
    assert content_key.tool_version("yosys") == "0.70"
    assert content_key.tool_version("tensorflow").startswith("2.14")
    assert content_key.tool_version("icarus").startswith("Icarus Verilog version 11")
    with pytest.raises(ValueError, match="no version lookup for tool 'vivado'"):
        content_key.tool_version("vivado")


# ---- Yosys jobs ----------------------------------------------------------------------------------

def test_yosys_key_covers_verilog_script_version_and_the_flow_code(tmp_path, monkeypatch):
    import flows.yosys as yosys
    from flows.dse.jobs import SynthJob

    src = tmp_path / "add.v"
    src.write_text(ADDER.format(width=1))
    job = SynthJob((str(src),), "add", "xc7")
    base = job.key()
    assert SynthJob((str(src),), "add", "xc7").key() == base
    renamed = tmp_path / "other" / "add_renamed.v"
    renamed.parent.mkdir()
    renamed.write_text(src.read_text())
    misses = {"top": SynthJob((str(src),), "add2", "xc7").key(),
              "family": SynthJob((str(src),), "add", "xcup").key(),
              "file name": SynthJob((str(renamed),), "add").key(),
              "parameters": yosys.synth_key([src], "add", "xc7", params={"W": 4}),
              "defines": yosys.synth_key([src], "add", "xc7", defines={"SIM": 1})}
    src.write_text(ADDER.format(width=2))
    misses["verilog"] = job.key()
    src.write_text(ADDER.format(width=1))
    assert job.key() == base
    real_script = yosys._script
    monkeypatch.setattr(yosys, "_script", lambda *a: real_script(*a) + ["opt_clean"])
    misses["script"] = job.key()
    monkeypatch.setattr(yosys, "_script", real_script)
    _fake_version(monkeypatch, "yosys", "0.71")
    misses["yosys version"] = job.key()
    monkeypatch.undo()
    edited = tmp_path / "yosys.py"
    edited.write_text(Path(yosys.__file__).read_text() + "\n# edited\n")
    monkeypatch.setattr(yosys, "__file__", str(edited))
    misses["flows/yosys.py"] = job.key()
    _all_distinct(base, misses)
    assert len(set(misses.values())) == len(misses)


# ---- the flow's core records and flow_records ----------------------------------------------------

@pytest.fixture(scope="module")
def two_stages():
    from sim.stage.testmodels import two_exit_stages

    models = two_exit_stages(seed=1)
    formats = [None, FixedFormat(6, 4, True)]
    return [SimpleNamespace(index=k, model=m, input_format=f) for k, (m, f) in enumerate(zip(models, formats), 1)]


CONFIGS = [ExitUnitConfig(10, FixedFormat(12, 8, True), "max_prob") for _ in range(2)]


def test_stage_core_record_name_covers_model_weights_format_code_and_tools(two_stages, tmp_path, monkeypatch):
    from flows.core_records import stage_core_name

    s = two_stages[0]
    base = stage_core_name(1, s.model, s.input_format, "xc7")
    assert base.startswith("stage_1-") and stage_core_name(1, s.model, s.input_format, "xc7") == base
    weights = s.model.get_weights()
    nudged = [w.copy() for w in weights]
    nudged[0].flat[0] += 0.125
    s.model.set_weights(nudged)
    misses = {"weights": stage_core_name(1, s.model, s.input_format, "xc7")}
    s.model.set_weights(weights)
    assert stage_core_name(1, s.model, s.input_format, "xc7") == base
    misses.update({"index": stage_core_name(2, s.model, s.input_format, "xc7"),
                   "architecture": stage_core_name(1, two_stages[1].model, s.input_format, "xc7"),
                   "input format": stage_core_name(1, s.model, FixedFormat(7, 5, True), "xc7"),
                   "family": stage_core_name(1, s.model, s.input_format, "xcup")})
    _fake_version(monkeypatch, "da4ml", "0.5.9")
    misses["da4ml version"] = stage_core_name(1, s.model, s.input_format, "xc7")
    monkeypatch.undo()
    _fake_version(monkeypatch, "yosys", "0.71")
    misses["yosys version"] = stage_core_name(1, s.model, s.input_format, "xc7")
    monkeypatch.undo()
    root = _fake_checkout(monkeypatch, tmp_path, ["hardware/stage/emit.py", "hardware/fifo/pl_fifo.v"])
    fake_base = stage_core_name(1, s.model, s.input_format, "xc7")
    (root / "hardware/stage/emit.py").write_text("# the generator, edited\n")
    misses["generator code"] = stage_core_name(1, s.model, s.input_format, "xc7")
    assert misses["generator code"] != fake_base
    _all_distinct(base, misses)


def test_exit_unit_record_name_encodes_policy_and_configuration():
    from flows.core_records import exit_unit_name

    cfg = CONFIGS[0]
    base = exit_unit_name(1, cfg, "xc7")
    assert base.startswith("exit_unit_1-max_prob-") and exit_unit_name(1, replace(cfg), "xc7") == base
    misses = {"policy": exit_unit_name(1, replace(cfg, policy="margin"), "xc7"),
              "classes": exit_unit_name(1, replace(cfg, classes=9), "xc7"),
              "logit format": exit_unit_name(1, replace(cfg, logit=FixedFormat(12, 7, True)), "xc7"),
              "LUT sizing": exit_unit_name(1, replace(cfg, lut_frac_bits=10), "xc7"),
              "index": exit_unit_name(2, cfg, "xc7"),
              "family": exit_unit_name(1, cfg, "xcup")}
    assert misses["policy"].startswith("exit_unit_1-margin-")
    _all_distinct(base, misses)


def test_flow_records_take_exactly_this_models_and_this_policys_records(two_stages, tmp_path):
    from flows.core_records import exit_unit_name, stage_core_name, write_record
    from flows.dse.costs import MissingFlowOutput, flow_records

    records = tmp_path / "yosys" / "records"
    for s in two_stages:
        write_record(records, stage_core_name(s.index, s.model, s.input_format, "xc7"),
                     {"index": s.index, "lut": 100 * s.index, "latency_cycles": 5 + s.index})
    margin = [replace(c, policy="margin") for c in CONFIGS]
    for k, cfg in enumerate(margin, start=1):  # another policy's units, as a make synth POLICY=margin left them
        write_record(records, exit_unit_name(k, cfg, "xc7"), {"index": k, "lut": 539})
    with pytest.raises(MissingFlowOutput, match=r"no Yosys record of the max_prob exit unit of exit 1 .*"
                                                r"make synth POLICY=max_prob"):
        flow_records(tmp_path, two_stages, CONFIGS, "xc7")
    for k, cfg in enumerate(CONFIGS, start=1):
        write_record(records, exit_unit_name(k, cfg, "xc7"), {"index": k, "lut": 1263})
    full, units, latency = flow_records(tmp_path, two_stages, CONFIGS, "xc7")
    assert [r["lut"] for r in full] == [100, 200] and latency == [6, 7]
    assert [u["lut"] for u in units] == [1263, 1263]
    assert [u["lut"] for u in flow_records(tmp_path, two_stages, margin, "xc7")[1]] == [539, 539]
    # a retrained model: the records on disk are of the old weights and are not taken
    model = two_stages[0].model
    weights = model.get_weights()
    model.set_weights([w + 0.0625 for w in weights])
    try:
        with pytest.raises(MissingFlowOutput, match="no Yosys record of stage 1 as this model builds it"):
            flow_records(tmp_path, two_stages, CONFIGS, "xc7")
    finally:
        model.set_weights(weights)


# ---- DSE simulations -----------------------------------------------------------------------------

def test_core_stream_key_covers_verilog_data_testbench_and_simulator(tmp_path, monkeypatch):
    from flows.dse.validate import core_stream_key

    src = tmp_path / "core.v"
    src.write_text(ADDER.format(width=1))
    codes, want = np.arange(6).reshape(3, 2), [np.arange(3), np.arange(6)]
    base = core_stream_key([src], codes, want)
    assert core_stream_key([src], codes.copy(), [w.copy() for w in want]) == base
    misses = {"inputs": core_stream_key([src], codes + 1, want),
              "expected": core_stream_key([src], codes, [want[0], want[1] + 1])}
    src.write_text(ADDER.format(width=2))
    misses["verilog"] = core_stream_key([src], codes, want)
    src.write_text(ADDER.format(width=1))
    _fake_version(monkeypatch, "icarus", "Icarus Verilog version 12.0")
    misses["simulator version"] = core_stream_key([src], codes, want)
    monkeypatch.undo()
    root = _fake_checkout(monkeypatch, tmp_path, ["sim/stage/tb_stage.py", "hardware/folded/folded_gather.v"])
    fake_base = core_stream_key([src], codes, want)
    for rel in ("sim/stage/tb_stage.py", "hardware/folded/folded_gather.v"):
        (root / rel).write_text("// edited\n")
        misses[rel] = core_stream_key([src], codes, want)
        assert misses[rel] != fake_base
        fake_base = misses[rel]
    _all_distinct(base, misses)


@pytest.fixture
def point_inputs(tmp_path):
    """What validate_points hands pipeline_key for one point: two cores, the max_prob context, the test set."""
    from boards import load_board

    files = []
    for k in (1, 2):
        f = tmp_path / "rtl" / f"core_{k}.v"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(ADDER.format(width=k))
        files.append(f)
    cores = [SimpleNamespace(core=SimpleNamespace(verilog_files=[f])) for f in files]
    rng = np.random.default_rng(0)
    policy = SimpleNamespace(policy="max_prob", configs=CONFIGS)
    ctx = SimpleNamespace(for_policy=lambda name: policy, test_y=rng.integers(0, 10, 8),
                          test_codes=[rng.integers(-99, 99, (8, 10)) for _ in range(2)])
    return {"pt": {"exits": [1, 2], "thresholds": [500, 4095], "parallelism": [4, 1], "mode": "anytime"},
            "cores": cores, "ctx": ctx, "x_test": rng.uniform(0, 1, (8, 4)), "board": load_board("pynq-z2"),
            "fifo": 4, "synthesised": {"stage_1": {"lut": 10}, "stage_2": {"lut": 20}}, "simulator": "verilator",
            "unit_dir": tmp_path / "units"}


def test_pipeline_key_covers_design_cores_units_board_data_code_and_tools(point_inputs, tmp_path, monkeypatch):
    from flows.dse.validate import pipeline_key

    p = point_inputs
    key = lambda **change: pipeline_key(**{**p, **change})  # noqa: E731
    base = key()
    assert key() == base
    board = p["board"]
    energy = {**board.extra["energy"], "lut_pj_per_toggle": {"value": 0.09, "source": "estimate"}}
    ctx = p["ctx"]
    labels = ctx.test_y.copy()
    labels[0] = (labels[0] + 1) % 10
    codes = [c.copy() for c in ctx.test_codes]
    codes[1][0, 0] += 1
    margin = SimpleNamespace(policy="margin", configs=[replace(c, policy="margin") for c in CONFIGS])
    misses = {
        "thresholds": key(pt={**p["pt"], "thresholds": [501, 4095]}),
        "parallelism": key(pt={**p["pt"], "parallelism": [2, 1]}),
        "fifo depth": key(fifo=8),
        "resources": key(synthesised={"stage_1": {"lut": 11}, "stage_2": {"lut": 20}}),
        "board energy coefficient": key(board=replace(board, extra={**board.extra, "energy": energy})),
        "board clock": key(board=replace(board, clock_mhz=125.0)),
        "x_test": key(x_test=p["x_test"] + 1e-3),
        "labels": key(ctx=SimpleNamespace(**{**vars(ctx), "test_y": labels})),
        "test codes": key(ctx=SimpleNamespace(**{**vars(ctx), "test_codes": codes})),
        "exit policy": key(ctx=SimpleNamespace(**{**vars(ctx), "for_policy": lambda name: margin})),
        "simulator": key(simulator="icarus"),
    }
    p["cores"][1].core.verilog_files[0].write_text(ADDER.format(width=5))
    misses["core verilog"] = key()
    p["cores"][1].core.verilog_files[0].write_text(ADDER.format(width=2))
    assert key() == base
    _fake_version(monkeypatch, "verilator", "5.50")
    misses["verilator version"] = key()
    monkeypatch.undo()
    _all_distinct(base, misses)
    assert len(set(misses.values())) == len(misses)


@pytest.mark.parametrize("rel", ["hardware/pipeline/pl_reorder.v", "hardware/pipeline/generate.py",
                                 "hardware/exit_unit/generate.py", "sim/pipeline/tb_pipeline.py",
                                 "sim/pipeline/energy.py", "sim/pipeline/saif.py", "sim/runner.py",
                                 "flows/dse/validate.py"])
def test_pipeline_key_covers_the_rtl_library_testbench_and_energy_code(point_inputs, tmp_path, monkeypatch, rel):
    import flows.dse.validate as validate

    p = point_inputs
    # the exit-unit generator itself stays the real one (it writes the units hashed into the key)
    root = _fake_checkout(monkeypatch, tmp_path, [rel])
    base = validate.pipeline_key(**p)
    (root / rel).write_text("// edited\n")
    assert validate.pipeline_key(**p) != base


def test_a_streaming_point_build_is_keyed_on_the_flow_it_runs_not_on_the_dse_search():
    """The DSE's measured point builds (flows/dse/streaming/validate.py) run `make synth DESIGN=`: their key
    covers the synth flow's code and the point file, and editing the search or the cost fits (which only
    change what point files the DSE writes) does not rebuild them."""
    from flows.content_key import ROOT, code_files
    from flows.dse.streaming.validate import FLOW_CODE

    covered = {str(p.relative_to(ROOT)) for p in code_files(FLOW_CODE)}
    assert {"flows/synth.py", "flows/dse/point.py", "flows/pr/__init__.py", "frontend/calibrate.py",
            "exit_unit/reference.py"} <= covered
    assert not [f for f in covered if f.startswith(("flows/dse/streaming/", "flows/dse/stream_costs/"))]
    every_flow_file = {str(p.relative_to(ROOT)) for p in code_files(["flows/**/*.py"])}
    dse_only = {f for f in every_flow_file if f.startswith(("flows/dse/streaming/", "flows/dse/stream_costs/"))}
    assert every_flow_file - dse_only <= covered          # nothing else of the flow is left out


def test_a_streaming_point_build_is_keyed_on_what_it_builds_not_on_the_predictions(tmp_path):
    """A point file carries the DSE's predictions beside the design; a rerun whose predictions differ in the
    last digits (fits read back from their cache) must find the measured record, and a design change must not."""
    import yaml

    from flows.dse.streaming.validate import point_key

    model = tmp_path / "lenet.yaml"
    model.write_text("name: lenet\n")
    doc = {"id": "p1", "model": "examples/lenet.yaml", "board": "pynq-z2", "policy": "margin",
           "design": {"io": "stream", "exits": [1, 2], "thresholds": [0.3, 0], "target_ii": [196, 1568]},
           "selected_on": "calibration", "predicted": {"lut": 12921.327881433554},
           "predicted_test": {"lut": 12921.327881433554}}
    point = tmp_path / "p1.yaml"
    point.write_text(yaml.safe_dump(doc))
    base = point_key(point, model)
    point.write_text(yaml.safe_dump({**doc, "predicted": {"lut": 12921.328408}, "predicted_test": {"lut": 12921.3}}))
    assert point_key(point, model) == base
    point.write_text(yaml.safe_dump({**doc, "design": {**doc["design"], "target_ii": [196, 3136]}}))
    assert point_key(point, model) != base
    point.write_text(yaml.safe_dump(doc))
    model.write_text("name: lenet\nclasses: 10\n")
    assert point_key(point, model) != base
