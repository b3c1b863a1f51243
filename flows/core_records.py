"""Yosys records of the flow's own cores, named by what each core is built from.

``make synth`` (open flow) writes one record per stage core and exit unit to
``<out>/yosys/records/<name>.json``; the DSE reads exactly the records of the
cores it needs by computing the same names from its own stages and exit
configs (``flows.dse.costs.flow_records``). A name is the core's kind and
index, the exit policy for a unit, and a content key of everything the core
is built and synthesised from: the stage model (architecture and weights) and
its input format, or the exit unit's configuration; the generator code; da4ml
and Yosys versions; the synthesis family and flows/yosys.py. A record of
another policy, an older model or older generator code has another name and is
never read.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from flows.content_key import ContentKey

STAGE_CORE_CODE = ("hardware/__init__.py", "hardware/stage/*.py", "hardware/stream_shell/*.v", "hardware/fifo/*.v",
                   "frontend/fixedpoint.py")
EXIT_UNIT_CODE = ("hardware/__init__.py", "hardware/exit_unit/*.py", "hardware/exit_unit/*.v",
                  "exit_unit/reference.py", "frontend/fixedpoint.py")


def _synthesis(key: ContentKey, family: str) -> str:
    from flows import yosys

    return key.text("family", family).file(yosys.__file__, "flows/yosys.py").tools("yosys").hexdigest(16)


def stage_core_name(k: int, stage_model, input_format, family: str) -> str:
    """Record name of the fully parallel core of stage k (``hardware.stage.build_stage_rtl`` of the model)."""
    key = ContentKey("stage core").text("name", f"stage_{k}").text("model", stage_model.to_json())
    for i, w in enumerate(stage_model.get_weights()):
        key.array(f"weight {i}", w)
    key.text("input format", repr(input_format)).code(STAGE_CORE_CODE).tools("da4ml")
    return f"stage_{k}-{_synthesis(key, family)}"


def exit_unit_name(k: int, config, family: str) -> str:
    """Record name of the parallel exit unit of exit k with this configuration (policy, classes, formats)."""
    key = ContentKey("exit unit").text("config", repr(config)).code(EXIT_UNIT_CODE)
    return f"exit_unit_{k}-{config.policy}-{_synthesis(key, family)}"


def write_record(records_dir: Path, name: str, record: dict) -> Path:
    path = Path(records_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return path


def read_record(records_dir: Path, name: str) -> dict | None:
    path = Path(records_dir) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None
