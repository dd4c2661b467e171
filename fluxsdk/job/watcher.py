"""Watching the output and outcome of several jobs, as ``flux.job.watcher``.

:class:`JobWatcher` is what ``flux submit --watch`` does: for each job added
it follows the job's eventlog, copies the job's output to the watcher's
``stdout``/``stderr`` (or hands it to a callback) once the job shell is up,
reports fatal exceptions of jobs that never ran, and keeps in
:attr:`JobWatcher.exitcode` the largest exit code of the jobs. Everything
happens from the handle's reactor::

    watcher = JobWatcher(h)
    watcher.add_jobid(jobid)
    watcher.start()
    h.reactor_run()
    sys.exit(watcher.exitcode)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import IO

from fluxsdk.constants import FLUX_JOB_STATE_SCHED
from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobEventWatchFuture, JobIDLike, event_watch_async
from fluxsdk.job.info import JobInfo
from fluxsdk.job.output import JobExceptionEvent, JobOutputWatch, output_watch_async

__all__ = ["JobWatcher"]

OutputCallback = Callable[[JobID, str | None, str | None], object]


def _exit_code(status: int) -> int:
    """A wait status as a shell exit code: 128+S for a job killed by signal S."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return status


class _Watched:
    """One job being watched: where its output goes and what was seen of it."""

    def __init__(self, job: JobInfo, stdout: IO[str] | None, stderr: IO[str] | None, wait: str):
        self.id = JobID(job.id)
        self.stdout = stdout
        self.stderr = stderr
        self.wait = wait
        self.events: set[str] = set()
        self.status = "pending"


