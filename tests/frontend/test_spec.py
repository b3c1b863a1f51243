"""Model specs: the example builds a multi-exit QKeras model; malformed specs fail early with one line."""
import copy
from pathlib import Path

import pytest
import yaml

from frontend.build import build_model
from frontend.fixedpoint import FixedFormat
from frontend.spec import SpecError, load_spec, parse_spec


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"


def _example_dict():
    return yaml.safe_load(EXAMPLE.read_text())


def test_example_builds_a_model_with_named_exits_in_depth_order(digits_spec):
    model = build_model(digits_spec)
    assert digits_spec.num_exits >= 3
    assert [t.name.split("/")[0] for t in model.outputs] == [f"exit_{k}" for k in range(1, digits_spec.num_exits + 1)]
    assert all(tuple(t.shape) == (None, digits_spec.classes) for t in model.outputs)
    assert model.input_shape[1:] == digits_spec.input_shape


def test_quantisers_of_the_spec_reach_the_layers(digits_spec):
    from frontend.fixedpoint import qkeras_format

    model = build_model(digits_spec)
    assert qkeras_format(model.get_layer("input_quant").quantizer) == FixedFormat(5, 4, signed=False)
    assert qkeras_format(model.get_layer("exit_1").quantizer) == FixedFormat(16, 9, signed=True)
    conv = model.get_layer("b1_conv2d1")
    assert qkeras_format(conv.kernel_quantizer_internal) == FixedFormat(4, 3, signed=True)


def test_non_uniform_heads_are_built_per_exit(digits_spec):
    data = _example_dict()
    data["blocks"][0]["exit"] = [{"type": "maxpool", "pool": 3}]
    model = build_model(parse_spec(data))
    assert "exit1_maxpool1" in [l.name for l in model.layers]      # exit 1 has its own pooling
    assert "exit2_maxpool1" not in [l.name for l in model.layers]
    assert model.get_layer("exit1_dense").input.shape[-1] == 4      # 3x3x4 pooled to 1x1x4


def test_parsing_is_deterministic_and_keeps_every_field(digits_spec):
    data = _example_dict()
    data["training"]["epochs"] = 1
    assert parse_spec(data) != digits_spec and parse_spec(data).training.epochs == 1
    assert parse_spec(_example_dict()) == digits_spec


@pytest.mark.parametrize("mutate, line", [
    (lambda d: d["input"].pop("shape"), "input.shape: missing; give the input shape"),
    (lambda d: d["blocks"][0]["layers"][0].update(filters="six"),
     "blocks[0].layers[0].filters: 'six' is not a whole number; give an integer >= 1"),
    (lambda d: d["blocks"][1]["layers"][0].update(kernel=2.5), "blocks[1].layers[0].kernel: 2.5 is not a whole number"),
    (lambda d: d["blocks"][0]["layers"].append({"type": "lstm"}),
     "blocks[0].layers[2].type: 'lstm' is unknown; use one of conv2d, dense, maxpool, avgpool or flatten"),
    (lambda d: d["blocks"][0]["layers"].append({"type": "conv2d"}), "blocks[0].layers[2]: a conv2d layer needs filters"),
    (lambda d: d["blocks"][0]["layers"][0].update(stride=2), "blocks[0].layers[0].stride: unknown field"),
    (lambda d: d["defaults"].update(weights="quantized_po2(4)"),
     "defaults.weights: unsupported quantiser 'quantized_po2'; use one of quantized_bits, quantized_relu"),
    (lambda d: d["defaults"].update(weights="__import__('os')"), "defaults.weights: unsupported quantiser"),
    (lambda d: [b.update(exit=False) for b in d["blocks"][:-1]], "blocks: the model has no early exit"),
    (lambda d: d["blocks"][-1].update(exit=False), "blocks[2].exit: the last block has no exit"),
    (lambda d: d["training"].update(loss_weights=[1.0]), "training.loss_weights: 1 weight(s) for 3 exit(s)"),
    (lambda d: d["training"].update(mode="sometimes"), "training.mode: 'sometimes' is unknown; use one of joint"),
    (lambda d: d["calibration"].update(policy="vibes"),
     "calibration.policy: 'vibes' is unknown; use one of max_prob, entropy, margin"),
    (lambda d: d["calibration"].update(accuracy_drop=-1.0), "calibration.accuracy_drop: -1.0 is not >= 0"),
    (lambda d: d.update(calibraton={}), "calibraton: unknown field; remove it or fix its spelling"),
    (lambda d: d.pop("blocks"), "blocks: missing"),
])
def test_malformed_spec_fails_with_one_line_naming_the_field_and_the_fix(mutate, line):
    data = copy.deepcopy(_example_dict())
    mutate(data)
    with pytest.raises(SpecError) as err:
        parse_spec(data, "my.yaml")
    assert err.value.lines() == [err.value.lines()[0]], err.value.lines()
    (got,) = err.value.lines()
    assert got.startswith(f"my.yaml: {line}"), got
    assert "; " in got and "\n" not in got


