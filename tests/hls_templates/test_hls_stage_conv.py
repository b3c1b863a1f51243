"""A conv stage and the last stage it feeds, through hls4ml C simulation, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from tensorflow import keras

from frontend.fixedpoint import FixedFormat
from hls_templates.convert import (NotBitExact, check_bit_exact, convert_stage, convert_stages,
                                   raise_if_not_bit_exact, read_stage_record)
from hls_templates.precision import forwarded_format, logit_format, stage_input_format

IMAGE = (8, 8, 1)


@pytest.fixture(scope="module")
def stages(stage_models):
    return [stage_models.conv(), stage_models.last()]


@pytest.fixture(scope="module")
def parallel(stages, part, tmp_path_factory):
    hls_dir = tmp_path_factory.mktemp("hls_parallel")
    return hls_dir, convert_stages(stages, hls_dir, part, backend="Vitis", io_type="io_parallel")


@pytest.fixture(scope="module")
def stream(stages, part, tmp_path_factory):
    return convert_stage(stages[0], tmp_path_factory.mktemp("hls_stream") / "stage_1", part,
                         io_type="io_stream", project_name="stage_1")


def assert_bit_exact(hls_model, stage, x):
    result = check_bit_exact(hls_model, stage, x)
    assert result.samples == len(x)
    assert result.max_abs_diff == 0.0, result.first_mismatch
    assert result.bit_exact and result.first_mismatch is None
    return result


def test_conv_stage_outputs_are_non_trivial(stages, stage_inputs):
    logits, pooled = stages[0].predict(stage_inputs.digits(IMAGE), verbose=0)
    assert np.unique(logits).size > 100
    assert 0 < np.count_nonzero(pooled) < pooled.size


def test_conv_stage_io_parallel_bit_exact_on_digits(parallel, stages, stage_inputs):
    result = assert_bit_exact(parallel[1][0], stages[0], stage_inputs.digits(IMAGE))
    assert set(result.per_output) == {"exit_logits", "pool"}


def test_conv_stage_io_parallel_bit_exact_on_rounding_ties(parallel, stages, stage_inputs):
    x = stage_inputs.ties(stage_input_format(stages[0]), IMAGE, 300)
    assert_bit_exact(parallel[1][0], stages[0], x)


def test_last_stage_bit_exact_on_forwarded_digits_and_grid_inputs(parallel, stages, stage_inputs):
    _, forwarded = stages[0].predict(stage_inputs.digits(IMAGE), verbose=0)
    assert_bit_exact(parallel[1][1], stages[1], forwarded)
    assert_bit_exact(parallel[1][1], stages[1], stage_inputs.grid(forwarded_format(stages[0]), (4, 4, 4), 300))


def test_conv_stage_io_stream_bit_exact_on_digits_and_ties(stream, stages, stage_inputs):
    assert_bit_exact(stream, stages[0], stage_inputs.digits(IMAGE))
    assert_bit_exact(stream, stages[0], stage_inputs.ties(stage_input_format(stages[0]), IMAGE, 300))


def test_stage_records_name_project_and_logit_precision(parallel):
    hls_dir, _ = parallel
    for k in (1, 2):
        record = read_stage_record(hls_dir / f"stage_{k}")
        assert record.project_dir == str((hls_dir / f"stage_{k}").resolve())
        assert (record.backend, record.io_type, record.reuse_factor) == ("Vitis", "io_parallel", 1)
        assert record.logit_format == FixedFormat(16, 9, True)
        assert record.hls_logit_precision == "fixed<16,7,RND_CONV,SAT,0>"
        assert record.hls_output_precisions[0] == record.hls_logit_precision
    assert read_stage_record(hls_dir / "stage_1").input_format == FixedFormat(6, 5, False)
    assert read_stage_record(hls_dir / "stage_2").input_format == FixedFormat(6, 4, False)
    assert len(read_stage_record(hls_dir / "stage_2").output_formats) == 1
    assert read_stage_record(hls_dir / "stage_1").hls_output_precisions[1] == "ufixed<6,2,TRN,WRAP,0>"


def test_logit_format_is_read_from_the_exit_quantiser(stages):
    assert logit_format(stages[0]) == logit_format(stages[1]) == FixedFormat(16, 9, True)


def test_mismatch_names_output_layer_and_first_sample(parallel, stages, stage_inputs):
    """A QKeras stage whose weights moved no longer matches its compiled HLS model."""
    changed = keras.models.clone_model(stages[0])
    changed.set_weights(stages[0].get_weights())
    dense = changed.get_layer("exit_dense")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + 0.25])
    result = check_bit_exact(parallel[1][0], changed, stage_inputs.digits(IMAGE)[:20], locate=False)
    assert not result.bit_exact and result.per_output["pool"] == 0.0
    assert result.per_output["exit_logits"] > 0
    assert "output 'exit_logits'" in result.first_mismatch and "sample 0" in result.first_mismatch
    with pytest.raises(NotBitExact, match=r"stage_1 is not bit-exact.*exit_logits.*sample 0"):
        raise_if_not_bit_exact(result, "stage_1")
