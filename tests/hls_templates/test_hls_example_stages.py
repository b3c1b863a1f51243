"""The example model's own stages (frontend split) through hls4ml, bit for bit."""
from __future__ import annotations

import pytest

from hls_templates.convert import (check_stages_bit_exact, convert_stages, raise_if_not_bit_exact,
                                   read_stage_record)
from hls_templates.precision import stage_input_format


def _check_chain(hls_models, stages, x):
    """Each stage on the previous stage's QKeras forwarded tensor; returns max |difference|."""
    results = check_stages_bit_exact(hls_models, [s.model for s in stages], x)
    for stage, result in zip(stages, results):
        assert result.samples == len(x)
        raise_if_not_bit_exact(result, f"stage_{stage.index}")
    return max(r.max_abs_diff for r in results)


def _convert_and_check(digits_stages, digits_data, stage_inputs, part, hls_dir, io_type):
    models = [s.model for s in digits_stages]
    hls_models = convert_stages(models, hls_dir, part, io_type=io_type)
    assert _check_chain(hls_models, digits_stages, digits_data.x_test) == 0.0
    ties = stage_inputs.ties(stage_input_format(models[0]), models[0].input_shape[1:], 200)
    assert _check_chain(hls_models, digits_stages, ties) == 0.0
    for stage in digits_stages:
        record = read_stage_record(hls_dir / f"stage_{stage.index}")
        assert record.logit_format == stage.logit_format
        if stage.input_format is not None:  # the frontend's grid of the entering tensor
            assert record.input_format == stage.input_format


@pytest.mark.slow
def test_example_stages_io_parallel_bit_exact(digits_stages, digits_data, stage_inputs, part, tmp_path):
    _convert_and_check(digits_stages, digits_data, stage_inputs, part, tmp_path, "io_parallel")


@pytest.mark.slow
def test_example_stages_io_stream_bit_exact(digits_stages, digits_data, stage_inputs, part, tmp_path):
    _convert_and_check(digits_stages, digits_data, stage_inputs, part, tmp_path, "io_stream")
