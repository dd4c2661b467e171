"""Mixed load: N jobs from several client processes at once, a tenth of them
writing 1 MiB of output, against spawning the same commands directly.

Jobs: ``--clients`` processes (default 4) connect to one instance with this
machine's cores; on a signal they all start at once, each submitting its
share of ``--jobs`` (default 10,000; waitable, all in flight) and then waiting
for each of its own jobs by ID. Every tenth job writes 1 MiB of output
(1,024-byte lines, captured by the instance into its output eventlog), the
others are ``/bin/true``. The clock runs from the start signal until the last
client is done. Also: the instance's peak memory (``VmHWM``), its memory at
the end (``VmRSS``) and its CPU time per job.

Baseline, in the same run: as many processes, started at once, each spawning
its share of the same commands directly (``os.posix_spawn``, output to a pipe
it reads to the end, then ``os.waitpid``), one command after the other.

Run: ``python bench/bench_mixed.py [--jobs 10000] [--clients 4] [--repeat 3]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import _common
from _common import Figure, Figures

import fluxsdk
from fluxsdk import job

QUIET = ["/bin/true"]
# 1 MiB of output in lines of 1,024 bytes (1,023 characters and a newline).
LOUD = ["/bin/sh", "-c", "yes \"$(printf '%01023d' 0)\" 2>/dev/null | head -c 1048576"]
LOUD_EVERY = 10

FIGURES = [
    Figure("jobs_per_s", "jobs/s (all clients)", "jobs/s"),
    Figure("procs_per_s", "baseline posix_spawn+read+waitpid", "procs/s"),
    Figure("ratio", "ratio jobs/s / procs/s", "", ".3f"),
    Figure("jobs_s", "jobs: total time", "s", ".2f"),
    Figure("procs_s", "baseline: total time", "s", ".2f"),
    Figure("peak_mib", "instance peak memory (VmHWM)", "MiB"),
    Figure("end_mib", "instance memory at the end (VmRSS)", "MiB"),
    Figure("instance_cpu_ms", "instance CPU per job", "ms", ".3f"),
]


def commands(count: int, first: int) -> list[list[str]]:
    """The commands of jobs ``first`` to ``first + count - 1`` (every tenth is loud)."""
    return [LOUD if (first + i) % LOUD_EVERY == 0 else QUIET for i in range(count)]


def shares(total: int, clients: int) -> list[tuple[int, int]]:
    """``(first, count)`` of each client's jobs."""
    out, first = [], 0
    for index in range(clients):
        count = total // clients + (1 if index < total % clients else 0)
        out.append((first, count))
        first += count
    return out


# -- the workers (run as separate processes) ----------------------------------------


def worker_jobs(uri: str, first: int, count: int) -> None:
    """Submit this worker's jobs once told to start, then wait for each by ID."""
    specs = {
        id(QUIET): job.JobspecV1.from_command(QUIET),
        id(LOUD): job.JobspecV1.from_command(LOUD),
    }
    with fluxsdk.Flux(uri) as handle:
        print("ready", flush=True)
        sys.stdin.readline()
        futures = [
            job.submit_async(handle, specs[id(argv)], waitable=True)
            for argv in commands(count, first)
        ]
        ids = [f.get_id() for f in futures]
        failed = sum(1 for jobid in ids if not job.wait(handle, jobid).success)
    print(json.dumps({"failed": failed}), flush=True)


def worker_procs(first: int, count: int) -> None:
    """Spawn this worker's commands directly, reading their output, once told to start."""
    print("ready", flush=True)
    sys.stdin.readline()
    for argv in commands(count, first):
        read_end, write_end = os.pipe()
        try:
            pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, write_end, 1),
                ],
            )
        finally:
            os.close(write_end)
        with os.fdopen(read_end, "rb", buffering=0) as output:
            while output.read(65536):
                pass
        _common.reap(pid)
    print(json.dumps({"failed": 0}), flush=True)


# -- the driver ---------------------------------------------------------------------


def run_workers(argvs: Sequence[list[str]]) -> float:
    """Start the workers, release them together, and return the seconds until all end."""
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")
        start = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        failed = 0
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("a worker failed")
            failed += json.loads(line)["failed"]
        elapsed = time.perf_counter() - start
        if failed:
            raise RuntimeError(f"{failed} job(s) failed")
        return elapsed
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def memory_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} for process {pid}")


def baseline(total: int, clients: int) -> float:
    me = [sys.executable, __file__]
    return run_workers(
        [[*me, "--procs-worker", str(first), str(count)] for first, count in shares(total, clients)]
    )


def through_instance(total: int, clients: int, cores: int) -> tuple[float, float, float, float]:
    with _common.bench_instance(cores) as (handle, pid):
        uri = str(handle.rpc("broker.getattr", {"name": "local-uri"}).get()["value"])
        me = [sys.executable, __file__]
        cpu_before = _common.cpu_seconds(pid)
        elapsed = run_workers(
            [
                [*me, "--jobs-worker", uri, str(first), str(count)]
                for first, count in shares(total, clients)
            ]
        )
        cpu_s = _common.cpu_seconds(pid) - cpu_before
        peak, end = memory_kib(pid, "VmHWM"), memory_kib(pid, "VmRSS")
    return elapsed, peak / 1024, end / 1024, cpu_s


def measure(total: int, clients: int, cores: int, index: int) -> Figures:
    if index % 2 == 0:
        procs_s = baseline(total, clients)
        jobs_s, peak, end, cpu_s = through_instance(total, clients, cores)
    else:
        jobs_s, peak, end, cpu_s = through_instance(total, clients, cores)
        procs_s = baseline(total, clients)
    return {
        "jobs_per_s": total / jobs_s,
        "procs_per_s": total / procs_s,
        "ratio": procs_s / jobs_s,
        "jobs_s": jobs_s,
        "procs_s": procs_s,
        "peak_mib": peak,
        "end_mib": end,
        "instance_cpu_ms": cpu_s / total * 1000,
    }


def main() -> int:
    if sys.argv[1:2] == ["--jobs-worker"]:
        worker_jobs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    if sys.argv[1:2] == ["--procs-worker"]:
        worker_procs(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=10000, help="jobs (and processes) per run")
    p.add_argument("--clients", type=int, default=4, help="client processes")
    args = p.parse_args()
    title = (
        f"mixed load: {args.jobs} jobs from {args.clients} clients, 1 in {LOUD_EVERY} "
        f"writing 1 MiB, on {args.cores} core(s)"
    )
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.clients, args.cores, index),
        FIGURES,
        [],
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
