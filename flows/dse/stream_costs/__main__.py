"""python -m flows.dse.stream_costs fit | validate [options]

fit:       synthesise the probes (Dask jobs, cached by content) and fit every primitive; prints the fits.
validate:  the LeNet stages (examples/lenet.yaml, trained once and cached like `make synth` does) at
           (stage, target II, P) cases: predicted vs Yosys (validate.py).
Yosys runs are Dask jobs: DSE_SCHEDULER=tcp://host:port, else a local cluster (--workers), or --serial.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def _client(args):
    from contextlib import nullcontext

    from ..jobs import dask_client

    return nullcontext(None) if args.serial else dask_client(workers=args.workers)


def fit_summary(costs) -> str:
    lines = ["| kind | probes | LUT model | worst LUT residual | worst leave-one-out |", "|---|---:|---|---:|---:|"]
    for kind, fit in sorted(costs.fits.items()):
        lut = fit.metrics["lut"]
        terms = " + ".join(f"{c:.3g} {n}" for n, c in zip(lut.features, lut.coefficients) if c)
        lines.append(f"| {kind} | {len(fit.points)} | {terms} | {fit.worst('lut'):.1f} % | {fit.worst('lut', True):.1f} % |")
    return "\n".join(lines)


def parse_cases(text: str) -> tuple[tuple[int, int, int], ...]:
    """'1:784:1,2:3136:1' -> ((stage, target II, P), ...)."""
    try:
        cases = tuple(tuple(int(v) for v in c.split(":")) for c in text.split(",") if c)
        if not cases or any(len(c) != 3 or min(c) < 1 for c in cases):
            raise ValueError
    except ValueError:
        raise SystemExit(f"--cases {text!r}: give stage:target_ii:P triples of positive ints, e.g. 1:784:1,2:3136:1")
    return cases


def main(argv=None) -> None:
    from . import fit_costs
    from .validate import LENET_CASES

    parser = argparse.ArgumentParser(prog="python -m flows.dse.stream_costs")
    parser.add_argument("command", choices=("fit", "validate"))
    parser.add_argument("--build", type=Path, default=Path("build"))
    parser.add_argument("--train-root", type=Path, default=None,
                        help="where the trained model is cached (default: --build; make synth's cache)")
    parser.add_argument("--family", default="xc7")
    parser.add_argument("--model", type=Path, default=Path("examples/lenet.yaml"))
    parser.add_argument("--cases", default=",".join(":".join(map(str, c)) for c in LENET_CASES))
    parser.add_argument("--simulator", default="icarus", choices=("icarus", "verilator"))
    parser.add_argument("--sim", action="store_true", help="also measure the frame interval in RTL simulation")
    parser.add_argument("--serial", action="store_true", help="run Yosys in this process, no Dask")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    cases = parse_cases(args.cases)
    start = time.perf_counter()
    with _client(args) as client:
        costs = fit_costs(args.build / "dse" / "costs" / args.family, client=client, family=args.family,
                          progress=print)
        print(fit_summary(costs))
        print(f"fits ready in {time.perf_counter() - start:.1f} s")
        if args.command == "fit":
            return
        from frontend.spec import load_spec

        from .networks import model_stage_irs, trained_spec_model
        from .validate import validate

        spec = load_spec(args.model)
        irs = model_stage_irs(trained_spec_model(args.train_root or args.build, spec))
        out = args.build / spec.name / "dse" / "stream_costs"
        validate(irs, costs, out, cases, client, args.simulator, args.sim)
        print((out / "validation.md").read_text())
        print(f"validation done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
