"""Dense-only and average-pooling stages; the Vivado backend, Resource strategy, reuse factor > 1."""
from __future__ import annotations

import hls4ml
import pytest

from frontend.fixedpoint import FixedFormat
from hls_templates.convert import (NotBitExact, check_bit_exact, convert_stage, raise_if_not_bit_exact,
                                   read_stage_record)
from hls_templates.precision import forwarded_format, stage_input_format

IMAGE = (8, 8, 1)


@pytest.fixture(scope="module")
def dense(stage_models, part, tmp_path_factory):
    stage = stage_models.dense()
    out = tmp_path_factory.mktemp("dense") / "stage_1"
    return stage, out, convert_stage(stage, out, part, backend="Vivado", reuse_factor=4, strategy="Resource")


@pytest.fixture(scope="module")
def avgpool(stage_models, part, tmp_path_factory):
    stage = stage_models.avgpool()
    return stage, convert_stage(stage, tmp_path_factory.mktemp("avg") / "stage_1", part)


@pytest.mark.parametrize("inputs", ["digits", "ties"])
def test_dense_stage_with_unsigned_input_quantiser_bit_exact(dense, stage_inputs, inputs):
    stage, _, hls_model = dense
    if inputs == "digits":
        x = stage_inputs.digits((64,))
    else:
        x = stage_inputs.ties(stage_input_format(stage), (64,), 400)
    result = check_bit_exact(hls_model, stage, x)
    assert result.max_abs_diff == 0.0, result.first_mismatch


def test_unsigned_quantized_bits_keeps_all_fraction_bits(dense):
    """hls4ml alone types quantized_bits(8, 0, keep_negative=False) as fixed<8,1>.

    Typed as the quantiser, the stage input does the quantisation itself and
    hls4ml drops the then no-op input QActivation.
    """
    stage, _, hls_model = dense
    assert stage_input_format(stage) == FixedFormat(8, 8, False)
    assert str(hls_model.graph["pixels"].get_output_variable().type.precision) == "ufixed<8,0,RND_CONV,SAT,0>"
    assert "in_q" not in hls_model.graph


def test_vivado_backend_resource_strategy_and_reuse_factor_are_recorded(dense):
    _, out, hls_model = dense
    record = read_stage_record(out)
    assert (record.backend, record.reuse_factor, record.strategy) == ("Vivado", 4, "Resource")
    assert record.layer_reuse_factors == {"hidden": 4, "exit_dense": 4}
    assert hls_model.config.get_config_value("Backend") == "Vivado"
    assert (out / "build_prj.tcl").is_file()


def test_average_pooling_stage_bit_exact_on_digits_and_ties(avgpool, stage_inputs):
    stage, hls_model = avgpool
    for x in (stage_inputs.digits(IMAGE), stage_inputs.ties(stage_input_format(stage), IMAGE, 300)):
        result = check_bit_exact(hls_model, stage, x)
        assert result.max_abs_diff == 0.0, result.first_mismatch


def test_average_pooling_widens_the_forwarded_format_exactly(stage_models):
    """relu ufixed<8,5> averaged over 4 values needs two more fraction bits."""
    assert forwarded_format(stage_models.avgpool()) == FixedFormat(10, 7, False)


@pytest.mark.slow
def test_hls4ml_default_typing_is_not_bit_exact_and_the_first_bad_layer_is_named(
        stage_models, stage_inputs, part, tmp_path):
    """Why precision.py exists: hls4ml's own config drifts from QKeras on this stage,
    first at the unsigned input quantiser it types as signed fixed<8,1>."""
    stage = stage_models.dense()
    config = hls4ml.utils.config_from_keras_model(stage, granularity="name", backend="Vitis")
    hls_model = hls4ml.converters.convert_from_keras_model(
        stage, hls_config=config, output_dir=str(tmp_path / "default"), backend="Vitis", part=part)
    hls_model.compile()
    result = check_bit_exact(hls_model, stage, stage_inputs.ties(stage_input_format(stage), (64,), 100))
    assert result.max_abs_diff > 0 and result.first_mismatch is not None
    assert result.first_differing_layer.startswith("layer 'in_q'")
    with pytest.raises(NotBitExact, match=r"sample \d+.*first differing layer 'in_q'"):
        raise_if_not_bit_exact(result)
