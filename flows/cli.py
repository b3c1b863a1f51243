"""One CLI behind every make target: ``python -m flows <command>`` (or ``exitflow``)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path


def _quiet() -> None:
    """Tool chatter goes nowhere near the user's terminal (see _log_to_file)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")


def _log_to_file(build_root: Path) -> Path:
    """Python logging of every tool (TensorFlow, cocotb runner, hls4ml) goes to build/exitflow.log."""
    build_root.mkdir(parents=True, exist_ok=True)
    path = build_root / "exitflow.log"
    logging.basicConfig(filename=path, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return path


def _reuse(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"reuse factor {text!r} is not a comma-separated list of integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("reuse factors must be integers >= 1")
    return values


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    """How a model file is prepared (frontend/prepare.py); the same for synth and dse."""
    parser.add_argument("--exits", default=None,
                        help="a one-output backbone: 'auto' attaches exit heads after its pooling layers and blocks, "
                             "or name the layers: layer1,layer2 (heads trained exits-only, backbone frozen)")
    parser.add_argument("--input-bits", default=16, type=int,
                        help="an unquantised input whose data lie on no fixed-point grid of at most this many bits "
                             "is quantised to it (default 16, integer bits from the data range)")
    parser.add_argument("--logit-bits", default=None, type=int,
                        help="round unquantised exit logits to this many bits (default: their exact accumulator)")
    parser.add_argument("--exit-epochs", default=30, type=int, help="training epochs of attached exit heads")


def _model_options(args) -> dict:
    return {"exits": args.exits, "input_bits": args.input_bits, "logit_bits": args.logit_bits,
            "exit_epochs": args.exit_epochs}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exitflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="model -> trained, calibrated stages -> HLS cores -> report")
    synth.add_argument("--model", default=None,
                       help="spec (.yaml) or QKeras model (.h5); default: the design's model, else "
                            "examples/digits.yaml")
    synth.add_argument("--board", default="pynq-z2")
    synth.add_argument("--design", default=None, type=str,
                       help="a DSE point (build/<model>/<board>/dse/points/<id>.yaml): build exactly that design")
    synth.add_argument("--data", default=None, help=".npz with x_train, y_train, x_test, y_test (default: digits)")
    synth.add_argument("--build-root", default="build", type=Path)
    synth.add_argument("--train", default=None, help="train in this mode: joint, exits_only or distill")
    synth.add_argument("--policy", default=None, help="exit policy: max_prob, entropy or margin")
    synth.add_argument("--accuracy-drop", default=None, type=float, help="points below the final exit allowed")
    synth.add_argument("--backend", default="Vitis", choices=["Vitis", "Vivado"])
    synth.add_argument("--io-type", default=None, choices=["io_parallel", "io_stream"],
                       help="hls4ml IO type (default: io_stream for the vendor flow, io_parallel for the open flow)")
    synth.add_argument("--reuse", default=[1], type=_reuse, help="reuse factor, or one per stage: 1,2,4")
    synth.add_argument("--no-hls", action="store_true", help="skip hls4ml conversion")
    synth.add_argument("--flow", default=None, choices=["auto", "open", "vendor"],
                       help="vendor needs vitis_hls and vivado on PATH; auto (default) uses them when found and "
                            "the options allow it (HLS on, IO type io_stream or unset)")
    synth.add_argument("--cosim", action="store_true", help="vendor flow: also run HLS co-simulation")
    synth.add_argument("--no-rtl", action="store_true", help="open flow: skip stage RTL, Yosys and simulation")
    synth.add_argument("--no-sim", action="store_true", help="skip the multi-exit pipeline simulation")
    synth.add_argument("--no-board-top", action="store_true",
                       help="skip the AXI-wrapped board top (register map, driver, its simulation over AXI)")
    synth.add_argument("--no-pr", action="store_true", help="skip the partial-reconfiguration evaluation")
    synth.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    synth.add_argument("--rtl-random", default=10_000, type=int, help="random input vectors per stage core")
    synth.add_argument("--deadline", default=None, type=float, help="p99 latency bound (s) for the PR schedule")
    synth.add_argument("--pipeline-scenarios", default=None, type=str,
                       help="comma list of pipeline scenarios to simulate (nominal, exits_off, extremes, "
                            "back_pressure, idle_input, bursty); default: all but bursty. A DSE validation build: "
                            "nominal,bursty")
    synth.add_argument("--sim-split", default="test",   # checked by flows.synth against sim.pipeline SIM_SPLITS
                       help="the split the pipeline RTL streams: test (default) or calibration (checks a DSE point's "
                            "predictions on the split they were made on, built beside in <out>-sim-calibration)")
    _model_arguments(synth)

    sub.add_parser("boards", help="list the known boards")

    cmp = sub.add_parser("compare", help="compare two report.json files; exit 1 when B regresses A")
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    cmp.add_argument("--tol", action="append", default=[], metavar="METRIC=PCT",
                     help="tolerance per metric in percent (accuracy in points), e.g. --tol lut=5")
    cmp.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")

    pr = sub.add_parser("pr", help="partial reconfiguration from a report.json written by synth")
    pr.add_argument("--board", default="pynq-z2")
    pr.add_argument("--model", default="examples/digits.yaml", help="the model given to synth")
    pr.add_argument("--build-root", default="build", type=Path)
    pr.add_argument("--deadline", default=None, type=float, help="p99 latency bound in seconds")
    pr.add_argument("--capacity", default=1.0, type=float,
                    help="scale the device (<1: exercise PR on a smaller part; >1: a larger one)")

    dse = sub.add_parser("dse", help="design-space exploration: exits, thresholds and folding under a budget")
    dse.add_argument("--model", default="examples/digits.yaml")
    dse.add_argument("--board", default="pynq-z2")
    dse.add_argument("--build-root", default="build", type=Path)
    dse.add_argument("--objective", default="throughput", help="throughput, latency or energy")
    dse.add_argument("--min-accuracy", default=None, type=float,
                     help="accuracy bound, applied on the calibration split (the test split is only reported)")
    dse.add_argument("--max-latency-us", default=None, type=float)
    dse.add_argument("--lut-budget", default=None, type=int)
    dse.add_argument("--scheduler", default=os.environ.get("DSE_SCHEDULER"),
                     help="tcp://host:port of a Dask scheduler (default: a local cluster; env DSE_SCHEDULER)")
    dse.add_argument("--no-validate", action="store_true", help="predict only; build and measure nothing")
    _model_arguments(dse)

    eu = sub.add_parser("exit-unit", help="generate, verify and cost the exit-decision units")
    eu.add_argument("--build-root", default="build", type=Path)
    eu.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    eu.add_argument("--vectors", default=100_000, type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done; 1 a problem the user can fix (one ``error:`` line per
    problem on stderr, naming the fix); ``compare``: 1 B regresses A, 2 not comparable or not a report;
    3 an internal error (a bug: one line, the traceback in build/exitflow.log); 130 interrupted."""
    from flows.errors import EXIT_INTERNAL_ERROR, UserError, one_line

    _quiet()
    args = build_parser().parse_args(argv)
    from rich.console import Console

    console = Console()
    build_root = getattr(args, "build_root", Path("build"))
    logged = hasattr(args, "build_root")   # commands without a build root (compare, boards) keep no log
    if logged:
        _log_to_file(build_root)
    try:
        return COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    except UserError as exc:
        # one plain line per problem on stderr, never wrapped, so scripts and CI logs can grep it
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
            if logged:
                logging.getLogger("exitflow").error(line)
        return exc.exit_code
    except Exception as exc:  # anything else is a bug in exitflow: say so, keep the traceback
        log = _keep_traceback(build_root, exc, argv)
        print(f"error: internal error (a bug in exitflow): {type(exc).__name__}: {one_line(str(exc))}; "
              f"traceback in {log}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _keep_traceback(build_root: Path, exc: BaseException, argv: list[str] | None) -> Path | str:
    """Append the traceback to build/exitflow.log; return its path (or "stderr" when it cannot be written)."""
    import time
    import traceback

    text = "".join(traceback.format_exception(exc))
    command = " ".join(sys.argv[:1] + list(sys.argv[1:] if argv is None else argv))
    path = Path(build_root) / "exitflow.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} internal error in `{command}`:\n{text}")
    except OSError:
        sys.stderr.write(text)
        return "stderr"
    return path


def _synth(args, console) -> int:
    from flows.report import print_report
    from flows.synth import SynthOptions, run_synth

    options = SynthOptions(model=args.model, board=args.board, design=args.design, data=args.data,
                           build_root=args.build_root,
                           train=args.train, policy=args.policy, accuracy_drop=args.accuracy_drop,
                           backend=args.backend, io_type=args.io_type, reuse_factor=args.reuse,
                           hls=not args.no_hls, flow=args.flow, cosim=args.cosim, rtl=not args.no_rtl,
                           sim=not args.no_sim, board_top=not args.no_board_top, pr=not args.no_pr,
                           simulator=args.simulator, rtl_random_vectors=args.rtl_random, deadline_s=args.deadline,
                           pipeline_scenarios=args.pipeline_scenarios, sim_split=args.sim_split,
                           **_model_options(args))
    build = run_synth(options, console)
    print_report(build.report, console)
    for path in build.report_paths:
        console.print(f"wrote {path}")
    return 0


def _boards(args, console) -> int:
    from boards import known_boards, load_board

    for name in known_boards():
        b = load_board(name)
        console.print(f"{name}: {b.part}, {b.clock_mhz:g} MHz, " +
                      ", ".join(f"{v:,} {k.upper()}" for k, v in b.resources.items()))
    return 0


def _compare(args, console) -> int:
    from flows.compare import Tolerances, compare_main

    return compare_main(args.a, args.b, Tolerances.parse(args.tol), console, markdown=args.markdown)


def _pr(args, console) -> int:
    from flows.pr.evaluate import make_pr
    from flows.synth import model_name

    out = args.build_root / model_name(args.model) / args.board
    result = make_pr(out / "report.json", out / "pr", deadline_s=args.deadline, capacity_fraction=args.capacity)
    for line in result.summary_lines():
        console.print(line, highlight=False)
    console.print(f"wrote {out / 'pr'}")
    return 0


DSE_PHASES = {"yosys": "Yosys cost probes", "model": "designs on the model", "validate": "designs built"}


def _dse(args, console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.dse.run import run_dse

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[best]}"))
    with Progress(*columns, console=console) as bars:
        tasks: dict[str, int] = {}

        def tick(phase: str, done: int, total: int, best: str | None) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(DSE_PHASES.get(phase, phase), total=total, best="")
            bars.update(tasks[phase], completed=done, total=total, best=f"best so far {best}" if best else "")

        path = run_dse(args.build_root.resolve(), args.model, args.board, objective=args.objective,
                       min_accuracy=args.min_accuracy, max_latency_us=args.max_latency_us,
                       lut_budget=args.lut_budget, scheduler=args.scheduler,
                       progress=lambda message: bars.console.print(f"  {message}"),
                       validate=not args.no_validate, tick=tick, model_options=_model_options(args))
    console.print(f"wrote {path}")
    return 0


def _exit_unit(args, console) -> int:
    from exit_unit.flow import make_exit_unit

    path = make_exit_unit(args.build_root / "exit_unit", simulator=args.simulator, vectors=args.vectors)
    console.print(f"wrote {path}")
    return 0


COMMANDS = {"synth": _synth, "boards": _boards, "exit-unit": _exit_unit, "compare": _compare, "pr": _pr, "dse": _dse}

if __name__ == "__main__":
    sys.exit(main())
