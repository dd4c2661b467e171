"""Watching the output and outcome of several jobs, as ``flux.job.watcher``.

:class:`JobWatcher` is what ``flux submit --watch`` does: for each job added
it follows the job's eventlog, copies the job's output to the watcher's
``stdout``/``stderr`` (or hands it to a callback) once the job shell is up,
reports fatal exceptions of jobs that never ran, and keeps in
:attr:`JobWatcher.exitcode` the largest exit code of the jobs. With
``progress=True`` a :class:`JobProgressBar` (pending, running, complete and
failed counts, percent done, elapsed time) stays on the terminal's last
line. Everything happens from the handle's reactor::

    watcher = JobWatcher(h)
    watcher.add_jobid(jobid)
    watcher.start()
    h.reactor_run()
    sys.exit(watcher.exitcode)
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from typing import IO

from fluxsdk.constants import FLUX_JOB_STATE_SCHED
from fluxsdk.core import Flux
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobEventWatchFuture, JobIDLike, event_watch_async
from fluxsdk.job.info import JobInfo
from fluxsdk.job.output import JobExceptionEvent, JobOutputWatch, output_watch_async
from fluxsdk.progress import ProgressBar

__all__ = ["JobProgressBar", "JobWatcher"]

OutputCallback = Callable[[JobID, str | None, str | None], object]
# Cursor and colour sequences a job may print: dropped while the progress bar is shown.
_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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


class JobProgressBar(ProgressBar):
    """A progress bar for a group of jobs: ``PD:n R:n CD:n F:n |bar| percent elapsed``.

    Add jobs with :meth:`add_job` / :meth:`add_jobs`, feed their events to
    :meth:`process_event` (``None`` once a job is done: the bar advances
    then). ``pending``, ``running``, ``complete`` (finished with status 0)
    and ``failed`` (nonzero status, or a fatal exception before running)
    count the jobs; the bar is redrawn every ``update_interval`` seconds
    from the handle's reactor once started.

    Args:
        flux_handle: the handle whose reactor redraws the bar.
        starttime: where the elapsed time starts (default: the earliest submit time).
        jps: show jobs per second instead of the elapsed time.
        counter_width: the width of each count.
        update_interval: seconds between redraws.
    """

    def __init__(
        self,
        flux_handle: Flux,
        starttime: float | None = None,
        jps: bool = False,
        counter_width: int = 3,
        update_interval: float = 0.25,
    ) -> None:
        before = (
            "PD:{pending:<{width}} R:{running:<{width}} CD:{complete:<{width}} F:{failed:<{width}} "
        )
        after = "{percent:5.1f}% {jps:4.1f} job/s" if jps else "{percent:5.1f}% {elapsed.dt}"
        super().__init__(total=0, before=before, after=after, width=counter_width, jps=0.0)
        self.jobs: dict[JobID, _Watched] = {}
        self.starttime = starttime
        self.pending = self.running = self.complete = self.failed = 0
        self._done: set[JobID] = set()
        self._shown = False
        self.timer = flux_handle.timer_watcher_create(
            0.0, lambda *_: self.redraw(), repeat=update_interval
        )
        self._refresh()

    def _refresh(self) -> None:
        counts = ("pending", "running", "complete", "failed")
        self.kwargs.update({name: getattr(self, name) for name in counts})

    def start(self) -> JobProgressBar:
        """Show the bar and redraw it periodically (the timer never keeps the reactor alive)."""
        if not self._shown:
            self._shown = True
            self.timer.start()
            self.timer.unref()
            super().start()
            if self.starttime is not None:
                self._t0 = self.starttime
        return self

    def stop(self) -> None:
        """Stop redrawing and leave the bar's last state on the terminal."""
        self.timer.stop()
        super().stop()

    def add_job(self, job: JobInfo) -> None:
        """Count ``job`` (a :class:`JobInfo`) in.

        Raises:
            ValueError: ``job`` is not a JobInfo, or is counted already.
        """
        if not isinstance(job, JobInfo):
            raise ValueError("add_job takes an argument of type JobInfo")
        jobid = JobID(job.id)
        if jobid in self.jobs:
            raise ValueError(f"job {jobid.f58} is already being monitored")
        if self._t0 is None or job.t_submit < self._t0:
            self._t0 = job.t_submit
        self.jobs[jobid] = _Watched(job, None, None, "clean")
        self.total += 1
        self.pending += 1
        self.update()

    def add_jobs(self, *jobs: JobInfo) -> None:
        """Count several jobs in."""
        for job in jobs:
            self.add_job(job)

    def jobs_per_sec(self) -> float:
        """Jobs done per second since the start time."""
        t0 = self._t0 if self._t0 is not None else time.time()
        return (self.count + 1) / max(time.time() - t0, 1e-9)

    def update(self, advance: int = 0, **kwargs: object) -> None:
        """Redraw with the current counts (advancing the bar by ``advance`` jobs)."""
        self._refresh()
        super().update(advance=advance, **kwargs)

    def process_event(self, jobid: JobIDLike, event: EventLogEvent | None = None) -> None:
        """Count an event of a job in; ``None`` means the job is done (the bar advances)."""
        job = self.jobs[JobID(jobid)]
        if event is None:
            if job.id not in self._done:
                self._done.add(job.id)
                self.update(advance=1, jps=self.jobs_per_sec())
            return
        if event.name == "alloc" and job.status == "pending":
            self._move(job, "running")
        elif event.name == "exception" and event.context.get("severity") == 0:
            if job.status == "pending":  # a running job gets its finish event
                self._move(job, "failed")
        elif event.name == "finish" and job.status in ("pending", "running"):
            self._move(job, "complete" if event.context.get("status") == 0 else "failed")
        self.update()

    def _move(self, job: _Watched, status: str) -> None:
        setattr(self, job.status, getattr(self, job.status) - 1)
        setattr(self, status, getattr(self, status) + 1)
        job.status = status


class JobWatcher:
    """Watch the status and output of one or more jobs.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobs: :class:`~fluxsdk.job.JobInfo` objects to watch from the start.
        progress: show a :class:`JobProgressBar` on the terminal's last line.
        jps: with ``progress``, show jobs per second instead of the elapsed time.
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
        self.show_progress = progress
        self.progress = JobProgressBar(flux_handle, starttime=starttime, jps=jps)
        if jobs:
            self.add_jobs(*jobs)

    def start(self) -> JobWatcher:
        """Show the progress bar, if asked for; returns self."""
        if self.show_progress:
            self.progress.start()
        return self

    def stop(self) -> JobWatcher:
        """Leave the progress bar's last state on the terminal, if shown; returns self."""
        if self.show_progress:
            self.progress.stop()
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
        self.progress.add_jobs(*jobs)
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
        self.progress.process_event(job.id, event)
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
            self.progress.process_event(job.id)  # done with this job
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
        if self.show_progress:
            data = _TERMINAL_ESCAPE.sub("", data)
        if self.labelio:
            for line in data.splitlines(keepends=True):
                target.write(f"{job.id}: {line}")
        else:
            target.write(data)
