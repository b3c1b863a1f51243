"""Fit every primitive's cost model to its Yosys probes, and keep the fits (with their evidence) as JSON.

    costs = fit_costs(Path("build/dse/costs/xc7"), client=None)   # probes as Dask jobs when client is given
    costs.fits["mvau"].points[0]                                  # probe knobs, features, Yosys, model, residual

Per kind and metric (models.MODELS) the coefficients are non-negative least squares with each
probe weighted by 1/measured, so the fit minimises relative error (what the +-10 % target is
about). Each point records its in-sample residual and its leave-one-out residual (the point
predicted by a fit without it): the second is the honest figure for a knob setting no probe has.
``stream_costs.json`` holds the probe set's digest; a rerun with the same probes, generators and
Verilog loads the fits without generating or synthesising anything.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..jobs import run_jobs
from .describe import describe
from .features import KernelCostCache
from .models import METRICS, MODELS, RULES
from .probes import Probe, generator_digest, probe_job, probe_points

SCHEMA = "exitflow.stream_costs/1"
FIT_CODE = ("blocks.py", "memory.py", "features.py", "describe.py", "probes.py", "models.py", "fit.py")
FILE = "stream_costs.json"
HARDWARE_SOURCES = ("swg/swg.v", "swg/swg_line_buffer.v", "fifo/stream_fifo.v", "fifo/pl_fifo.v", "fork/stream_fork.v",
                    "dwc/stream_gather.v", "cond_buffer/cond_buffer.v", "stream_shell/stream_shell.v",
                    "mvau/mvau_control.v", "dwc/stream_split.v", "pool/stream_pool.v", "join/stream_join.v",
                    "global_pool/stream_global_sum.v")


@dataclass
class LinearFit:
    features: tuple[str, ...]
    coefficients: tuple[float, ...]

    def __call__(self, f: dict[str, float]) -> float:
        return float(sum(c * f[n] for n, c in zip(self.features, self.coefficients)))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "coefficients": list(self.coefficients)}

    @classmethod
    def from_dict(cls, d: dict) -> "LinearFit":
        return cls(tuple(d["features"]), tuple(d["coefficients"]))


@dataclass
class KindFit:
    kind: str
    metrics: dict[str, LinearFit]
    points: list[dict] = field(default_factory=list)   # per probe: label, features, yosys, model, residuals

    def predict(self, f: dict[str, float]) -> dict[str, float]:
        """The fit at features ``f``; where a probe was synthesised with exactly these features (e.g. the
        exit units and stage-1 buffer of LeNet), its Yosys figures: measured where measured."""
        probed = next((p["yosys"] for p in self.points if p["features"] == f), None)
        if probed is not None:
            return {m: float(probed[m]) for m in [*self.metrics, *RULES]}
        return self.fitted(f)

    def fitted(self, f: dict[str, float]) -> dict[str, float]:
        out = {m: max(0.0, fit(f)) for m, fit in self.metrics.items()}
        out.update({m: float(f.get(src, 0.0)) for m, src in RULES.items()})
        return out

    def worst(self, metric: str = "lut", loo: bool = False) -> float:
        """Largest |residual| in percent over the probes (leave-one-out when ``loo``)."""
        key = "loo_pct" if loo else "residual_pct"
        values = [abs(p[key][metric]) for p in self.points if p[key].get(metric) is not None]
        return max(values, default=0.0)

    def to_dict(self) -> dict:
        return {"metrics": {m: f.to_dict() for m, f in self.metrics.items()}, "points": self.points,
                "worst_lut_pct": round(self.worst("lut"), 2), "worst_lut_loo_pct": round(self.worst("lut", True), 2)}

    @classmethod
    def from_dict(cls, kind: str, d: dict) -> "KindFit":
        return cls(kind, {m: LinearFit.from_dict(f) for m, f in d["metrics"].items()}, d["points"])


def nonnegative_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin_c ||(x c - y) / y||, c >= 0 (relative error; a zero measurement weighs as 1)."""
    from scipy.optimize import nnls

    if len(y) == 0 or x.shape[1] == 0:
        return np.zeros(x.shape[1])
    w = 1.0 / np.maximum(np.abs(y), 1.0)
    return nnls(x * w[:, None], y * w)[0]


def _pct(model: float, measured: float) -> float | None:
    return None if measured == 0 and model == 0 else round(100.0 * (model - measured) / max(abs(measured), 1.0), 2)


