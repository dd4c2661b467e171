"""Reading job output, as ``flux.job.output``.

A job's standard output and error, and its job shell's log messages, are
written to the job's output eventlog ``guest.output`` (RFC 24) as ``data``
and ``log`` events, after a ``header`` event (and ``redirect`` events when a
stream goes to a file). This module reads that log:

* :func:`job_output` returns everything at once, as a :class:`JobOutput`
  ``(stdout, stderr, log)``.
* :func:`output_watch` yields ``(stream, data)`` as output arrives,
  :func:`output_watch_lines` yields ``(stream, line)``, and
  :func:`output_event_watch` yields the events themselves
  (:class:`OutputEvent`, :class:`LogEvent`, :class:`OutputHeaderEvent`,
  :class:`RedirectEvent`, :class:`JobExceptionEvent`). Each has an
  ``_async`` twin returning a future.

Watching starts with the job's main eventlog: output exists only once the
job has started, and job exceptions are reported on the stderr stream as
``job.exception: ...`` lines. A job that ends without starting fails the
watch with ``OSError(EIO, "job <id> never started")``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
from collections.abc import Callable, Generator, Mapping
from typing import Any, ClassVar, Final, NamedTuple, TypeVar, cast

from fluxsdk.core import CompositeFuture, Flux
from fluxsdk.eventlog import EventLogEvent, decode_eventlog
from fluxsdk.job._jobid import JobID
from fluxsdk.job._taskset import Taskset, TasksetLike
from fluxsdk.job.event import (
    JobEventWatchFuture,
    JobIDLike,
    _check_handle,
    event_wait,
    event_watch_async,
)

__all__ = [
    "LOG_DEBUG",
    "LOG_ERROR",
    "LOG_FATAL",
    "LOG_NOTICE",
    "LOG_QUIET",
    "LOG_TRACE",
    "LOG_WARN",
    "JobExceptionEvent",
    "JobOutput",
    "JobOutputEventWatch",
    "JobOutputWatch",
    "JobOutputWatchLines",
    "LogEvent",
    "OutputEvent",
    "OutputHeaderEvent",
    "RedirectEvent",
    "Taskset",
    "job_output",
    "output_event_watch",
    "output_event_watch_async",
    "output_watch",
    "output_watch_async",
    "output_watch_lines",
    "output_watch_lines_async",
]

# Job shell log levels, for log_stderr_level. 1 and 2 (alert, critical) are
# reserved by the shell.
#: No log message goes to stderr (all go to the "log" stream).
LOG_QUIET: Final = -1
LOG_FATAL: Final = 0
LOG_ERROR: Final = 3
LOG_WARN: Final = 4
LOG_NOTICE: Final = 5
LOG_DEBUG: Final = 6
#: Every log message goes to stderr (the default).
LOG_TRACE: Final = 7

EntryLike = EventLogEvent | Mapping[str, Any] | str | bytes
"""An eventlog entry: an :class:`EventLogEvent`, a mapping, or its JSON line."""


def _event_of(entry: EntryLike, name: str, kind: str) -> EventLogEvent:
    """``entry`` as an EventLogEvent, checked to be a ``name`` event."""
    event = entry if isinstance(entry, EventLogEvent) else EventLogEvent(entry)
    if event.name != name:
        raise ValueError(f"event {event.name} is not a {kind} event")
    return event


class OutputEvent(EventLogEvent):
    """An RFC 24 ``data`` event: output of some tasks on one stream.

    Attributes:
        timestamp: when the output was written.
        name: ``"data"``.
        rank: the tasks that wrote it (a :class:`Taskset`).
        stream: ``"stdout"`` or ``"stderr"``.
        eof: True if this event ends the stream for those tasks.
        data: the text, decoded (base64 data is decoded, ``repeat`` is
            applied, and with ``labelio`` each line starts with
            ``"<rank>: "``); None if the event carries no data.

    Raises:
        ValueError: ``entry`` is not a ``data`` event.
    """

    def __init__(self, entry: EntryLike, labelio: bool = False) -> None:
        super().__init__(_event_of(entry, "data", "data"))
        context = self.context
        self.rank = Taskset(context["rank"])
        self.stream: str = context["stream"]
        self.eof: bool = bool(context.get("eof", False))
        self.data: str | None = _data_text(context, self.rank, labelio)

    def render(self) -> str | None:
        """The output text (None when the event carries none)."""
        return self.data


def _data_text(context: Mapping[str, Any], rank: Taskset | str, labelio: bool) -> str | None:
    """The text of a ``data`` event's context (None without data)."""
    if "data" not in context:
        return None
    data: str = context["data"]
    if context.get("encoding") == "base64":
        # Output need not be valid UTF-8: keep undecodable bytes as surrogates.
        data = base64.b64decode(data).decode("utf-8", errors="surrogateescape")
    if "repeat" in context:
        data *= int(context["repeat"])
    if labelio:
        data = _label_lines(rank if isinstance(rank, Taskset) else Taskset(rank), data)
    return data


