"""28x28 Branchy-LeNet stages through hls4ml io_stream C simulation, bit for bit; the io_type rule."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from frontend.fixedpoint import FixedFormat
from hls_templates.convert import (PARALLEL_MAX_INPUT_VALUES, check_bit_exact, check_stages_bit_exact,
                                   convert_stage, convert_stages, raise_if_not_bit_exact, read_stage_record)
from hls_templates.precision import forwarded_format, stage_input_format

IMAGE = (28, 28, 1)
LENET = Path(__file__).resolve().parents[2] / "examples" / "lenet.yaml"


@pytest.fixture(scope="module")
def reduced(stage_models, part, tmp_path_factory):
    """LeNet stage 1 with 2 filters instead of 6: same 28x28 line buffers and pooling, less to compile."""
    stage = stage_models.lenet(filters=2)
    out = tmp_path_factory.mktemp("lenet") / "stage_1"
    return stage, out, convert_stage(stage, out, part, io_type="io_stream", project_name="stage_1")


def test_reduced_lenet_stage_io_stream_bit_exact_on_mnist(reduced, stage_inputs):
    stage, _, hls_model = reduced
    x = stage_inputs.mnist()
    logits, pooled = stage.predict(x, verbose=0)
    assert pooled.shape[1:] == (12, 12, 2) and 0 < np.count_nonzero(pooled) < pooled.size
    assert np.unique(logits).size > 100                  # a non-trivial head, not saturated constants
    result = check_bit_exact(hls_model, stage, x)
    assert result.samples == 1000 and result.max_abs_diff == 0.0, result.first_mismatch


def test_reduced_lenet_stage_io_stream_bit_exact_on_rounding_ties(reduced, stage_inputs):
    stage, _, hls_model = reduced
    result = check_bit_exact(hls_model, stage, stage_inputs.ties(stage_input_format(stage), IMAGE, 200))
    assert result.max_abs_diff == 0.0, result.first_mismatch


def test_reduced_lenet_stage_record_is_a_stream_with_an_8_bit_unsigned_port(reduced):
    _, out, _ = reduced
    record = read_stage_record(out)
    assert record.io_type == "io_stream"
    assert record.input_format == FixedFormat(8, 8, signed=False)          # quantized_relu(8, 0): pixels / 256
    assert record.hls_output_precisions[1] == "ufixed<4,2,TRN,WRAP,0>"     # forwarded quantized_relu(4, 2)


def test_large_stage_inputs_are_converted_io_stream_even_when_io_parallel_is_asked_for():
    from hls_templates.convert import stage_io_type

    assert stage_io_type("io_parallel", (8, 8, 1)) == "io_parallel"          # digits: fully unrolled
    assert stage_io_type("io_parallel", (3, 3, 4)) == "io_parallel"
    assert stage_io_type("io_parallel", (28, 28, 1)) == "io_stream"           # LeNet stage 1
    assert stage_io_type("io_parallel", (12, 12, 6)) == "io_stream"           # LeNet stage 2
    assert stage_io_type("io_parallel", (PARALLEL_MAX_INPUT_VALUES,)) == "io_parallel"
    assert stage_io_type("io_stream", (8, 8, 1)) == "io_stream"
    with pytest.raises(ValueError, match="unknown io_type 'io_serial'"):
        stage_io_type("io_serial", (8, 8, 1))


@pytest.mark.slow
def test_trained_lenet_stages_io_stream_bit_exact(part, stage_inputs, tmp_path):
    """The example's own trained stages (about 2 min of training, 1.5 min of conversion and C-sim)."""
    from frontend.build import build_model
    from frontend.data import load_dataset
    from frontend.spec import load_spec
    from frontend.stages import split_model
    from frontend.train import train

    spec = load_spec(LENET)
    data = load_dataset(spec.input_shape, spec.classes, dataset=spec.dataset)
    model = build_model(spec)
    train(model, data.x_train, data.y_train, spec.training)
    stages = split_model(model)
    start = time.perf_counter()
    hls_models = convert_stages([s.model for s in stages], tmp_path, part, io_type="io_stream")
    ties = stage_inputs.ties(stage_input_format(stages[0].model), IMAGE, 200)
    for x in (data.x_test, ties):
        for stage, result in zip(stages, check_stages_bit_exact(hls_models, [s.model for s in stages], x)):
            raise_if_not_bit_exact(result, f"stage {stage.index}")
    assert read_stage_record(tmp_path / "stage_2").input_format == forwarded_format(stages[0].model)
    print(f"two LeNet stages: conversion, compile and C simulation in {time.perf_counter() - start:.0f} s")
