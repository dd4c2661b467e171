"""Many jobs at once: FluxExecutor and asyncio, against a plain submit + result loop.

Throughput: N ``/bin/true`` jobs through ``FluxExecutor`` (all submitted, then
taken with ``concurrent.futures.as_completed``), and N jobs through asyncio
(``asyncio.gather`` of ``aio.asubmit`` + ``aio.aresult`` per job), each in
jobs/s. Baseline, in the same run and on the same instance: the plain
synchronous loop ``job.submit(h, spec)`` then ``job.result(h, jobid)``, one
job after the other. Ratios: executor jobs/s / baseline jobs/s, asyncio
jobs/s / baseline jobs/s.

Memory: this process's RSS (``VmRSS``) after a warm-up, and after M more jobs
(default 10,000) run in batches of 500 through one executor (then through one
asyncio program), each batch's futures dropped when done; and how many
executor futures, fluxsdk futures and timers are still alive afterwards
(garbage-collected objects, expected 0).

Targets: both ratios at least 1.5; RSS growth at most 4 MiB over the M jobs
of each; no object left alive.

Run: ``python bench/bench_executor.py [--jobs 2000] [--memory-jobs 10000] [--repeat 3]``
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import sys
import time

import _common
from _common import Figure, Figures, Target

import fluxsdk
from fluxsdk import job
from fluxsdk.core import Future, TimerWatcher
from fluxsdk.job import aio
from fluxsdk.job.executor import FluxExecutor, FluxExecutorFuture

COMMAND = ["/bin/true"]
BATCH = 500
MIB = 1024 * 1024

FIGURES = [
    Figure("baseline_per_s", "baseline submit+result loop", "jobs/s"),
    Figure("executor_per_s", "FluxExecutor + as_completed", "jobs/s"),
    Figure("executor_ratio", "ratio executor / baseline", "", ".2f"),
    Figure("aio_per_s", "asyncio gather", "jobs/s"),
    Figure("aio_ratio", "ratio asyncio / baseline", "", ".2f"),
    Figure("rss_start", "RSS after warm-up", "MiB", ".1f"),
    Figure("rss_executor", "RSS after M executor jobs", "MiB", ".1f"),
    Figure("rss_aio", "RSS after M asyncio jobs", "MiB", ".1f"),
    Figure("growth_executor", "RSS growth, executor", "MiB", ".2f"),
    Figure("growth_aio", "RSS growth, asyncio", "MiB", ".2f"),
    Figure("alive", "objects left alive", "", ".0f"),
]
TARGETS = [
    Target("executor_ratio", ">=", 1.5),
    Target("aio_ratio", ">=", 1.5),
    Target("growth_executor", "<=", 4.0),
    Target("growth_aio", "<=", 4.0),
    Target("alive", "<=", 0),
]


def rss_mib() -> float:
    return _common.rss_bytes(os.getpid()) / MIB


def alive() -> int:
    """Executor futures, fluxsdk futures and timers still in memory."""
    gc.collect()
    kinds = (FluxExecutorFuture, Future, TimerWatcher)
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kinds))


def baseline(h: fluxsdk.Flux, spec: job.JobspecV1, count: int) -> float:
    """Seconds for ``count`` jobs, each submitted and waited for in turn."""
    start = time.perf_counter()
    for _ in range(count):
        if job.result(h, job.submit(h, spec)).returncode != 0:
            raise RuntimeError("a baseline job failed")
    return time.perf_counter() - start


def through_executor(executor: FluxExecutor, spec: job.JobspecV1, count: int) -> float:
    """Seconds for ``count`` jobs submitted at once, taken as they complete."""
    start = time.perf_counter()
    futures = [executor.submit(spec) for _ in range(count)]
    failed = sum(f.result() != 0 for f in concurrent.futures.as_completed(futures))
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"{failed} executor job(s) failed")
    return elapsed


async def _one(h: fluxsdk.Flux, spec: job.JobspecV1) -> int | str:
    return (await aio.aresult(h, await aio.asubmit(h, spec))).returncode


async def _gather(h: fluxsdk.Flux, spec: job.JobspecV1, count: int) -> float:
    start = time.perf_counter()
    codes = await asyncio.gather(*(_one(h, spec) for _ in range(count)))
    elapsed = time.perf_counter() - start
    if any(codes):
        raise RuntimeError("an asyncio job failed")
    return elapsed


def through_asyncio(h: fluxsdk.Flux, spec: job.JobspecV1, count: int) -> float:
    """Seconds for ``count`` jobs gathered in one asyncio program."""
    return asyncio.run(_gather(h, spec, count))


def wait_idle(executor: FluxExecutor) -> None:
    # Futures are done at "finish"; the executor follows each job to "clean".
    deadline = time.monotonic() + 60
    while not executor._idle():
        if time.monotonic() > deadline:
            raise RuntimeError("the executor still follows jobs after 60 s")
        time.sleep(0.01)


def memory(h: fluxsdk.Flux, spec: job.JobspecV1, count: int) -> dict[str, float]:
    """RSS before and after ``count`` jobs through an executor, then through asyncio."""
    batches = max(1, count // BATCH)
    with FluxExecutor(handle_args=(h.uri,)) as executor:
        through_executor(executor, spec, BATCH)  # warm-up: allocator pools, caches
        through_asyncio(h, spec, BATCH)
        wait_idle(executor)
        gc.collect()
        rss_start = rss_mib()
        for _ in range(batches):
            through_executor(executor, spec, BATCH)
        wait_idle(executor)
        gc.collect()
        rss_executor = rss_mib()
    for _ in range(batches):
        through_asyncio(h, spec, BATCH)
    gc.collect()
    rss_aio = rss_mib()
    return {
        "rss_start": rss_start,
        "rss_executor": rss_executor,
        "rss_aio": rss_aio,
        "growth_executor": rss_executor - rss_start,
        "growth_aio": rss_aio - rss_executor,
        "alive": float(alive()),
    }


def measure(count: int, baseline_count: int, memory_count: int, cores: int, index: int) -> Figures:
    spec = job.JobspecV1.from_command(COMMAND)
    with _common.bench_instance(cores) as (h, _pid):
        with FluxExecutor(handle_args=(h.uri,)) as executor:
            # Alternate the order, so that no method always runs first.
            order = [0, 1, 2] if index % 2 == 0 else [2, 1, 0]
            seconds: dict[int, float] = {}
            for which in order:
                if which == 0:
                    seconds[0] = baseline(h, spec, baseline_count)
                elif which == 1:
                    seconds[1] = through_executor(executor, spec, count)
                    wait_idle(executor)
                else:
                    seconds[2] = through_asyncio(h, spec, count)
        figures = memory(h, spec, memory_count)
    base = baseline_count / seconds[0]
    figures.update(
        baseline_per_s=base,
        executor_per_s=count / seconds[1],
        executor_ratio=count / seconds[1] / base,
        aio_per_s=count / seconds[2],
        aio_ratio=count / seconds[2] / base,
    )
    return figures


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=2000, help="jobs per throughput measurement")
    p.add_argument("--baseline-jobs", type=int, default=300, help="jobs of the sync loop")
    p.add_argument("--memory-jobs", type=int, default=10000, help="jobs between RSS readings")
    args = p.parse_args()
    title = (
        f"executor and asyncio: {args.jobs} x {' '.join(COMMAND)} on {args.cores} core(s), "
        f"baseline {args.baseline_jobs} jobs, memory over {args.memory_jobs} jobs each"
    )
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.baseline_jobs, args.memory_jobs, args.cores, index),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