@functools.lru_cache(maxsize=256)
def _ranks_selected(rank: str, tasks: str) -> bool:
    """Whether the tasks ``rank`` of a data event are among ``tasks`` (both as text)."""
    return bool(Taskset(rank).intersect(tasks))


def _label_lines(rank: Taskset, data: str) -> str:
    """Prefix every line of ``data`` with ``"<rank>: "``, ending with a newline."""
    return "\n".join(f"{rank}: {line}" for line in data.splitlines()) + "\n"


class LogEvent(EventLogEvent):
    """An RFC 24 ``log`` event: a message from the job shell.

    Attributes:
        timestamp: when it was logged.
        name: ``"log"``.
        rank: the shell rank that logged it (a :class:`Taskset`).
        level: its level, 0 (fatal) to 7 (trace).
        levelstr: the level as shown in front of the message.
        message: the message.
        component: the shell component that logged it, or None.
        file: the source file, or None.
        line: the source line, or -1.

    Raises:
        ValueError: ``entry`` is not a ``log`` event.
    """

    #: Level names by level, as shown by :meth:`render` ("" for notice).
    log_level_string: ClassVar[list[str]] = [
        "FATAL",
        "FATAL",
        "FATAL",
        "ERROR",
        " WARN",
        "",
        "DEBUG",
        "TRACE",
    ]

    def __init__(self, entry: EntryLike) -> None:
        super().__init__(_event_of(entry, "log", "log"))
        context = self.context
        self.level: int = context["level"]
        self.rank = Taskset(context["rank"])
        self.message: str = context["message"]
        self.component: str | None = context.get("component")
        self.file: str | None = context.get("file")
        self.line: int = context.get("line", -1)

    @property
    def levelstr(self) -> str:
        """The level's name, e.g. ``"ERROR"`` (``""`` for notice or an unknown level)."""
        if 0 <= self.level < len(self.log_level_string):
            return self.log_level_string[self.level]
        return ""

    def render(self, include_file_and_line: bool = False) -> str:
        """The message as the job shell prints it: ``flux-shell[0]: ERROR: comp: message``."""
        prefix = f"flux-shell[{self.rank}]: "
        if self.levelstr:
            prefix += f"{self.levelstr}: "
        if self.component:
            prefix += f"{self.component}: "
        if include_file_and_line and self.file:
            prefix += f"{self.file}:{self.line}: "
        return prefix + self.message


class OutputHeaderEvent(EventLogEvent):
    """The RFC 24 ``header`` event that starts an output eventlog.

    Attributes:
        timestamp: when the log was created.
        name: ``"header"``.
        version: the RFC 24 version (1).
        stdout_count: how many stdout streams to expect (one per task).
        stderr_count: how many stderr streams to expect.
        stdout_encoding: the default encoding of stdout data, e.g. ``"UTF-8"``.
        stderr_encoding: the default encoding of stderr data.

    Raises:
        ValueError: ``entry`` is not a ``header`` event.
    """

    def __init__(self, entry: EntryLike) -> None:
        super().__init__(_event_of(entry, "header", "header"))
        context = self.context
        self.version: int = context["version"]
        self.stdout_count: int = context["count"]["stdout"]
        self.stderr_count: int = context["count"]["stderr"]
        self.stdout_encoding: str = context["encoding"]["stdout"]
        self.stderr_encoding: str = context["encoding"]["stderr"]


