"""Run a primitive's cocotb testbench (sim/hardware/tb_<primitive>.py) from pytest."""
from __future__ import annotations

import json
from pathlib import Path

from hardware.primitive import Primitive
from sim.runner import run_cocotb

TB_DIR = Path(__file__).resolve().parent


def run_primitive_tb(primitive: Primitive, tb_module: str, build_dir: Path, simulator: str = "icarus",
                     env: dict | None = None, testcase: str | None = None, toplevel: str | None = None,
                     wrapper: str | None = None, parameters: dict | None = None,
                     others: tuple[Primitive, ...] = ()) -> dict:
    """Build ``primitive`` (inside the testbench wrapper ``sim/hardware/<wrapper>`` if given, whose top is
    ``toplevel`` and whose ``parameters`` replace the primitive's), run ``tb_module`` and return the
    measurements its tests recorded, by test name. ``others``: more primitives the wrapper instantiates."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    result = build_dir / "result.json"
    result.unlink(missing_ok=True)
    sources = list(dict.fromkeys(f for p in (primitive, *others) for f in p.files))
    sources += [TB_DIR / wrapper] if wrapper else []
    run_cocotb(sources, toplevel or primitive.top, tb_module, TB_DIR, build_dir / simulator, simulator=simulator,
               parameters=primitive.parameters if parameters is None else parameters, extra_env={**(env or {}), "TB_RESULT": result}, testcase=testcase)
    return json.loads(result.read_text()) if result.is_file() else {}
