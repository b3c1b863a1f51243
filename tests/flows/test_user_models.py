"""Models written like the hls4ml tutorials, through `make synth` (flows.synth.run_synth, MODEL=x.h5 DATA=x.npz).

examples/tutorial_models.py writes them: no input quantiser, unquantised QDense logits, softmax outputs; a
residual CNN (QConv2DBatchnorm, stride-2 conv, Add, GlobalAveragePooling2D); a quantiser mix (auto_po2 conv
weights, ternary dense weights, symmetric quantisers); a one-output backbone for EXITS=auto. The default suite
builds small variants; the full-size flows are marked slow.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from flows.synth import STEPS, Build, SynthOptions, run_synth

ROOT = Path(__file__).resolve().parents[2]


def _examples():
    spec = importlib.util.spec_from_file_location("tutorial_models", ROOT / "examples" / "tutorial_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """kind -> (model.h5, data.npz), trained once per module (tiny: fully parallel cores of a few k LUTs)."""
    made = {}

    def make(kind: str, tiny: bool = True, test_samples: int | None = 60, epochs: int = 20, **shape):
        key = (kind, tiny, test_samples, epochs, tuple(sorted(shape.items())))
        if key not in made:
            out = tmp_path_factory.mktemp(f"{kind}_{'tiny' if tiny else 'full'}")
            made[key] = _examples().train_and_save(kind, out, epochs=epochs, test_samples=test_samples, tiny=tiny,
                                                   **shape)
        return made[key]

    return make


def _options(model, data, root, **kw) -> SynthOptions:
    base = dict(model=str(model), data=str(data), build_root=root, simulator="icarus", rtl_random_vectors=100,
                policy="margin", pr=False, board_top=False)   # the board top has tests of its own
    return SynthOptions(**{**base, **kw})


def _report(build) -> dict:
    return json.loads((build.out_dir / "report.json").read_text())


def _assert_bit_exact(report: dict, rtl: bool = True, sim: bool = True, csim: bool = True) -> None:
    for stage in report["stages"]:
        if csim:
            assert stage["csim_bit_exact"] is True and stage["max_abs_diff"] == 0, stage
        if rtl:
            assert stage["rtl_bit_exact"] is True and stage["rtl_samples"] == report["dataset"]["test_samples"]
    if sim:
        assert (report["sim"]["mismatches"], report["sim"]["lost"], report["sim"]["duplicated"]) == (0, 0, 0)


def _assert_tutorial_formats(report: dict, exits: int) -> None:
    prep = report["model_prep"]
    assert [e["exit"] for e in prep["logits"]] == list(range(1, exits + 1))
    assert all("exact accumulator" in e["how"] for e in prep["logits"])
    assert [e["format"] for e in prep["logits"]] == [s["logit_format"] for s in report["stages"]]
    notes = "\n".join(report["notes"])
    assert f"Input: {prep['input_format']}" in notes and "Exit 1 logits" in notes


def _flow_without_yosys(options: SynthOptions) -> Build:
    """make synth's steps in order, all but Yosys (which costs, not checks: the slow variant runs it)."""
    from flows.synth import synthesise_open

    build = Build(options=options, console=Console(quiet=True))
    for _, step in STEPS:
        if step is not synthesise_open:
            step(build)
    return build


@pytest.mark.slow
def test_tutorial_cnn_is_bit_exact_through_c_sim_stage_rtl_and_the_pipeline(saved, tmp_path):
    """Three exits; the digits / 16 lie on a grid, so the input format is inferred and nothing changes.
    Every step of make synth but Yosys (the slow full-size variant runs it too)."""
    model, data = saved("cnn")
    build = _flow_without_yosys(_options(model, data, tmp_path))
    report = _report(build)
    assert len(report["exits"]) == 3
    _assert_bit_exact(report)
    _assert_tutorial_formats(report, 3)
    assert report["model_prep"]["input_format"] == "ufixed<5,1>"
    assert report["model_prep"]["input_how"].startswith("inferred") and report["model_prep"]["accuracy"] == []
    md = (build.out_dir / "report.md").read_text()
    assert "## Model as built" in md and "Input: ufixed<5,1> (inferred" in md