class RedirectEvent(EventLogEvent):
    """An RFC 24 ``redirect`` event: some tasks' stream goes to a file instead.

    Attributes:
        timestamp: when the redirect was set up.
        name: ``"redirect"``.
        stream: the redirected stream, ``"stdout"`` or ``"stderr"``.
        rank: the tasks redirected (a :class:`Taskset`).
        path: the file the stream goes to.

    Raises:
        ValueError: ``entry`` is not a ``redirect`` event.
    """

    def __init__(self, entry: EntryLike) -> None:
        super().__init__(_event_of(entry, "redirect", "redirect"))
        context = self.context
        self.stream: str = context["stream"]
        self.rank = Taskset(context["rank"])
        self.path: str = context["path"]

    def render(self) -> str:
        """``"<rank>: <stream> redirected to <path>"``."""
        return f"{self.rank}: {self.stream} redirected to {self.path}"


class JobExceptionEvent(EventLogEvent):
    """A job ``exception`` event, reported among output events.

    Attributes:
        timestamp: when the exception was raised.
        name: ``"exception"``.
        severity: 0 for fatal, 1-7 otherwise.
        exc_type: the exception type, e.g. ``"cancel"``.
        note: its explanation (may be empty).

    Raises:
        ValueError: ``entry`` is not an ``exception`` event.
    """

    def __init__(self, entry: EntryLike) -> None:
        super().__init__(_event_of(entry, "exception", "exception"))
        context = self.context
        self.severity: int = context["severity"]
        self.exc_type: str = context["type"]
        self.note: str = context.get("note", "")

    def render(self) -> str:
        """``"job.exception: type=<type> severity=<n> <note>"``."""
        text = f"job.exception: type={self.exc_type} severity={self.severity}"
        if self.note:
            text += f" {self.note}"
        return text


AnyOutputEvent = OutputEvent | LogEvent | OutputHeaderEvent | RedirectEvent | JobExceptionEvent
"""Any event an output watch produces."""


class JobOutput(NamedTuple):
    """A job's whole output, as :func:`job_output` returns it.

    Attributes:
        stdout: standard output of the selected tasks.
        stderr: standard error of the selected tasks, with log messages at
            or below ``log_stderr_level`` and exception/redirect notices.
        log: the other job shell log messages.
    """

    stdout: str
    stderr: str
    log: str


def _parse_output_eventlog_entry(entry: EntryLike, labelio: bool = False) -> AnyOutputEvent:
    """Return ``entry`` as the event class its name calls for.

    Raises:
        ValueError: the entry is not an output event (or not an entry).
    """
    event = entry if isinstance(entry, EventLogEvent) else EventLogEvent(entry)
    name = event.name
    if name == "data":
        return OutputEvent(event, labelio)
    if name == "log":
        return LogEvent(event)
    if name == "header":
        return OutputHeaderEvent(event)
    if name == "redirect":
        return RedirectEvent(event)
    if name == "exception":
        # Not an output event, but output watches relay the job's exceptions.
        return JobExceptionEvent(event)
    raise ValueError(f"event {name} is not a supported output event type")


def _output_eventlog_entry_decode(
    entry: EntryLike,
    stream_dict: dict[str, list[str]],
    tasks: Taskset,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
) -> None:
    """Append the text of output entry ``entry`` to ``stream_dict[stream]``.

    Data of tasks outside ``tasks`` and events without text are skipped.
    Notices (log messages, redirects, exceptions) are lines of their own, as
    the output watches return them.
    """
    if isinstance(entry, EventLogEvent) and entry.name == "data":
        # The common case, without building an OutputEvent: one per line of output.
        context = entry.context
        rank = context["rank"]
        if _ranks_selected(str(rank), str(tasks)):
            data = _data_text(context, str(rank), labelio)
            if data:
                stream_dict.setdefault(context["stream"], []).append(data)
        return
    event = _parse_output_eventlog_entry(entry, labelio)
    stream: str | None = None
    text: str | None = None
    if isinstance(event, OutputEvent):
        if event.rank.intersect(tasks):
            stream, text = event.stream, event.render()
    elif isinstance(event, LogEvent):
        stream = "stderr" if event.level <= log_stderr_level else "log"
        text = event.render() + "\n"
    elif isinstance(event, RedirectEvent):
        if event.rank.intersect(tasks):
            stream, text = "stderr", event.render() + "\n"
    elif isinstance(event, JobExceptionEvent):
        stream, text = "stderr", event.render() + "\n"
    if stream is not None and text:
        stream_dict.setdefault(stream, []).append(text)