class JobWatcher:
    """Watch the status and output of one or more jobs.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobs: :class:`~fluxsdk.job.JobInfo` objects to watch from the start.
        progress: show a progress bar (not available in fluxsdk: raises).
        jps: with ``progress``, show jobs per second (accepted, unused).
        wait: the event after which a job is no longer watched (default
            ``clean``); ``exec.NAME`` names an exec eventlog event.
        watch: copy each job's output (default True).
        log_events: log every event of the jobs on their stderr.
        log_status: log each job's final status on its stderr.
        stdout, stderr: where output goes by default.
        labelio: start each output line with the job's ID.
        starttime: the time the logged elapsed times count from (default:
            the earliest submit time).
        output_callback: ``cb(jobid, stream, data)`` receives the output
            instead of ``stdout``/``stderr``, and ``(jobid, None, None)`` at
            the end of a job's output.

    Raises:
        FluxSDKError: ``progress=True``.
    """

    def __init__(
        self,
        flux_handle: Flux,
        jobs: list[JobInfo] | None = None,
        progress: bool = False,
        jps: bool = False,
        wait: str = "clean",
        watch: bool = True,
        log_events: bool = False,
        log_status: bool = False,
        stdout: IO[str] = sys.stdout,
        stderr: IO[str] = sys.stderr,
        labelio: bool = False,
        starttime: float | None = None,
        output_callback: OutputCallback | None = None,
    ) -> None:
        del jps
        if progress:
            raise FluxSDKError(
                "JobWatcher(progress=True): fluxsdk has no job progress bar; "
                "watch without progress, or log events with log_events=True"
            )
        self.flux_handle = flux_handle
        self.wait = wait
        self.watch = watch
        self.t0 = starttime
        self.log_events = log_events
        self.log_status = log_status
        self.output_callback = output_callback
        self.stdout = stdout
        self.stderr = stderr
        self.labelio = labelio
        self.exitcode = 0
        """The largest exit code of the watched jobs (1 for a job that never ran)."""
        if jobs:
            self.add_jobs(*jobs)

    def start(self) -> JobWatcher:
        """Start (a no-op without a progress bar); returns self."""
        return self

    def stop(self) -> JobWatcher:
        """Stop (a no-op without a progress bar); returns self."""
        return self

    def add_jobs(
        self,
        *jobs: JobInfo,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        wait: str = "clean",
    ) -> JobWatcher:
        """Watch ``jobs`` (:class:`JobInfo`), their output going to ``stdout``/``stderr``
        (default: the watcher's) until event ``wait``."""
        if self.output_callback is None:
            stdout = stdout or self.stdout
            stderr = stderr or self.stderr
        for job in jobs:
            if not self.t0 or job.t_submit < self.t0:
                self.t0 = job.t_submit
            watched = _Watched(job, stdout, stderr, wait)
            event_watch_async(self.flux_handle, watched.id).then(self._on_event, watched)
        return self

    def add_jobid(
        self,
        jobid: JobIDLike,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        wait: str = "clean",
    ) -> JobWatcher:
        """Watch the job ``jobid`` (see :meth:`add_jobs`)."""
        info = {"id": int(JobID(jobid)), "state": FLUX_JOB_STATE_SCHED, "t_submit": time.time()}
        return self.add_jobs(JobInfo(info), stdout=stdout, stderr=stderr, wait=wait)

    # -- logging -------------------------------------------------------------------

    def _log(self, job: _Watched, timestamp: float, message: str) -> None:
        elapsed = timestamp - (self.t0 or timestamp)
        print(f"{job.id.f58}: {elapsed:4.3f}s: {message}", file=job.stderr or sys.stderr)

    def _log_event(self, job: _Watched, event: EventLogEvent, prefix: str = "") -> None:
        if self.log_events:
            self._log(job, event.timestamp, f"{prefix}{event.name} {event.context_string}")

    # -- the main eventlog ---------------------------------------------------------

    def _on_event(self, future: JobEventWatchFuture, job: _Watched) -> None:
        event = future.get_event()
        if event is None:
            return
        job.events.add(event.name)
        if self.t0 is None or event.timestamp < self.t0:
            self.t0 = event.timestamp
        self._log_event(job, event)
        if event.name == "exception" and event.context.get("severity") == 0:
            if "start" not in job.events:
                self.exitcode = max(self.exitcode, 1)
                job.status = "failed"
            if "shell.init" not in job.events:
                # No output watch will show it: say it here.
                print(JobExceptionEvent(event).render(), file=job.stderr or sys.stderr)
        elif event.name == "alloc":
            job.status = "running"
        elif event.name == "start":
            if self.watch or job.wait.startswith("exec."):
                exec_log = event_watch_async(self.flux_handle, job.id, "guest.exec.eventlog")
                exec_log.then(self._on_exec_event, job, future)
        elif event.name == "finish":
            status = int(event.context["status"])
            self.exitcode = max(self.exitcode, _exit_code(status))
            job.status = "failed" if status else "complete"
            if self.log_status:
                self._log(job, event.timestamp, f"{job.status}: status={status}")
        if job.wait == event.name:
            future.cancel(stop=True)

    # -- the exec eventlog and output ----------------------------------------------

    def _on_exec_event(
        self, future: JobEventWatchFuture, job: _Watched, main: JobEventWatchFuture
    ) -> None:
        event = future.get_event()
        if event is None:
            return
        job.events.add(f"exec.{event.name}")
        if event.name == "shell.init":
            job.events.add("shell.init")
        self._log_event(job, event, prefix="exec.")
        if self.watch and event.name == "shell.init":
            # The output eventlog exists from here on.
            output = output_watch_async(self.flux_handle, job.id, labelio=self.labelio, nowait=True)
            output.then(self._on_output, job)
            if not job.wait.startswith("exec."):
                future.cancel(stop=True)
        if job.wait == f"exec.{event.name}":
            future.cancel(stop=True)
            main.cancel(stop=True)

    def _on_output(self, future: JobOutputWatch, job: _Watched) -> None:
        stream, data = future.get_output()
        if self.output_callback is not None:
            # As flux: the callback also gets the end, (None, None).
            self.output_callback(job.id, stream, data)
            return
        if stream is None or data is None:
            for out in (job.stdout, job.stderr):
                if out is not None:
                    out.flush()
            return
        target = job.stdout if stream == "stdout" else job.stderr
        if target is None:
            return
        if self.labelio:
            for line in data.splitlines(keepends=True):
                target.write(f"{job.id}: {line}")
        else:
            target.write(data)