@pytest.mark.slow
def test_tutorial_mlp_input_is_quantised_to_input_bits_and_each_stage_is_bit_exact_in_c_sim(saved, tmp_path):
    """Four exits; standardised features lie on no grid: INPUT_BITS=12 quantises them, and the report gives the
    final exit's accuracy before and after."""
    model, data = saved("mlp")
    build = run_synth(_options(model, data, tmp_path, rtl=False, input_bits=12), Console(quiet=True))
    report = _report(build)
    assert len(report["exits"]) == 4
    _assert_bit_exact(report, rtl=False, sim=False)
    _assert_tutorial_formats(report, 4)
    prep = report["model_prep"]
    assert prep["input_format"].endswith(">") and prep["input_format"].startswith("sfixed<12,")
    assert "INPUT_BITS=12" in prep["input_how"]
    (change,) = prep["accuracy"]
    assert change["change"].startswith("input quantised to") and 0 < change["after"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("kind, exits", [("mlp", 4), ("cnn", 3)])
def test_full_size_tutorial_models_are_bit_exact_through_the_whole_flow(saved, tmp_path, kind, exits):
    model, data = saved(kind, tiny=kind == "mlp", test_samples=120)
    build = run_synth(_options(model, data, tmp_path, policy=None), Console(quiet=True))
    report = _report(build)
    assert len(report["exits"]) == exits
    _assert_bit_exact(report)
    _assert_tutorial_formats(report, exits)


def _front_end_and_cores(model, data, root, monkeypatch) -> Build:
    """The flow's own steps up to the stage cores (no Yosys, no pipeline); each core's da4ml program is checked
    against QKeras without a simulator."""
    from functools import partial

    import sim.stage.verify as verify
    from flows.synth import synthesise_open

    monkeypatch.setattr(verify, "build_and_verify_chain", partial(verify.build_and_verify_chain, simulate=False))
    build = Build(options=_options(model, data, root, sim=False), console=Console(quiet=True))
    for _, step in STEPS:
        if step is synthesise_open:
            break
        step(build)
    return build


@pytest.mark.parametrize("kind", [pytest.param("residual", marks=pytest.mark.slow), "mix"])
def test_residual_and_quantiser_mix_stages_are_bit_exact_in_c_sim_and_their_rtl_programs(saved, tmp_path, kind,
                                                                                         monkeypatch):
    """residual: QConv2DBatchnorm, a stride-2 conv, an Add, GlobalAveragePooling2D; mix: auto_po2 conv weights,
    ternary dense weights, symmetric quantisers. C simulation and the stage cores' da4ml programs equal QKeras
    on every test sample and random inputs (the RTL simulation of them: the slow variant)."""
    model, data = saved(kind)
    build = _front_end_and_cores(model, data, tmp_path, monkeypatch)
    for record in build.stage_records:
        assert record.csim_bit_exact and record.max_abs_diff == 0
        assert record.rtl_bit_exact, record
    ops = {layer.op for stage in build.stages for layer in stage.ir.layers}
    if kind == "residual":
        assert {"add", "global_avgpool"} <= ops
        assert any(layer.keras_class == "QConv2DBatchnorm" for layer in build.stages[0].ir.layers)
        assert build.stages[1].ir.layer("down").strides == (2, 2)
    else:
        kernel = build.stages[-1].ir.layer("fc_ternary").kernel      # alpha=None: QKeras makes it auto_po2
        for column in np.abs(kernel).T:                                # -s, 0, s per output, s a power of two
            levels = set(column) - {0.0}
            assert len(levels) == 1 and np.log2(levels.pop()) % 1 == 0
        assert build.stages[0].ir.layer("sym_act").requant.symmetric


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["residual", "mix"])
def test_residual_and_quantiser_mix_models_are_bit_exact_through_the_whole_flow(saved, tmp_path, kind):
    """Trained as examples/tutorial_models.py trains them (the residual model 60 epochs, with 8 channels into its
    global pool), so the measured run is of a classifier worth building."""
    model, data = saved(kind, test_samples=120, epochs=None, **({"filters": (2, 8)} if kind == "residual" else {}))
    report = _report(run_synth(_options(model, data, tmp_path), Console(quiet=True)))
    _assert_bit_exact(report)
    if kind == "residual":
        assert report["overall"]["final_exit_accuracy"] >= 0.7, report["overall"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["residual", "mix"])