def _join_streams(stream_dict: dict[str, list[str]]) -> JobOutput:
    return JobOutput(*("".join(stream_dict.get(k, [])) for k in ("stdout", "stderr", "log")))


def _parse_output_eventlog(
    eventlog: str,
    tasks: TasksetLike = "*",
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
) -> JobOutput:
    """Split a whole output eventlog into a :class:`JobOutput`."""
    stream_dict: dict[str, list[str]] = {"stdout": [], "stderr": [], "log": []}
    taskset = Taskset(tasks)
    for event in decode_eventlog(eventlog):
        _output_eventlog_entry_decode(event, stream_dict, taskset, labelio, log_stderr_level)
    return _join_streams(stream_dict)


def _await_output_eventlog(flux_handle: Flux, jobid: JobIDLike) -> None:
    """Block until a started job's output eventlog can be watched.

    As flux-core's clients, wait for the job shell's ``shell.init`` in the
    exec eventlog: the output eventlog exists from then on. (Watching it with
    WAITCREATE as soon as the job starts can miss the end of the stream on a
    real Flux broker when the job is short, a job-info race.)

    Raises:
        JobException: the job shell never started because of a fatal exception.
        OSError: ENODATA if the shell never started otherwise.
    """
    try:
        event_wait(flux_handle, jobid, "shell.init", eventlog="guest.exec.eventlog")
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            # No shell, no output: report the job's fatal exception, as flux does.
            event_wait(flux_handle, jobid, "clean")
        raise


def job_output(
    flux_handle: Flux,
    jobid: JobIDLike,
    tasks: TasksetLike = "*",
    labelio: bool = False,
    nowait: bool = False,
    log_stderr_level: int = LOG_TRACE,
) -> JobOutput:
    """Return a job's output: ``JobOutput(stdout, stderr, log)``.

    By default this blocks until the output is complete (every stream
    closed, normally when the job ends). With ``nowait``, the output written
    so far is returned at once.

    Log messages at or below ``log_stderr_level`` are added to stderr (all
    of them by default, ``LOG_TRACE``); the others form the ``log`` text.
    Use ``LOG_QUIET`` to keep every message out of stderr.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        tasks: the task ranks whose output to include, as an idset such as
            ``"0-3"`` (default ``"*"``, all tasks).
        labelio: start each line with ``"<rank>: "``, the task that wrote it.
        nowait: return what is available now instead of waiting.
        log_stderr_level: highest log level added to stderr.

    Raises:
        FileNotFoundError: the job does not exist (or, with ``nowait``, has
            no output yet).
        JobException: the job had a fatal exception before it started.
    """
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    if nowait:
        lookup = {"id": int(jobid), "keys": ["guest.output"], "flags": 0}
        try:
            response = flux_handle.rpc("job-info.lookup", lookup).get()
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT, f"job {jobid} does not exist or output not ready"
            ) from None
        return _parse_output_eventlog(response["guest.output"], tasks, labelio, log_stderr_level)

    # The output eventlog exists once the job starts; a fatal exception
    # before that means it never will (raised as JobException).
    event_wait(flux_handle, jobid, "start")
    _await_output_eventlog(flux_handle, jobid)
    stream_dict: dict[str, list[str]] = {"stdout": [], "stderr": [], "log": []}
    taskset = Taskset(tasks)
    watch = event_watch_async(flux_handle, jobid, "guest.output")
    try:
        event = watch.get_event()
        while event is not None:
            _output_eventlog_entry_decode(event, stream_dict, taskset, labelio, log_stderr_level)
            event = watch.get_event()
    finally:
        watch.cancel()
    return _join_streams(stream_dict)


