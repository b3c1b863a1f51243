"""DSE build jobs: cached by content hash, resumed on rerun, run on a local 2-worker Dask cluster, retried once."""
from __future__ import annotations

import pytest

pytest.importorskip("pyosys")
pytest.importorskip("dask.distributed")

from flows.dse.jobs import SchedulerUnreachable, SynthJob, dask_client, run_jobs  # noqa: E402

ADDER = """`timescale 1ns / 1ps
module {name} (input clk, input [{w}:0] a, input [{w}:0] b, output reg [{w}:0] s);
    always @(posedge clk) s <= a + b;
endmodule
"""


def _job(tmp_path, name: str, width: int) -> SynthJob:
    path = tmp_path / "src" / f"{name}.v"
    path.parent.mkdir(exist_ok=True)
    path.write_text(ADDER.format(name=name, w=width - 1))
    return SynthJob((str(path),), name)


def test_cache_and_resume_on_a_local_two_worker_cluster(tmp_path):
    cache = tmp_path / "cache"
    first = [_job(tmp_path, "add_a", 8), _job(tmp_path, "add_b", 12)]
    with dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        r1 = run_jobs(first, cache, client)
        assert (r1.evaluated, r1.cached) == (2, 0)
        assert all(r["error"] is None and r["ff"] == w for r, w in zip(r1.results.values(), (8, 12)))
        # rerun with one new point: only the new core is synthesised
        r2 = run_jobs(first + [_job(tmp_path, "add_c", 4)], cache, client)
        assert (r2.evaluated, r2.cached) == (1, 2)
        assert {k: r1.results[k] for k in r1.results} == {k: r2.results[k] for k in r1.results}


def test_key_changes_with_the_verilog_content(tmp_path):
    a = _job(tmp_path, "add_k", 8)
    key = a.key()
    assert _job(tmp_path, "add_k", 8).key() == key
    assert _job(tmp_path, "add_k", 9).key() != key


def test_failed_job_is_retried_once_reported_and_not_cached(tmp_path):
    calls = []

    def flaky(job, work_dir):
        calls.append(job.top)
        if len(calls) == 1:
            raise RuntimeError("worker lost")
        return {"lut": 1}

    job = _job(tmp_path, "add_f", 4)
    assert run_jobs([job], tmp_path / "c1", fn=flaky).results[job.key()]["attempts"] == 2
    broken = tmp_path / "src" / "broken.v"
    broken.write_text("`timescale 1ns / 1ps\nmodule broken(input a; endmodule\n")
    bad = SynthJob((str(broken),), "broken")
    report = run_jobs([bad], tmp_path / "c2")
    assert report.results[bad.key()]["attempts"] == 2 and "YosysError" in report.results[bad.key()]["error"]
    assert not (tmp_path / "c2" / f"{bad.key()}.json").exists()


def test_unreachable_scheduler_names_the_address_and_offers_the_local_cluster():
    with pytest.raises(SchedulerUnreachable, match=r"tcp://127.0.0.1:9.*unset DSE_SCHEDULER"):
        with dask_client("tcp://127.0.0.1:9"):
            pass


def test_jobs_run_on_an_existing_cluster_named_by_dse_scheduler(tmp_path, monkeypatch):
    """A scheduler and a worker started as separate processes (as on a user's cluster): DSE_SCHEDULER
    sends the jobs there, and the results come back as from the local cluster."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    logs = open(tmp_path / "cluster.log", "w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], stdout=logs, stderr=logs)]
    try:
        time.sleep(2)
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--name", "remote-worker", "--dashboard-address", ":0"],
                                      stdout=logs, stderr=logs))
        monkeypatch.setenv("DSE_SCHEDULER", address)
        with dask_client() as client:
            client.wait_for_workers(1, timeout=60)
            names = {w["name"] for w in client.scheduler_info()["workers"].values()}
            assert names == {"remote-worker"}
            report = run_jobs([_job(tmp_path, "add_r", 6)], tmp_path / "cache", client)
        assert (report.evaluated, report.cached) == (1, 0)
        (record,) = report.results.values()
        assert record["error"] is None and record["ff"] == 6
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
        logs.close()


def test_progress_ticks_count_cached_jobs_first_then_each_finished_job(tmp_path):
    jobs = [_job(tmp_path, f"add_t{i}", 4 + i) for i in range(3)]
    fake = lambda job, work_dir: {"lut": len(job.top)}  # noqa: E731
    run_jobs(jobs[:1], tmp_path / "c", fn=fake)
    ticks = []
    report = run_jobs(jobs, tmp_path / "c", fn=fake, tick=lambda done, total: ticks.append((done, total)))
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert list(report.results) == [j.key() for j in jobs]  # in the order given
