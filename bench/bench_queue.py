"""A big queue: the memory and time to queue N held jobs, and whether a big
queue slows submission down.

Each run, on a fresh instance:

1. the instance's RSS (``VmRSS`` of its process) when empty;
2. baseline: the submit rate of ``--probe`` held jobs (urgency 0) on the
   (nearly) empty instance, after a short unmeasured warm-up;
3. the time to queue ``--jobs`` held jobs, at most ``--window`` submissions
   in flight, the instance's RSS afterwards and its CPU time per job; the
   RSS growth over the second half of them alone shows the cost of one more
   queued job, without what is paid once (caches filling up);
4. the submit rate of ``--probe`` more held jobs with all of them queued.

A probe of 1,000 jobs takes a fraction of a second, so one pause (another
process, a garbage collection) swings it; each probe is therefore made
``--rounds`` times in a row and its rate is the total over the rounds
(``rounds * probe`` jobs over their total time, pauses included).

The ratio (4) / (2) shows whether a big queue slows submission (1.0: not at
all). Held jobs never run; the instance is shut down with them queued.

Run: ``python bench/bench_queue.py [--jobs 100000] [--repeat 3]``
"""

from __future__ import annotations

import sys

import _common
from _common import URGENCY_HOLD, Figure, Figures, Target

from fluxsdk import job

COMMAND = ["/bin/true"]
WARMUP = 200
MIB = 1024 * 1024

FIGURES = [
    Figure("queue_s", "time to queue N held jobs", "s", ".1f"),
    Figure("queue_rate", "submit rate while queueing N", "jobs/s"),
    Figure("rss_before", "instance RSS, empty", "MiB"),
    Figure("rss_after", "instance RSS, N queued", "MiB"),
    Figure("per_job", "RSS per queued job", "KiB", ".2f"),
    Figure("per_job_2nd", "RSS per job, 2nd half of N", "KiB", ".2f"),
    Figure("cpu_us", "instance CPU per queued job", "us", ".0f"),
    Figure("empty_rate", "baseline: submit rate, empty", "jobs/s"),
    Figure("loaded_rate", "submit rate, N queued", "jobs/s"),
    Figure("ratio", "ratio N queued / empty", "", ".3f"),
]
TARGETS: list[Target] = []


def measure(count: int, probe: int, rounds: int, window: int, cores: int) -> Figures:
    jobspec = job.JobspecV1.from_command(COMMAND)

    def submit(n: int) -> float:
        return _common.submit_windowed(handle, jobspec, n, window=window, urgency=URGENCY_HOLD)

    def probe_rate() -> float:
        return rounds * probe / sum(submit(probe) for _ in range(rounds))

    with _common.bench_instance(cores) as (handle, pid):
        rss_before = _common.rss_bytes(pid)
        submit(WARMUP)
        empty_rate = probe_rate()
        cpu_before = _common.cpu_seconds(pid)
        queue_s = submit(count // 2)
        rss_half = _common.rss_bytes(pid)
        queue_s += submit(count - count // 2)
        cpu_s = _common.cpu_seconds(pid) - cpu_before
        rss_after = _common.rss_bytes(pid)
        loaded_rate = probe_rate()
    queued = WARMUP + rounds * probe + count
    return {
        "queue_s": queue_s,
        "queue_rate": count / queue_s,
        "rss_before": rss_before / MIB,
        "rss_after": rss_after / MIB,
        "per_job": (rss_after - rss_before) / queued / 1024,
        "per_job_2nd": (rss_after - rss_half) / (count - count // 2) / 1024,
        "cpu_us": cpu_s / count * 1e6,
        "empty_rate": empty_rate,
        "loaded_rate": loaded_rate,
        "ratio": loaded_rate / empty_rate,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=100_000, help="held jobs to queue (N)")
    p.add_argument("--probe", type=int, default=1000, help="held jobs per submit-rate probe")
    p.add_argument("--rounds", type=int, default=5, help="probes per submit-rate figure")
    p.add_argument("--window", type=int, default=1000, help="submissions in flight at most")
    args = p.parse_args()
    title = (
        f"queue: {args.jobs} held jobs (probes of {args.rounds} x {args.probe}, "
        f"{args.window} in flight) on {args.cores} core(s)"
    )
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.probe, args.rounds, args.window, args.cores),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