class JobOutputEventWatch(CompositeFuture):
    """A future streaming a job's output events; see :func:`output_event_watch_async`."""

    def __init__(
        self,
        flux_handle: Flux,
        jobid: JobIDLike,
        labelio: bool = False,
        nowait: bool = False,
    ) -> None:
        super().__init__(flux_handle)
        self.jobid = JobID(jobid)
        self.labelio = labelio
        self.nowait = nowait
        self.started = False
        """True once the job's ``start`` event was seen."""
        self.finished = False
        """True once the job's ``finish`` event was seen."""
        self.closed = False
        """True once the output eventlog is complete."""

    def get_event(self, autoreset: bool = True) -> AnyOutputEvent | None:
        """Return the next output event, or None when there are no more.

        Blocks until one is available; unless ``autoreset`` is False, the
        next call returns the following event.

        Raises:
            OSError: ENOENT (``FileNotFoundError``) for an unknown job, EIO
                if the job ended without starting.
        """
        entry: EventLogEvent | None = self.get()
        if entry is None:
            return None
        if autoreset:
            self.reset()
        return _parse_output_eventlog_entry(entry, labelio=self.labelio)

    def _start(self) -> None:
        flux_handle = self.get_flux()
        if self.nowait:
            # The caller knows the output exists: skip the main eventlog.
            self._follow(
                event_watch_async(flux_handle, self.jobid, "guest.output"), self._on_output
            )
        else:
            self._follow(event_watch_async(flux_handle, self.jobid), self._on_main_event)

    def _on_main_event(self, watch: JobEventWatchFuture) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            strerror = exc.strerror
            if exc.errno == errno.ENOENT:
                strerror = f"job {self.jobid} not found"
            self._fail(OSError(exc.errno, strerror))
            return
        if event is None:
            self._unfollow(watch)
            if not self.started:
                # Not ENODATA (a normal end) nor ENOENT (an unknown job): EIO.
                self._fail(OSError(errno.EIO, f"job {self.jobid} never started"))
            return
        if event.name == "exception":
            # Shown on stderr by the output watches.
            self.fulfill(event)
        elif event.name == "start":
            self.started = True
            # Output is watched once the shell is up (see _await_output_eventlog).
            exec_log = event_watch_async(self.get_flux(), self.jobid, "guest.exec.eventlog")
            self._follow(exec_log, self._on_exec_event)
        elif event.name == "finish":
            # Exceptions after finish are not reported: stop watching.
            self.finished = True
            self._unfollow(watch)
            if self.closed:
                self.fulfill(None)

    def _on_exec_event(self, watch: JobEventWatchFuture) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self._unfollow(watch)
            self._fail(exc)
            return
        if event is None:  # the shell never started: there is no output
            self._unfollow(watch)
            self.closed = True
            if self.finished:
                self.fulfill(None)
        elif event.name == "shell.init":
            self._unfollow(watch)
            self._follow(
                event_watch_async(self.get_flux(), self.jobid, "guest.output"), self._on_output
            )

    def _on_output(self, watch: JobEventWatchFuture) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self._fail(exc)
            return
        if event is None:
            self._unfollow(watch)
            self.closed = True
            # Wait for finish too, so that exceptions before it are reported
            # (with nowait the main eventlog is not watched).
            if self.nowait or self.finished:
                self.fulfill(None)
            return
        self.fulfill(event)


class JobOutputWatch(CompositeFuture):
    """A future streaming ``(stream, data)`` chunks; see :func:`output_watch_async`."""

    def __init__(
        self,
        flux_handle: Flux,
        jobid: JobIDLike,
        labelio: bool = False,
        log_stderr_level: int = LOG_TRACE,
        nowait: bool = False,
    ) -> None:
        super().__init__(flux_handle)
        self.jobid = JobID(jobid)
        self.labelio = labelio
        self.log_stderr_level = log_stderr_level
        self.nowait = nowait

    def _start(self) -> None:
        events = JobOutputEventWatch(
            self.get_flux(), self.jobid, labelio=self.labelio, nowait=self.nowait
        )
        self._follow(events, self._on_event)

    def _on_event(self, watch: JobOutputEventWatch) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self._fail(exc)
            return
        if event is None:
            self._unfollow(watch)
            self.fulfill((None, None))
        elif isinstance(event, OutputEvent):
            if event.data is not None:
                self.fulfill((event.stream, event.data))
        elif isinstance(event, LogEvent):
            stream = "log" if event.level > self.log_stderr_level else "stderr"
            self.fulfill((stream, event.render() + "\n"))
        elif isinstance(event, (RedirectEvent, JobExceptionEvent)):
            self.fulfill(("stderr", event.render() + "\n"))

    def get_output(self) -> tuple[str | None, str | None]:
        """Return the next ``(stream, data)`` chunk, or ``(None, None)`` at the end.

        ``stream`` is ``"stdout"``, ``"stderr"`` or ``"log"``. Blocks until
        a chunk is available.

        Raises:
            OSError: ENOENT (``FileNotFoundError``) for an unknown job, EIO
                if the job ended without starting.
        """
        chunk: tuple[str | None, str | None] = self.get()
        self.reset()
        return chunk


