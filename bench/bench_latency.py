"""Latency of one job: submit then result of a ``/bin/true`` job, one at a time,
against spawning and waiting for one ``/bin/true`` process directly.

Jobs: ``job.submit`` then ``job.result`` (which watches the job's eventlog to
its end), one job after the other on an idle instance; the median and p90 of
``--samples`` jobs, after a few unmeasured warm-up jobs.

Baseline, in the same run: ``os.posix_spawn`` of ``/bin/true`` then
``os.waitpid``, the median of as many samples.

Target: median job latency under 5 ms (the ratio to the baseline is shown).

Run: ``python bench/bench_latency.py [--samples 50] [--repeat 3]``
"""

from __future__ import annotations

import statistics
import sys
import time

import _common
from _common import Figure, Figures, Target

from fluxsdk import job

COMMAND = ["/bin/true"]
WARMUP = 3

FIGURES = [
    Figure("job_ms", "job submit->result, median", "ms", ".2f"),
    Figure("job_p90_ms", "job submit->result, p90", "ms", ".2f"),
    Figure("proc_ms", "baseline posix_spawn+waitpid, median", "ms", ".2f"),
    Figure("ratio", "ratio job / baseline", "", ".1f"),
]
TARGETS = [Target("job_ms", "<", 5.0)]


def baseline(samples: int) -> list[float]:
    """Seconds to spawn and wait for one process, ``samples`` times."""
    times: list[float] = []
    for _ in range(WARMUP + samples):
        start = time.perf_counter()
        pid = _common.spawn(COMMAND)
        try:
            _common.reap(pid)
        except BaseException:
            _common.reap_all([pid])
            raise
        times.append(time.perf_counter() - start)
    return times[WARMUP:]


def through_instance(samples: int, cores: int) -> list[float]:
    """Seconds from submitting one job to having its result, ``samples`` times."""
    jobspec = job.JobspecV1.from_command(COMMAND)
    times: list[float] = []
    with _common.bench_instance(cores) as (handle, _):
        for _ in range(WARMUP + samples):
            start = time.perf_counter()
            jobid = job.submit(handle, jobspec)
            info = job.result(handle, jobid)
            times.append(time.perf_counter() - start)
            if info.returncode != 0:
                raise RuntimeError(f"job {jobid} failed: {info.result}, {info.returncode}")
    return times[WARMUP:]


def measure(samples: int, cores: int, index: int) -> Figures:
    if index % 2 == 0:
        procs = baseline(samples)
        jobs = through_instance(samples, cores)
    else:
        jobs = through_instance(samples, cores)
        procs = baseline(samples)
    job_ms = statistics.median(jobs) * 1000
    proc_ms = statistics.median(procs) * 1000
    return {
        "job_ms": job_ms,
        "job_p90_ms": _common.percentile(jobs, 90) * 1000,
        "proc_ms": proc_ms,
        "ratio": job_ms / proc_ms,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--samples", type=int, default=50, help="jobs (and processes) per run")
    args = p.parse_args()
    title = f"latency: {' '.join(COMMAND)}, {args.samples} samples on {args.cores} core(s)"
    return _common.main(
        title,
        lambda index: measure(args.samples, args.cores, index),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
