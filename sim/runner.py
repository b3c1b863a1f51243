"""Run a cocotb test module against Verilog sources, from pytest or a flow.

Every cocotb test in the project goes through ``run_cocotb``. It prepares the
simulator (``flows.tools.setup_simulator``), builds into ``build_dir``, runs
``test_module`` (importable from ``test_dir``) and raises ``CocotbFailure``
naming the failing tests.

Data convention between Python and the cocotb test: write vectors and
expected results as ``.npz`` files in ``build_dir`` and pass their paths in
``extra_env`` under names starting with ``TB_`` (e.g. ``TB_VECTORS``); the
testbench reads them with ``np.load(os.environ["TB_VECTORS"])`` and may write
its own findings (e.g. ``TB_RESULT`` -> a JSON file) the same way.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from xml.etree import ElementTree

from flows.tools import setup_simulator


class CocotbFailure(AssertionError):
    """A cocotb test failed; the message names it and points at the log."""


def failed_tests(results_xml: Path) -> list[str]:
    """Names of failing test cases in a cocotb results.xml."""
    if not Path(results_xml).is_file():
        raise CocotbFailure(f"simulation ended without results ({results_xml} missing); see the log beside it")
    failed = []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(case.get("name", "?"))
    return failed


def run_cocotb(sources: list[Path], toplevel: str, test_module: str, test_dir: Path, build_dir: Path,
               simulator: str = "verilator", parameters: dict | None = None, extra_env: dict | None = None,
               waves: bool = False, build_args: list[str] | None = None, testcase: str | None = None,
               includes: list[Path] | None = None, test_args: list[str] | None = None,
               build: bool = True, plusargs: list[str] | None = None) -> Path:
    """Build and run; return results.xml, raise CocotbFailure if any test failed.

    ``build=False`` reruns the simulator built by an earlier call with the same
    ``build_dir`` (e.g. once per scenario); ``test_args`` go to the simulator
    executable (Verilator: ``--trace-file <path>``).
    """
    from cocotb_tools.runner import get_runner

    setup_simulator(simulator)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    test_dir = Path(test_dir).resolve()
    # no blanket -Wno-*: every source is lint-clean under -Wall (tests/hardware/test_lint.py), so a
    # Verilator warning here is a defect in the RTL and fails the build
    args = list(build_args or [])
    runner = get_runner(simulator)
    if build:
        runner.build(sources=[Path(s).resolve() for s in sources], hdl_toplevel=toplevel, build_dir=build_dir,
                     parameters=parameters or {}, build_args=args, waves=waves, always=True,
                     includes=[Path(i).resolve() for i in includes or []], log_file=build_dir / "build.log")
    env = {k: str(v) for k, v in (extra_env or {}).items()}
    # cocotb imports the test module from test_dir; make sure our packages resolve too.
    # sys.path's "" is the caller's working directory, not the simulator's: pass it as an absolute path
    env.setdefault("PYTHONPATH", os.pathsep.join([str(test_dir), *(p or os.getcwd() for p in sys.path)]))
    results = build_dir / "results.xml"
    results.unlink(missing_ok=True)
    test_args = list(test_args or [])
    if simulator == "verilator" and waves and "--trace-file" not in test_args:
        # a traced run with no file of its own would write dump.* into test_dir, i.e. the source tree
        trace = "dump.saif" if "--trace-saif" in args else "dump.fst" if "--trace-fst" in args else "dump.vcd"
        test_args += ["--trace-file", str(build_dir / trace)]
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, test_dir=test_dir, build_dir=build_dir,
                    parameters=parameters or {}, extra_env=env, waves=waves, testcase=testcase,
                    test_args=test_args, plusargs=list(plusargs or []),
                    hdl_toplevel_lang=None if build else "verilog",
                    results_xml=str(results), log_file=build_dir / "sim.log")
    except SystemExit:
        pass  # some cocotb runners exit on a failed test; results.xml says which one
    failed = failed_tests(results)
    if failed:
        raise CocotbFailure(f"cocotb test(s) {', '.join(failed)} of {test_module} failed on {simulator} "
                            f"for {toplevel}; see {build_dir / 'sim.log'}")
    return Path(results)
