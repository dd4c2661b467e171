"""Watching job eventlogs, as ``flux.job.event``.

A job's main eventlog (RFC 21) records its life: ``submit``, ``alloc``,
``start``, ``finish``, ``clean``, exceptions... :func:`event_watch_async`
streams the entries of that log (or of another log of the job, such as
``guest.output``) as :class:`~fluxsdk.eventlog.EventLogEvent` objects through
the ``job-info.eventlog-watch`` RPC; :func:`event_watch` is its generator
form and :func:`event_wait` waits for one named event. A fatal ``exception``
event is raised as :class:`JobException`.
"""

from __future__ import annotations

import contextlib
import errno
import json
from collections.abc import Generator
from typing import Any, Final

from fluxsdk.constants import (
    FLUX_JOB_EVENT_WATCH_INITIAL_SENTINEL,
    FLUX_JOB_EVENT_WATCH_WAITCREATE,
)
from fluxsdk.core import FLUX_NODEID_ANY, FLUX_RPC_NORESPONSE, FLUX_RPC_STREAMING, RPC, Flux
from fluxsdk.errors import FluxSDKError
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks._client import client_hooks
from fluxsdk.job._jobid import JobID

__all__ = [
    "FLUX_JOB_EVENT_WATCH_WAITCREATE",
    "MAIN_EVENTS",
    "EventLogEvent",
    "JobEventWatchFuture",
    "JobException",
    "JobIDLike",
    "event_wait",
    "event_watch",
    "event_watch_async",
]

_VALID_WATCH_FLAGS: Final = FLUX_JOB_EVENT_WATCH_WAITCREATE | FLUX_JOB_EVENT_WATCH_INITIAL_SENTINEL

#: Names of the events that may appear in a job's main eventlog (RFC 21).
MAIN_EVENTS: Final = frozenset(
    {
        "submit",
        "depend",
        "priority",
        "flux-restart",
        "urgency",
        "alloc",
        "free",
        "start",
        "release",
        "finish",
        "clean",
        "debug",
        "exception",
    }
)

JobIDLike = JobID | int | str
"""Anything that names a job: a :class:`JobID`, an int, or an RFC 19 string."""


def is_null(value: object) -> bool:
    """True for None and for a NULL cffi pointer (``flux.job.ffi.NULL``), which
    flux's bindings pass to libflux as NULL."""
    if value is None:
        return True
    return type(value).__module__ == "_cffi_backend" and not value


def _check_handle(flux_handle: object) -> None:
    """Raise OSError(EINVAL) for a missing handle, as libflux does for NULL."""
    if is_null(flux_handle):
        raise OSError(errno.EINVAL, "flux_handle must be a Flux handle, not None/NULL")


class JobException(FluxSDKError):
    """An ``exception`` event of a job, raised as a Python exception.

    Attributes:
        timestamp: when the exception event was posted.
        type: the exception type, e.g. ``"cancel"``, ``"timeout"``, ``"exec"``.
        note: a short human-readable explanation (may be empty).
        severity: 0 for a fatal exception (the job is aborted); 1-7 are
            informational.
    """

    def __init__(self, event: EventLogEvent) -> None:
        self.timestamp: float = event.timestamp
        self.type: str = event.context["type"]
        self.note: str = event.context.get("note", "")
        self.severity: int = event.context["severity"]
        super().__init__()

    def __str__(self) -> str:
        return f"job.exception: type={self.type}: {self.note}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from an equivalent event so the exception survives pickling.
        context = {"type": self.type, "severity": self.severity, "note": self.note}
        event = {"timestamp": self.timestamp, "name": "exception", "context": context}
        return (type(self), (EventLogEvent(event),))