class JobOutputWatchLines(CompositeFuture):
    """A future streaming ``(stream, line)`` pairs; see :func:`output_watch_lines_async`."""

    def __init__(
        self,
        flux_handle: Flux,
        jobid: JobIDLike,
        labelio: bool = False,
        log_stderr_level: int = LOG_TRACE,
        nowait: bool = False,
        keepends: bool = False,
    ) -> None:
        super().__init__(flux_handle)
        self.jobid = JobID(jobid)
        self.labelio = labelio
        self.log_stderr_level = log_stderr_level
        self.nowait = nowait
        self.keepends = keepends

    def _start(self) -> None:
        chunks = JobOutputWatch(
            self.get_flux(),
            self.jobid,
            labelio=self.labelio,
            log_stderr_level=self.log_stderr_level,
            nowait=self.nowait,
        )
        self._follow(chunks, self._on_chunk)

    def _on_chunk(self, watch: JobOutputWatch) -> None:
        try:
            stream, data = watch.get_output()
        except OSError as exc:
            self._fail(exc)
            return
        if data is None:
            self._unfollow(watch)
            self.fulfill((None, None))
            return
        for line in data.splitlines(keepends=self.keepends):
            self.fulfill((stream, line))

    def getline(self) -> tuple[str | None, str | None]:
        """Return the next ``(stream, line)``, or ``(None, None)`` at the end.

        ``stream`` is ``"stdout"``, ``"stderr"`` or ``"log"``. A partial line
        written by a task is returned as a line of its own.

        Raises:
            OSError: ENOENT (``FileNotFoundError``) for an unknown job, EIO
                if the job ended without starting.
        """
        line: tuple[str | None, str | None] = self.get()
        self.reset()
        return line


def output_event_watch_async(
    flux_handle: Flux, jobid: JobIDLike, labelio: bool = False, nowait: bool = False
) -> JobOutputEventWatch:
    """Watch a job's output events, without blocking.

    Call :meth:`JobOutputEventWatch.get_event` (from a ``then()`` callback,
    or blocking) for each event: an :class:`OutputEvent`,
    :class:`LogEvent`, :class:`OutputHeaderEvent`, :class:`RedirectEvent` or
    :class:`JobExceptionEvent` (check ``name`` or the type), then None.

    If the job ends without starting (a fatal exception while pending), the
    future fails with ``OSError(EIO, "job <id> never started")``.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        labelio: start each line of data with ``"<rank>: "``.
        nowait: the output eventlog already exists: watch it directly,
            skipping the main eventlog (and so its exceptions).
    """
    _check_handle(flux_handle)
    return JobOutputEventWatch(flux_handle, jobid, labelio=labelio, nowait=nowait)


def output_watch_async(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
) -> JobOutputWatch:
    """Watch a job's output in ``(stream, data)`` chunks, without blocking.

    Call :meth:`JobOutputWatch.get_output` for each chunk; ``stream`` is
    ``"stdout"``, ``"stderr"`` or ``"log"``, and ``(None, None)`` marks the
    end. Job exceptions and redirects are reported as lines on stderr.

    If the job ends without starting, the future fails with
    ``OSError(EIO, "job <id> never started")``.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        labelio: start each line of data with ``"<rank>: "``.
        log_stderr_level: log messages at or below this level go to
            ``"stderr"``, the others to ``"log"`` (default ``LOG_TRACE``:
            all to stderr).
        nowait: the output eventlog already exists: watch it directly.
    """
    _check_handle(flux_handle)
    return JobOutputWatch(
        flux_handle, jobid, labelio=labelio, log_stderr_level=log_stderr_level, nowait=nowait
    )


