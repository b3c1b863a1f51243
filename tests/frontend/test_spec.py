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


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["blocks"][0]["layers"].append({"type": "lstm"}), "unknown layer type 'lstm'"),
    (lambda d: d["defaults"].update(weights="quantized_po2(4)"), "unsupported quantiser 'quantized_po2'"),
    (lambda d: d["defaults"].update(weights="__import__('os')"), "unsupported quantiser"),
    (lambda d: [b.update(exit=False) for b in d["blocks"][:-1]], "no early exit"),
    (lambda d: d["blocks"][-1].update(exit=False), "last block must end in an exit"),
    (lambda d: d["training"].update(loss_weights=[1.0]), "loss_weights has 1 entries for 3 exits"),
    (lambda d: d["training"].update(mode="sometimes"), "training.mode 'sometimes'"),
    (lambda d: d["calibration"].update(policy="vibes"), "calibration.policy 'vibes'"),
    (lambda d: d.pop("blocks"), "missing 'blocks'"),
])
def test_malformed_spec_fails_with_one_line(mutate, fragment):
    data = copy.deepcopy(_example_dict())
    mutate(data)
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("blocks: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)
