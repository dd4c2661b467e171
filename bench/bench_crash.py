"""Crash under load: the instance is killed (SIGKILL) at random moments while
a throughput run submits and waits for its jobs, and restarted each time.

Jobs: N jobs (default 2,000, waitable), submitted with up to ``--window``
(default 256) in flight, then waited for by ID, as in the throughput
benchmark, from a client that reconnects whenever the instance goes away and
carries on with what was not acknowledged yet. Each job runs
``sh -c 'echo $FLUX_JOB_ID >> runs'``, so every execution leaves a line. A
thread kills the instance ``--kills`` times (default 8) at random moments and
restarts it on the same state directory: at random points of the client's
progress (acknowledgements plus ended jobs, 0 to 2N), so that kills land while
jobs are being submitted as well as while they run; once every
acknowledged job has ended, the instance is killed once more and restarted,
and what it holds is compared with what the client was told:

- jobs acknowledged (a job ID came back) and, of those, found after the
  restart: **must be equal** (``lost`` must be 0);
- jobs found that were never acknowledged (stored, but the reply died with
  the instance): allowed, the client never learned of them;
- jobs that ran more than once: **must be 0** (a job running when the
  instance died ends with a ``restart`` exception and is not run again).

There is no baseline: the figures are counts.

Run: ``python bench/bench_crash.py [--jobs 2000] [--kills 8] [--repeat 3]``
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import _common
from _common import Figure, Figures, Target

import fluxsdk
from fluxsdk import job
from fluxsdk.instance import start_detached
from fluxsdk.job.submit import SubmitFuture
from fluxsdk.testing import shutdown

FIGURES = [
    Figure("acked", "jobs acknowledged", "", ".0f"),
    Figure("found", "acknowledged jobs found after the restart", "", ".0f"),
    Figure("lost", "acknowledged jobs lost", "", ".0f"),
    Figure("extra", "jobs stored but never acknowledged", "", ".0f"),
    Figure("twice", "jobs that ran more than once", "", ".0f"),
    Figure("kills", "kills during the run", "", ".0f"),
    Figure("jobs_per_s", "jobs/s despite the kills", "jobs/s"),
]
TARGETS = [Target("lost", "<=", 0), Target("twice", "<=", 0)]

RECONNECT_TIMEOUT = 60.0
# Errors that are the instance's answer to a wait, not a lost connection.
_ANSWERS = (errno.ECHILD, errno.ENOENT, errno.EINVAL)


class Instance:
    """The instance under test: started, killed and restarted on one state directory."""

    def __init__(self, statedir: str, cores: int) -> None:
        self.statedir = statedir
        self.cores = cores
        self.uri = ""
        self.pid: int | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        uri = start_detached(self.statedir, cores=self.cores, gpus=0)
        with fluxsdk.Flux(uri) as handle:
            pid = _common.instance_pid(handle)
        self.uri, self.pid = uri, pid

    def kill(self) -> None:
        """SIGKILL the instance and wait until its process is gone."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.005)
        self.pid = None

    def crash_and_restart(self) -> None:
        with self.lock:
            self.kill()
            self.start()

    def stop(self) -> None:
        with self.lock:
            if self.pid is None:
                return
            try:
                shutdown(self.uri)
            except Exception as exc:
                print(f"warning: shutdown failed ({exc}); killing the instance", file=sys.stderr)
                self.kill()
            self.pid = None


def connect(uri: str) -> fluxsdk.Flux:
    """A handle on the instance, retrying while it is being restarted."""
    deadline = time.monotonic() + RECONNECT_TIMEOUT
    while True:
        try:
            handle = fluxsdk.Flux(uri)
            _common.instance_pid(handle)  # answered only once it serves requests
            return handle
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def client(
    instance: Instance, jobspec: job.JobspecV1, count: int, window: int, progress: list[int]
) -> list[int]:
    """Submit ``count`` jobs and wait for each, surviving restarts; return the
    acknowledged IDs. ``progress[0]`` counts acknowledgements and ended jobs."""
    acked: list[int] = []
    waited: set[int] = set()
    while len(acked) < count or len(waited) < len(acked):
        handle = connect(instance.uri)
        try:
            in_flight: deque[SubmitFuture] = deque()
            while len(acked) + len(in_flight) < count:
                if len(in_flight) >= window:
                    acked.append(in_flight.popleft().get_id())
                    progress[0] += 1
                in_flight.append(job.submit_async(handle, jobspec, waitable=True))
            while in_flight:
                acked.append(in_flight.popleft().get_id())
                progress[0] += 1
            for jobid in acked:
                if jobid not in waited:
                    try:
                        job.wait(handle, jobid)
                    except OSError as exc:
                        if exc.errno not in _ANSWERS:
                            raise
                        # Answered, though not as hoped (e.g. a lost job): counted below.
                    waited.add(jobid)
                    progress[0] += 1
        except Exception:
            # The instance went away: reconnect and carry on with what is left.
            pass
        finally:
            with contextlib.suppress(Exception):
                handle.close()
    return acked


def killer(
    instance: Instance,
    points: list[int],
    progress: list[int],
    done: threading.Event,
    count: list[int],
) -> None:
    """Kill and restart the instance as the client's progress passes each point."""
    for point in points:
        while progress[0] < point:
            if done.wait(0.002):
                return
        instance.crash_and_restart()
        count[0] += 1


def measure(jobs: int, kills: int, window: int, cores: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="fluxsdk-bench-crash-") as tmp:
        runs = Path(tmp) / "runs"
        statedir = os.path.join(tmp, "state")
        jobspec = job.JobspecV1.from_command(["/bin/sh", "-c", f'echo "$FLUX_JOB_ID" >> {runs}'])
        instance = Instance(statedir, cores)
        instance.start()
        try:
            done = threading.Event()
            killed, progress = [0], [0]
            points = sorted(random.randrange(2 * jobs) for _ in range(kills))
            thread = threading.Thread(
                target=killer, args=(instance, points, progress, done, killed)
            )
            start = time.perf_counter()
            thread.start()
            try:
                acked = client(instance, jobspec, jobs, window, progress)
            finally:
                done.set()
                thread.join()
            elapsed = time.perf_counter() - start
            # One more crash once everything acknowledged has ended, then count.
            instance.crash_and_restart()
            with connect(instance.uri) as handle:
                listed = job.job_list(handle, max_entries=0, attrs=["state"]).get_jobs()
            found_ids = {int(entry["id"]) for entry in listed}
        finally:
            instance.stop()
        executions = collections.Counter(runs.read_text().split()) if runs.exists() else {}
    acked_set = set(acked)
    return {
        "acked": len(acked_set),
        "found": len(acked_set & found_ids),
        "lost": len(acked_set - found_ids),
        "extra": len(found_ids - acked_set),
        "twice": sum(1 for n in executions.values() if n > 1),
        "kills": killed[0],
        "jobs_per_s": len(acked_set) / elapsed,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=2000, help="jobs per run")
    p.add_argument("--kills", type=int, default=8, help="kills per run")
    p.add_argument("--window", type=int, default=256, help="submissions in flight")
    args = p.parse_args()
    title = f"crash under load: {args.jobs} jobs, {args.kills} kill -9, on {args.cores} core(s)"
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.kills, args.window, args.cores),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