def test_residual_and_quantiser_mix_models_are_bit_exact_through_the_streaming_flow(saved, tmp_path, kind):
    """IO_TYPE=io_stream: the Add, GlobalAveragePooling2D and symmetric quantisers in streaming cores."""
    model, data = saved(kind, test_samples=120)
    report = _report(run_synth(_options(model, data, tmp_path, io_type="io_stream"), Console(quiet=True)))
    _assert_bit_exact(report)
    assert all(stage["rtl_io"] == "stream" for stage in report["stages"]), report["stages"]


def test_a_backbone_with_exits_auto_gets_early_exits_and_keeps_its_final_exit_exactly(saved, tmp_path):
    """EXITS=auto on a one-output CNN: heads after pool1 and pool2, trained exits-only on the frozen backbone;
    the final exit's weights and test accuracy are the file's, and early exits cut the average MACs."""
    from qkeras.utils import load_qmodel
    from tensorflow import keras

    model_file, data_file = saved("backbone", test_samples=None)
    build = run_synth(_options(model_file, data_file, tmp_path, hls=False, rtl=False, exits="auto",
                               policy="max_prob"), Console(quiet=True))
    report = _report(build)
    assert len(report["exits"]) == 3 >= 2
    assert [a["after"] for a in report["model_prep"]["attached_exits"]] == ["pool1", "pool2"]
    assert report["training"]["mode"] == "exits_only"
    original = load_qmodel(str(model_file), compile=False)
    for layer in original.layers:
        got = build.model.get_layer(layer.name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), got)), layer.name
    data = np.load(data_file)
    logits = keras.Model(original.input, original.get_layer("final_dense").output).predict(data["x_test"], verbose=0)
    file_accuracy = float(np.mean(np.argmax(logits, -1) == data["y_test"]))
    assert report["overall"]["final_exit_accuracy"] == pytest.approx(file_accuracy, abs=1e-12)
    assert report["overall"]["avg_macs"] < report["overall"]["baseline_macs"]
    assert report["overall"]["accuracy"] >= file_accuracy - 0.02


# ~42 s (stage RTL and pipeline of three stages): slow; the default suite keeps EXITS=auto on the plain backbone
# (above) and the folding itself against numpy (tests/frontend/test_prepare.py)
@pytest.mark.slow
def test_a_backbone_with_a_float_batch_norm_and_exits_auto_is_bit_exact_against_the_folded_model(saved, tmp_path):
    """The batch norm after conv1 is folded and re-quantised (accuracy before/after in the report); EXITS=auto adds
    heads after pool1 and pool2; every stage core and the pipeline equal the folded model with its heads (RTL on
    the test set and random inputs; HLS C simulation: the slow CLI variant). A small backbone."""
    from qkeras.utils import load_qmodel

    model_file, data_file = saved("backbone", epochs=8, batch_norm=True, filters=(2, 4, 4), bits=4)
    build = _flow_without_yosys(_options(model_file, data_file, tmp_path, hls=False, exits="auto", exit_epochs=5,
                                         policy="max_prob"))
    report = _report(build)
    prep = report["model_prep"]
    assert [(f["batch_norm"], f["into"]) for f in prep["folded_batch_norms"]] == [("bn1", "conv1")]
    assert [a["after"] for a in prep["attached_exits"]] == ["pool1", "pool2"] and len(report["exits"]) == 3
    (fold,) = [a for a in prep["accuracy"] if a["change"] == "batch norms folded"]
    data = np.load(data_file)
    original = load_qmodel(str(model_file), compile=False)     # the file, batch norm in float
    before = float(np.mean(np.argmax(original.predict(data["x_test"], verbose=0), -1) == data["y_test"]))
    assert fold["before"] == pytest.approx(before, abs=1e-12)
    assert report["overall"]["final_exit_accuracy"] == pytest.approx(fold["after"], abs=1e-12)  # the folded model
    assert "bn1" not in {layer.name for layer in build.model.layers}
    _assert_bit_exact(report, csim=False)
    assert all(s["csim_bit_exact"] is None for s in report["stages"])
    md = (build.out_dir / "report.md").read_text()
    assert "Batch norm bn1 folded into conv1" in md and "batch norms folded: final-exit test accuracy" in md
