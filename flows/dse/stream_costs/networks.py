"""The networks the cost models are validated on: a spec model trained once (cached under the key
``make synth`` uses, flows/synth.py training_key, so either reuses the other's training) and cut into
fused stage IRs the way flows/synth.py build_stream_cores cuts them.

    irs = spec_stage_irs(Path("build"), Path("examples/lenet.yaml"))   # -> [StageIR, ...], stage 1 first
"""
from __future__ import annotations

from pathlib import Path

from frontend.ir import StageIR, fuse_requantisers, stage_ir


def trained_spec_model(build_root: Path, spec):
    """The spec's model trained as its spec says, from build/<name>/train/<key>/model.h5 when cached."""
    from flows.synth import load_user_model, training_key
    from frontend.build import build_model
    from frontend.data import load_dataset
    from frontend.train import train

    data = load_dataset(spec.input_shape, spec.classes, dataset=spec.dataset)
    cache = Path(build_root) / spec.name / "train" / training_key(spec, spec.training, data) / "model.h5"
    if cache.is_file():
        return load_user_model(cache)
    model = build_model(spec)
    train(model, data.x_train, data.y_train, spec.training)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name("model.tmp.h5")
    model.save(tmp)
    tmp.replace(cache)
    return model


def model_stage_irs(model) -> list[StageIR]:
    """Fused stage IRs of a trained multi-exit model, stage 1 first: each stage reads the format the
    stage before forwards (flows/synth.py build_stream_cores)."""
    from frontend.stages import split_model

    irs, fmt = [], None
    for s in split_model(model):
        ir = fuse_requantisers(stage_ir(s.model, fmt, name=f"stage_{s.index}"))
        irs.append(ir)
        if ir.forwarded is not None:
            fmt = next(layer.out_format for layer in ir.layers if layer.name == ir.forwarded) \
                if ir.forwarded != "input" else ir.input_format
    return irs


def spec_stage_irs(build_root: Path, spec_path: Path) -> list[StageIR]:
    from frontend.spec import load_spec

    return model_stage_irs(trained_spec_model(build_root, load_spec(spec_path)))
