"""End-to-end throughput: N ``/bin/true`` jobs through an instance, against
spawning and reaping the same N processes directly from Python.

Jobs: all N are submitted (waitable) on an instance with this machine's
cores, then ``job.wait`` (any job) is called N times; the clock runs from the
first submission to the last wait. The submit rate alone is the time until
the last job ID came back. The instance's own CPU time (not its jobs') is
shown per job and as a fraction of the wall time (near 1.0: the instance's
one thread is the bottleneck).

Baseline, in the same run: the raw cost of the processes, ``os.posix_spawn`` of
``/bin/true`` N times, then ``os.waitpid`` on each (no ``subprocess`` machinery).

Also shown: the client's own CPU time per job (this process, submitting and
waiting), next to the instance's.

Target: jobs/s divided by baseline processes/s at least 0.5.

Run: ``python bench/bench_throughput.py [--jobs 2000] [--repeat 3]``
"""

from __future__ import annotations

import sys
import time

import _common
from _common import Figure, Figures, Target

from fluxsdk import job

COMMAND = ["/bin/true"]

FIGURES = [
    Figure("jobs_per_s", "jobs/s (submit + wait)", "jobs/s"),
    Figure("procs_per_s", "baseline posix_spawn+waitpid", "procs/s"),
    Figure("ratio", "ratio jobs/s / procs/s", "", ".3f"),
    Figure("submit_per_s", "submit rate alone", "jobs/s"),
    Figure("jobs_s", "jobs: total time", "s", ".2f"),
    Figure("procs_s", "baseline: total time", "s", ".2f"),
    Figure("instance_cpu_ms", "instance CPU per job", "ms", ".3f"),
    Figure("instance_busy", "instance CPU / wall time", "", ".2f"),
    Figure("client_cpu_ms", "client CPU per job", "ms", ".3f"),
]
TARGETS = [Target("ratio", ">=", 0.5)]


def baseline(count: int) -> float:
    """Seconds to spawn ``count`` processes directly, then reap them all."""
    pids: list[int] = []
    try:
        start = time.perf_counter()
        for _ in range(count):
            pids.append(_common.spawn(COMMAND))
        while pids:
            _common.reap(pids[-1])
            pids.pop()
        return time.perf_counter() - start
    finally:
        _common.reap_all(pids)


def through_instance(count: int, cores: int) -> tuple[float, float, float, float]:
    """Seconds to run ``count`` jobs (submit all, wait all), to submit them, and
    the CPU seconds the instance process and this client used meanwhile."""
    jobspec = job.JobspecV1.from_command(COMMAND)
    with _common.bench_instance(cores) as (handle, pid):
        cpu_before = _common.cpu_seconds(pid)
        client_before = time.process_time()
        start = time.perf_counter()
        submit_s = _common.submit_windowed(handle, jobspec, count, window=count, waitable=True)
        failed = [r for r in (job.wait(handle) for _ in range(count)) if not r.success]
        total_s = time.perf_counter() - start
        cpu_s = _common.cpu_seconds(pid) - cpu_before
        client_s = time.process_time() - client_before
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) failed, e.g. {failed[0].errstr}")
    return total_s, submit_s, cpu_s, client_s


def measure(count: int, cores: int, index: int) -> Figures:
    # Alternate which goes first, so neither always runs on a cold (or warm) machine.
    if index % 2 == 0:
        procs_s = baseline(count)
        jobs_s, submit_s, cpu_s, client_s = through_instance(count, cores)
    else:
        jobs_s, submit_s, cpu_s, client_s = through_instance(count, cores)
        procs_s = baseline(count)
    return {
        "jobs_per_s": count / jobs_s,
        "procs_per_s": count / procs_s,
        "ratio": procs_s / jobs_s,
        "submit_per_s": count / submit_s,
        "jobs_s": jobs_s,
        "procs_s": procs_s,
        "instance_cpu_ms": cpu_s / count * 1000,
        "instance_busy": cpu_s / jobs_s,
        "client_cpu_ms": client_s / count * 1000,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=2000, help="jobs (and processes) per run")
    args = p.parse_args()
    title = f"throughput: {args.jobs} x {' '.join(COMMAND)} on {args.cores} core(s)"
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.cores, index),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