def fit_kind(kind: str, rows: list[tuple[Probe, dict, dict]]) -> KindFit:
    """rows: (probe, features, Yosys record) of one kind."""
    metrics = {}
    loo: dict[str, list[float]] = {}
    for metric in METRICS:
        names = MODELS[kind][metric]
        x = np.array([[f[n] for n in names] for _, f, _ in rows], dtype=float).reshape(len(rows), len(names))
        y = np.array([r[metric] for _, _, r in rows], dtype=float)
        # rounded here, not when saved, so a fresh fit and one read back from stream_costs.json predict alike
        metrics[metric] = LinearFit(names, tuple(round(float(c), 6) for c in nonnegative_fit(x, y)))
        loo[metric] = []
        for i in range(len(rows)):
            keep = np.arange(len(rows)) != i
            c = nonnegative_fit(x[keep], y[keep]) if keep.any() else np.zeros(len(names))
            loo[metric].append(float(x[i] @ c))
    fit = KindFit(kind, metrics)
    for i, (probe, f, r) in enumerate(rows):
        model = fit.fitted(f)
        measured = {m: float(r[m]) for m in [*METRICS, *RULES]}
        fit.points.append({"label": probe.label, "knobs": knob_summary(probe), "features": f,
                           "yosys": measured, "model": {m: round(v, 1) for m, v in model.items()},
                           "residual_pct": {m: _pct(model[m], measured[m]) for m in [*METRICS, *RULES]},
                           "loo_pct": {m: _pct(loo[m][i], measured[m]) for m in METRICS},
                           "yosys_seconds": r.get("seconds")})
    return fit


def knob_summary(probe: Probe) -> dict:
    """The probe's knobs without weight arrays (for the record)."""
    out = {}
    for k, v in vars(probe.knobs).items():
        if isinstance(v, np.ndarray):
            out[k] = list(v.shape)
        elif v is None or isinstance(v, (int, float, str, bool)):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def probe_set_digest(probes: list[Probe], family: str) -> str:
    """Everything a fit depends on: the probes' knobs, the generators, the hand-written Verilog, Yosys."""
    from hardware import source

    h = hashlib.sha256(f"{SCHEMA}\0{family}\0{yosys_version()}\0".encode())
    for p in probes:
        h.update(f"{p.kind}:{p.key}:{generator_digest(p.kind)}\0".encode())
    for s in HARDWARE_SOURCES:
        h.update(source(s).read_bytes())
    for name in FIT_CODE:   # the features and models themselves
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:20]


def yosys_version() -> str:
    try:
        from importlib.metadata import version

        return version("pyosys")
    except Exception:  # not installed as a distribution: the version string of the library itself
        return "unknown"


def fit_costs(cache_dir: Path, client=None, family: str = "xc7", probes: list[Probe] | None = None,
              progress: Callable[[str], None] | None = None):
    """Fits of every primitive kind, from ``cache_dir/stream_costs.json`` when the probe set is unchanged,
    else by synthesising the probes (jobs.run_jobs: on ``client``, cached by Verilog content)."""
    from .costs import StreamCosts

    cache_dir = Path(cache_dir)
    probes = probes if probes is not None else probe_points()
    digest = probe_set_digest(probes, family)
    path = cache_dir / FILE
    kernels = KernelCostCache(cache_dir / "kernels")
    if path.is_file():
        data = json.loads(path.read_text())
        if data.get("schema") == SCHEMA and data.get("probe_set") == digest:
            return StreamCosts.from_dict(data, kernels)
    say = progress or (lambda text: None)
    start = time.perf_counter()
    say(f"cost probes: generating {len(probes)} probe designs")
    jobs = [probe_job(p, cache_dir / "rtl", family) for p in probes]
    report = run_jobs(jobs, cache_dir / "yosys", client,
                      tick=lambda done, total: say(f"cost probes: {done}/{total} synthesised"))
    failed = [(p.label, report.results[j.key()]["error"]) for p, j in zip(probes, jobs)
              if report.results[j.key()].get("error")]
    if failed:
        raise RuntimeError(f"cost probe {failed[0][0]!r} failed Yosys twice: {failed[0][1]}")
    rows: dict[str, list] = {}
    for p, j in zip(probes, jobs):
        rows.setdefault(p.kind, []).append((p, describe(p.kind, p.knobs, kernels), report.results[j.key()]))
    fits = {kind: fit_kind(kind, r) for kind, r in rows.items()}
    costs = StreamCosts(fits, kernels, family, digest)
    record = costs.to_dict()
    record["probes_synthesised"], record["probes_cached"] = report.evaluated, report.cached
    record["fit_seconds"] = round(time.perf_counter() - start, 1)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, allow_nan=False))
    tmp.replace(path)
    return costs