def test_every_problem_of_a_spec_is_reported_on_its_own_line():
    data = copy.deepcopy(_example_dict())
    data["input"].pop("shape")
    data["blocks"][0]["layers"][0]["filters"] = "six"
    data["calibration"]["accuracy_drop"] = -1
    with pytest.raises(SpecError) as err:
        parse_spec(data, "my.yaml")
    fields = [line.split(": ")[1] for line in err.value.lines()]
    assert fields == ["input.shape", "blocks[0].layers[0].filters", "calibration.accuracy_drop"]


def test_a_quantiser_qkeras_refuses_is_a_spec_error():
    data = copy.deepcopy(_example_dict())
    data["defaults"]["weights"] = "quantized_bits(4, 0, colour=1)"
    spec = parse_spec(data)
    with pytest.raises(SpecError, match=r"quantized_bits\(4, 0, colour=1\): QKeras refuses it"):
        build_model(spec)


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("blocks: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)


LENET = EXAMPLE.parent / "lenet.yaml"


def test_digits_names_its_data_set(digits_spec):
    assert digits_spec.dataset == "digits"


def test_dataset_field_names_the_data_set():
    data = _example_dict()
    data["dataset"] = "mnist5k"
    assert parse_spec(data).dataset == "mnist5k"


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(dataset="cifar10"), "dataset: 'cifar10' is unknown; use one of digits, mnist5k, fashion_mnist"),
    (lambda d: d["training"].update(shift=-1), "training.shift: -1 is not >= 0; give a whole number of pixels"),
    (lambda d: d["training"].update(schedule="step"), "training.schedule: 'step' is unknown; use one of constant"),
])
def test_bad_dataset_or_training_field_fails_with_one_line(mutate, fragment):
    data = _example_dict()
    mutate(data)
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_lenet_example_builds_the_branchy_lenet():
    from frontend.fixedpoint import qkeras_format

    spec = load_spec(LENET)
    assert (spec.dataset, spec.input_shape, spec.num_exits) == ("mnist5k", (28, 28, 1), 2)
    assert (spec.training.shift, spec.training.schedule) == (1, "cosine")
    model = build_model(spec)
    shapes = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    # ATHEENA's B-LeNet: exit 1 has a conv 3x3x10 head; stage 2 is conv 5x5x10, pool, conv 5x5x20, pool, FC 84
    assert shapes["b1_conv2d1"] == (24, 24, 5) and shapes["b1_maxpool2"] == (12, 12, 5)
    assert shapes["exit1_conv2d1"] == (12, 12, 10) and shapes["exit1_maxpool2"] == (6, 6, 10)
    assert shapes["exit1_dense"] == (10,)
    assert shapes["b2_conv2d1"] == (12, 12, 10) and shapes["b2_maxpool2"] == (6, 6, 10)
    assert shapes["b2_conv2d3"] == (6, 6, 20) and shapes["b2_maxpool4"] == (3, 3, 20)
    assert shapes["b2_dense6"] == (84,) and shapes["exit2_dense"] == (10,)
    assert qkeras_format(model.get_layer("input_quant").quantizer) == FixedFormat(8, 8, signed=False)
    assert qkeras_format(model.get_layer("b2_conv2d1").kernel_quantizer_internal) == FixedFormat(4, 3, signed=True)
    assert qkeras_format(model.get_layer("exit_2").quantizer) == FixedFormat(16, 9, signed=True)
