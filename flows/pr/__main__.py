"""python -m flows.pr --report build/<model>/<board>/report.json [--deadline S] [--capacity F] ...

Evaluates the PR alternative from a report written by `make synth` and writes pr.json,
pr_batch.png and dfx_project.tcl (default: beside the report, in pr/). The lead's CLI wraps
``flows.pr.make_pr``; this entry is for running the step alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .evaluate import make_pr
from .inputs import RESOURCES, PrError


def _budget(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in RESOURCES or not value:
            raise argparse.ArgumentTypeError(f"region budget {text!r}: use e.g. lut=20000,ff=40000,dsp=40,bram=10")
        out[key.strip()] = float(value)
    return {r: out.get(r, float("inf")) for r in RESOURCES}


def _manifest(text: str) -> tuple[int, Path]:
    k, _, path = text.partition("=")
    if not k.isdigit() or not path:
        raise argparse.ArgumentTypeError(f"stage manifest {text!r}: use K=path/to/stage.json")
    return int(k), Path(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flows.pr", description=__doc__.splitlines()[0])
    p.add_argument("--report", required=True, help="report.json from `make synth`")
    p.add_argument("--out", help="output folder (default: <report folder>/pr)")
    p.add_argument("--deadline", type=float, help="p99 latency bound in seconds for the deadline-aware schedule")
    p.add_argument("--capacity", type=float, default=1.0,
                   help="scale the device resources (<1 constrains, >1 is a larger what-if device)")
    p.add_argument("--region-budget", type=_budget, help="cap the region, e.g. lut=20000,ff=40000")
    p.add_argument("--margin", type=float, default=0.2, help="region headroom over the largest stage (0.2 = 20 %%)")
    p.add_argument("--stage-manifest", type=_manifest, action="append", default=[],
                   help="K=stage.json of stage K's RTL (repeat); wraps the cores as reconfigurable modules")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.report).parent / "pr"
    try:
        result = make_pr(args.report, out, deadline_s=args.deadline, capacity_fraction=args.capacity,
                         region_budget=args.region_budget, margin=args.margin,
                         stage_manifests=dict(args.stage_manifest) or None)
    except PrError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(result.summary_lines()))
    print(f"wrote {out / 'pr.json'}, {out / 'pr_batch.png'}, {out / 'dfx_project.tcl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