class JobEventWatchFuture(RPC):
    """The future of :func:`event_watch_async`: a stream of eventlog entries.

    Call :meth:`get_event` (from a :meth:`then` callback, or blocking) for
    each entry; it returns ``None`` once the eventlog is complete. Stop
    watching early with :meth:`cancel`.
    """

    def __init__(
        self,
        flux_handle: Flux,
        topic: str | bytes,
        payload: Any = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> None:
        super().__init__(flux_handle, topic, payload, nodeid, flags | FLUX_RPC_STREAMING)
        # Which job and eventlog, for the fluxsdk_job_event plugins.
        watched = isinstance(payload, dict)
        self._watched = (payload.get("id"), payload.get("path")) if watched else None
        self.needs_cancel = True
        """False once the stream ended or :meth:`cancel` was called."""

    def watch_get(self, future: JobEventWatchFuture | None = None) -> EventLogEvent:
        """Decode the current response into an :class:`EventLogEvent` (blocking).

        Raises ``OSError`` if the response is an error (ENODATA at the end).
        """
        response = RPC.get(future or self)
        try:
            return EventLogEvent(response["event"])
        except (KeyError, TypeError) as exc:
            raise OSError(errno.EPROTO, f"malformed eventlog-watch response: {exc}") from None

    def watch_cancel(self, future: JobEventWatchFuture | None = None) -> None:
        """Ask job-info to stop this watch; the stream then ends with ENODATA."""
        rpc = future or self
        # A finished RPC's matchtag may already name a newer request: never
        # send a cancel for it.
        if rpc.is_pending():
            rpc.get_flux().rpc(
                "job-info.eventlog-watch-cancel",
                {"matchtag": rpc.matchtag},
                FLUX_NODEID_ANY,
                FLUX_RPC_NORESPONSE,
            )

    def get(self, autoreset: bool = True) -> EventLogEvent | None:
        """Same as :meth:`get_event` (as in flux, where watch futures' ``get`` decodes)."""
        return self.get_event(autoreset)

    def get_str(self) -> str | None:
        """The current raw response as JSON text (not reset)."""
        value = RPC.get(self)
        return None if value is None else json.dumps(value)

    def get_event(self, autoreset: bool = True) -> EventLogEvent | None:
        """Return the next eventlog entry, or ``None`` once the stream has ended.

        Blocks until an entry is available. Unless ``autoreset`` is False
        the future is then reset, so the next call returns the following
        entry; with ``autoreset=False`` the same entry is returned again
        until :meth:`reset` is called.

        Raises:
            OSError: the watch failed, e.g. ``FileNotFoundError`` (ENOENT)
                for an unknown job or a missing eventlog.
        """
        try:
            event = self.watch_get()
        except OSError as exc:
            # Any error response ends the stream; ENODATA is its normal end.
            self.needs_cancel = False
            if exc.errno == errno.ENODATA:
                return None
            raise
        if autoreset:
            self.reset()
            # Plugins see each entry once, when it is consumed (not on a peek).
            if self._watched is not None:
                jobid, path = self._watched
                client_hooks().job_event(jobid, event, path, self.get_flux().uri)
        return event

    def cancel(self, stop: bool = False) -> None:
        """Stop watching: later :meth:`get_event` calls return ``None``.

        Entries already received are still returned first. With ``stop``,
        the :meth:`then` callback is not called again either.
        """
        if self.needs_cancel:
            self.watch_cancel()
        self.needs_cancel = False
        if stop:
            self.stop()


def event_watch_async(
    flux_handle: Flux, jobid: JobIDLike, eventlog: str = "eventlog", flags: int = 0
) -> JobEventWatchFuture:
    """Start watching the entries of a job eventlog, without blocking.

    Returns a :class:`JobEventWatchFuture`; call its
    :meth:`~JobEventWatchFuture.get_event` (typically from a ``then()``
    callback) for each entry in turn.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        eventlog: which eventlog of the job: ``"eventlog"`` (the main one,
            see RFC 21) or ``"guest.output"`` (RFC 24 output).
        flags: ``FLUX_JOB_EVENT_WATCH_WAITCREATE`` to wait for the eventlog
            to be created rather than fail with ENOENT.

    Raises:
        OSError: EINVAL for a missing handle or invalid flags.
        InvalidJobIDError: ``jobid`` is not a job ID.
    """
    _check_handle(flux_handle)
    if not isinstance(eventlog, str) or not eventlog:
        raise OSError(errno.EINVAL, "eventlog must be a non-empty path such as 'eventlog'")
    if flags & ~_VALID_WATCH_FLAGS:
        raise OSError(errno.EINVAL, f"invalid event watch flags {flags:#x}")
    payload = {"id": int(JobID(jobid)), "path": eventlog, "flags": flags}
    return JobEventWatchFuture(flux_handle, "job-info.eventlog-watch", payload)


def event_watch(
    flux_handle: Flux, jobid: JobIDLike, eventlog: str = "eventlog"
) -> Generator[EventLogEvent, None, None]:
    """Yield each entry of a job eventlog, blocking until the log is complete.

    >>> for event in event_watch(flux_handle, jobid):  # doctest: +SKIP
    ...     print(event.name)

    The main eventlog is complete after ``clean``. Leaving the loop early
    cancels the watch.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        eventlog: which eventlog of the job (default: the main ``"eventlog"``).

    Raises:
        FileNotFoundError: the job (or that eventlog) does not exist.
    """
    watcher = event_watch_async(flux_handle, jobid, eventlog)
    try:
        event = watcher.get_event()
        while event is not None:
            yield event
            event = watcher.get_event()
    finally:
        # Best effort: the handle may be closed or in another thread when a
        # half-consumed generator is garbage collected.
        with contextlib.suppress(OSError, RuntimeError):
            watcher.cancel()


def event_wait(
    flux_handle: Flux,
    jobid: JobIDLike,
    name: str,
    eventlog: str = "eventlog",
    raiseJobException: bool = True,  # flux's keyword name
) -> EventLogEvent:
    """Block until the job eventlog has an entry named ``name`` and return it.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        name: the event to wait for, e.g. ``"start"`` (see RFC 21).
        eventlog: which eventlog of the job (default: the main ``"eventlog"``).
        raiseJobException: if True (the default), a fatal (severity 0)
            ``exception`` event seen before ``name`` is raised as
            :class:`JobException`; non-fatal exceptions never are.

    Returns:
        The matching :class:`EventLogEvent`.

    Raises:
        JobException: a fatal exception came first (``raiseJobException``).
        OSError: ENODATA if the eventlog ended without ``name``; ENOENT
            (``FileNotFoundError``) for an unknown job.
    """
    for event in event_watch(flux_handle, jobid, eventlog):
        if event.name == name:
            return event
        if raiseJobException and event.name == "exception" and event.context["severity"] == 0:
            raise JobException(event)
    raise OSError(errno.ENODATA, f"eventlog ended before event='{name}'")
