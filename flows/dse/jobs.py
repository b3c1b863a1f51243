"""Candidate builds as Dask jobs, cached by a content hash of what is built.

A job is a Yosys ``synth_xilinx`` run of a set of Verilog files. Its key
(``flows.yosys.synth_key``) covers the files' names and contents, the script
(top, family and every command), the Yosys version and flows/yosys.py itself,
so a rerun (or another point sharing the same core) evaluates only new cores. Results are JSON files
under the cache directory. A failed job is retried once; a second failure is
reported in the result (``error``) rather than stopping the exploration.

Cluster: ``DSE_SCHEDULER=tcp://host:port`` (or ``scheduler=``) uses an
existing Dask scheduler; otherwise a LocalCluster with one single-threaded
worker per core (Yosys runs in its own process either way).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flows.errors import UserError


class SchedulerUnreachable(UserError):
    """DSE_SCHEDULER names a Dask scheduler that does not answer."""


@dataclass(frozen=True)
class SynthJob:
    files: tuple[str, ...]
    top: str
    family: str = "xc7"
    params: tuple[tuple[str, int], ...] = ()    # top-level parameters (a parametric primitive)

    def key(self) -> str:
        from flows.yosys import synth_key

        return synth_key([Path(f) for f in self.files], self.top, self.family, params=dict(self.params) or None)


def _run_synth(job: SynthJob, work_dir: str) -> dict:
    from flows.yosys import synth_xilinx

    return synth_xilinx([Path(f) for f in job.files], job.top, family=job.family, params=dict(job.params) or None,
                        work_dir=Path(work_dir)).to_dict()


def _with_retry(fn: Callable, job: SynthJob, work_dir: str) -> dict:
    """Run once, retry once; the record says how many attempts it took or why it failed."""
    errors = []
    for attempt in (1, 2):
        try:
            return {**fn(job, work_dir), "attempts": attempt, "error": None}
        except Exception as exc:  # a worker must report, not crash the exploration
            errors.append(f"{type(exc).__name__}: {exc}")
    return {"attempts": 2, "error": " | ".join(errors)}


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A distributed Client on ``scheduler`` (or $DSE_SCHEDULER), else on a local cluster."""
    from dask.distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DSE_SCHEDULER")
    if address:
        try:
            client = Client(address, timeout="5s")
        except OSError as exc:
            raise SchedulerUnreachable(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}); start it or unset "
                "DSE_SCHEDULER to use a local cluster on this machine") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            yield client


@dataclass
class JobReport:
    results: dict[str, dict]  # key -> record (Yosys resources, or error)
    evaluated: int            # jobs actually run now
    cached: int               # answered from the cache


def run_jobs(jobs: Sequence[SynthJob], cache_dir: Path, client=None,
             fn: Callable[[SynthJob, str], dict] = _run_synth,
             tick: Callable[[int, int], None] | None = None) -> JobReport:
    """Run every uncached job on ``client`` (in this process when None); results cached under cache_dir.

    tick(done, total) after each job (cached ones count as done at once), for a progress bar.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    results, todo = {}, {}
    for job in jobs:
        key = job.key()
        path = cache_dir / f"{key}.json"
        if path.is_file():
            results[key] = json.loads(path.read_text())
        else:
            todo[key] = job
    cached = len(results)
    tick = tick or (lambda done, total: None)
    total = len(results) + len(todo)
    tick(cached, total)
    if todo:
        work = {k: str(cache_dir / "work" / k) for k in todo}
        done = {}
        if client is None:
            for k, j in todo.items():
                done[k] = _with_retry(fn, j, work[k])
                tick(cached + len(done), total)
        else:
            from dask.distributed import as_completed

            futures = {client.submit(_with_retry, fn, j, work[k], key=f"synth-{k}", pure=False): k
                       for k, j in todo.items()}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                tick(cached + len(done), total)
        for k, record in done.items():
            record = {**record, "top": todo[k].top}
            results[k] = record
            if record.get("error") is None:  # failures are not cached, so a rerun tries again
                tmp = cache_dir / f"{k}.tmp"
                tmp.write_text(json.dumps(record, indent=1, allow_nan=False))
                tmp.replace(cache_dir / f"{k}.json")
    in_order = {job.key(): results[job.key()] for job in jobs}  # as given, not as finished
    return JobReport(in_order, len(todo), cached)