def output_watch_lines_async(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
    keepends: bool = False,
) -> JobOutputWatchLines:
    """Watch a job's output line by line, without blocking.

    Call :meth:`JobOutputWatchLines.getline` for each ``(stream, line)``;
    ``(None, None)`` marks the end. A partial line in the output is
    returned as a whole line (there is no line buffering).

    If the job ends without starting, the future fails with
    ``OSError(EIO, "job <id> never started")``.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        labelio: start each line with ``"<rank>: "``.
        log_stderr_level: log messages at or below this level go to
            ``"stderr"``, the others to ``"log"``.
        nowait: the output eventlog already exists: watch it directly.
        keepends: keep the line breaks.
    """
    _check_handle(flux_handle)
    return JobOutputWatchLines(
        flux_handle,
        jobid,
        labelio=labelio,
        log_stderr_level=log_stderr_level,
        nowait=nowait,
        keepends=keepends,
    )


def output_event_watch(
    flux_handle: Flux, jobid: JobIDLike, labelio: bool = False, nowait: bool = False
) -> Generator[AnyOutputEvent, None, None]:
    """Yield a job's output events as they arrive (blocking).

    >>> for event in output_event_watch(flux_handle, jobid):  # doctest: +SKIP
    ...     if event.name == "data" and event.data is not None:
    ...         print(f"{event.stream}: {event.data}")

    Arguments are those of :func:`output_event_watch_async`.
    """
    watcher = output_event_watch_async(flux_handle, jobid, labelio=labelio, nowait=nowait)
    # A generator, as in flux: nothing starts until the first next().
    # (mypy joins the union of event classes when solving _T; name it.)
    yield from cast("Generator[AnyOutputEvent, None, None]", _drain(watcher, watcher.get_event))


def output_watch(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
) -> Generator[tuple[str, str], None, None]:
    """Yield ``(stream, data)`` chunks of a job's output as they arrive (blocking).

    >>> for stream, data in output_watch(flux_handle, jobid):  # doctest: +SKIP
    ...     print(f"{stream}: {data}")

    Arguments are those of :func:`output_watch_async`.
    """
    watcher = output_watch_async(
        flux_handle, jobid, labelio=labelio, log_stderr_level=log_stderr_level, nowait=nowait
    )
    # A generator, as in flux: nothing starts until the first next().
    yield from _drain(watcher, lambda: _pair(watcher.get_output()))


def output_watch_lines(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
    keepends: bool = False,
) -> Generator[tuple[str, str], None, None]:
    """Yield ``(stream, line)`` pairs of a job's output as they arrive (blocking).

    >>> for stream, line in output_watch_lines(flux_handle, jobid):  # doctest: +SKIP
    ...     print(f"{stream}: {line}")

    Arguments are those of :func:`output_watch_lines_async`.
    """
    watcher = output_watch_lines_async(
        flux_handle,
        jobid,
        labelio=labelio,
        log_stderr_level=log_stderr_level,
        nowait=nowait,
        keepends=keepends,
    )
    # A generator, as in flux: nothing starts until the first next().
    yield from _drain(watcher, lambda: _pair(watcher.getline()))


_T = TypeVar("_T")


def _pair(item: tuple[str | None, str | None]) -> tuple[str, str] | None:
    """A ``(stream, text)`` pair, or None at the end (flux returns ``(None, None)``)."""
    stream, text = item
    return None if stream is None or text is None else (stream, text)


def _drain(watcher: CompositeFuture, get: Callable[[], _T | None]) -> Generator[_T, None, None]:
    """Yield ``get()`` until it gives None; stop the watches if the caller leaves early."""
    try:
        item = get()
        while item is not None:
            yield item
            item = get()
    finally:
        # Best effort, as in event_watch().
        with contextlib.suppress(OSError, RuntimeError):
            watcher.cancel()
