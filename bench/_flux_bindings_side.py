"""The baseline of ``bench_flux.py``: the same measurements with flux-core's own bindings.

Run by ``bench_flux.py`` with flux-core's Python (``/usr/bin/python3``) and
``PYTHONPATH`` set to flux-core's site-packages, never imported by fluxsdk.
It reads one JSON object from stdin (``uri``, ``jobspec``, the sizes) and
prints one JSON object of figures. Each measurement mirrors the fluxsdk side in
``bench_flux.py`` call for call.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

import flux  # type: ignore[import-not-found]
import flux.job  # type: ignore[import-not-found]

WARMUP_JOBS = 50


def submit_rate(h: Any, jobspec: str, count: int) -> float:
    """Jobs/s for ``count`` held jobs submitted at once; they are cancelled after."""
    start = time.perf_counter()
    futures = [flux.job.submit_async(h, jobspec, urgency=0) for _ in range(count)]
    ids = [f.get_id() for f in futures]
    elapsed = time.perf_counter() - start
    for jobid in ids:
        flux.job.cancel(h, jobid)
    return count / elapsed


def throughput(h: Any, jobspec: str, count: int) -> float:
    """Jobs/s for ``count`` jobs: submit all (waitable), then wait for any, ``count`` times."""
    start = time.perf_counter()
    futures = [flux.job.submit_async(h, jobspec, waitable=True) for _ in range(count)]
    for f in futures:
        f.get_id()
    for _ in range(count):
        flux.job.wait(h)
    return count / (time.perf_counter() - start)


def latency(h: Any, jobspec: str, samples: int, warmup: int) -> list[float]:
    """Seconds from submit to result of one job at a time."""
    times = []
    for _ in range(warmup + samples):
        start = time.perf_counter()
        flux.job.result(h, flux.job.submit(h, jobspec))
        times.append(time.perf_counter() - start)
    return times[warmup:]


def fd_growth(h: Any, jobspec: str, calls: int) -> float:
    """Open fds gained per blocking ``result()`` call, over ``calls`` calls."""
    jobid = flux.job.submit(h, jobspec)
    flux.job.result(h, jobid)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(calls):
        flux.job.result(h, jobid)
    return (len(os.listdir("/proc/self/fd")) - before) / calls


def main() -> None:
    args = json.load(sys.stdin)
    h = flux.Flux(args["uri"])
    spec = args["jobspec"]
    submit_rate(h, spec, WARMUP_JOBS)  # job-ingest starts its validators on demand
    figures = {
        "submit_rate": submit_rate(h, spec, args["submit_jobs"]),
        "throughput": throughput(h, spec, args["jobs"]),
        "latency": statistics.median(latency(h, spec, args["samples"], args["warmup"])),
        "fd_per_result": fd_growth(h, spec, args["fd_calls"]),
    }
    json.dump(figures, sys.stdout)


if __name__ == "__main__":
    main()
