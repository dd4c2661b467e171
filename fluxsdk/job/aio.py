"""The job API for asyncio: ``await`` jobs, ``async for`` over their events and output.

Each function is the twin of a :mod:`fluxsdk.job` function, named with an
``a`` in front (``submit`` / ``asubmit``), with the same arguments and the
same results and errors::

    import asyncio
    import fluxsdk
    from fluxsdk.job import JobspecV1, aio

    async def main() -> None:
        with fluxsdk.Flux() as h:
            jobid = await aio.asubmit(h, JobspecV1.from_command(["hostname"]))
            async for stream, line in aio.aoutput_watch_lines(h, jobid):
                print(stream, line)
            print((await aio.aresult(h, jobid)).returncode)

    asyncio.run(main())

It is native asyncio, not threads around blocking calls: the running loop
drives the handle's connection itself (:mod:`fluxsdk.core._asyncio`), so
thousands of jobs can be awaited at once from one thread. The handle must
have been opened in the loop's thread (handles are thread-confined).

Cancelling a task that awaits a watch (:func:`aresult`, :func:`aevent_wait`,
the iterators) cancels the watch, never the job; use :func:`acancel` for
that. Leaving an ``async for`` early, closing its iterator or leaving its
``async with`` block also cancels the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from fluxsdk.core import CompositeFuture, Flux, Future
from fluxsdk.core._asyncio import aget, aready
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID
from fluxsdk.job._taskset import Taskset, TasksetLike
from fluxsdk.job.event import (
    FLUX_JOB_EVENT_WATCH_WAITCREATE,
    JobEventWatchFuture,
    JobException,
    JobIDLike,
    _check_handle,
    event_watch_async,
)
from fluxsdk.job.kill import cancel_async, job_raise_async, kill_async
from fluxsdk.job.output import (
    LOG_TRACE,
    AnyOutputEvent,
    JobOutput,
    _join_streams,
    _output_eventlog_entry_decode,
    _pair,
    _parse_output_eventlog,
    output_event_watch_async,
    output_watch_async,
    output_watch_lines_async,
)
from fluxsdk.job.submit import (
    FLUX_JOB_URGENCY_DEFAULT,
    JobspecArg,
    set_urgency_async,
    submit_async,
)
from fluxsdk.job.wait import (
    FLUX_JOBID_ANY,
    JobResultInfo,
    JobWaitResult,
    result_async,
    wait_async,
)

__all__ = [
    "AsyncWatch",
    "acancel",
    "aevent_wait",
    "aevent_watch",
    "aget",
    "ajob_output",
    "ajob_raise",
    "akill",
    "aoutput_event_watch",
    "aoutput_watch",
    "aoutput_watch_lines",
    "aready",
    "aresult",
    "aset_urgency",
    "asubmit",
    "await_",
]

_T = TypeVar("_T")

_WatchFuture = JobEventWatchFuture | CompositeFuture
"""A future that streams results and stops with ``cancel(stop=True)``."""


class AsyncWatch(Generic[_T]):
    """An asynchronous iterator over a watch: events, output chunks or lines.

    Returned by :func:`aevent_watch` and the output watch functions; use it
    with ``async for``, optionally inside ``async with`` to make sure the
    watch is cancelled when the block ends::

        async with aio.aevent_watch(h, jobid) as events:
            async for event in events:
                ...

    The watch is cancelled (the job is not touched) when the iterator is
    closed (:meth:`aclose`), when the task awaiting the next item is
    cancelled, when an error ends it, and, as a last resort, when the
    iterator is garbage collected.
    """

    def __init__(self, watch: _WatchFuture, take: Callable[[], _T | None]) -> None:
        self._watch = watch
        self._take = take
        self._closed = False

    def __aiter__(self) -> AsyncWatch[_T]:
        return self

    async def __anext__(self) -> _T:
        if self._closed:
            raise StopAsyncIteration
        try:
            await aready(self._watch)
            item = self._take()
        except BaseException:
            self._close()
            raise
        if item is None:
            self._closed = True  # the watch ended by itself
            raise StopAsyncIteration
        return item

    @property
    def closed(self) -> bool:
        """True once the watch has ended or been cancelled."""
        return self._closed

    async def aclose(self) -> None:
        """Cancel the watch (no effect once it has ended)."""
        self._close()

    async def __aenter__(self) -> AsyncWatch[_T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            # Best effort: the connection may be gone already.
            with contextlib.suppress(OSError, RuntimeError):
                self._watch.cancel(stop=True)

    def __del__(self) -> None:
        # An `async for` left with `break` drops the iterator without closing it.
        with contextlib.suppress(Exception):
            self._close()


async def _await_then_cancel(future: Future) -> None:
    """Await ``future``; if the awaiting task is cancelled, stop what it runs."""
    try:
        await aready(future)
    except asyncio.CancelledError:
        with contextlib.suppress(OSError, RuntimeError):
            if isinstance(future, (JobEventWatchFuture, CompositeFuture)):
                future.cancel(stop=True)
            else:
                future.stop()
        raise


# -- submitting and steering ---------------------------------------------------------


async def asubmit(
    flux_handle: Flux,
    jobspec: JobspecArg,
    urgency: int = FLUX_JOB_URGENCY_DEFAULT,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> JobID:
    """Submit a job and return its :class:`~fluxsdk.job.JobID`; twin of :func:`~fluxsdk.job.submit`.

    Cancelling the awaiting task does not withdraw the submission: the job
    may still be created.
    """
    future = submit_async(flux_handle, jobspec, urgency, waitable, debug, pre_signed, novalidate)
    await _await_then_cancel(future)
    return future.get_id()


async def aset_urgency(flux_handle: Flux, jobid: JobIDLike, urgency: int) -> int:
    """Change a pending job's urgency, returning the old one; twin of ``set_urgency``."""
    future = set_urgency_async(flux_handle, jobid, urgency)
    await _await_then_cancel(future)
    return future.get_old_urgency()


async def acancel(flux_handle: Flux, jobid: JobIDLike, reason: str | None = None) -> None:
    """Cancel a pending or running job; twin of :func:`~fluxsdk.job.cancel`."""
    await aget(cancel_async(flux_handle, jobid, reason))


async def akill(flux_handle: Flux, jobid: JobIDLike, signum: int | None = None) -> None:
    """Send a signal to a running job's tasks; twin of :func:`~fluxsdk.job.kill`."""
    await aget(kill_async(flux_handle, jobid, signum))


async def ajob_raise(
    flux_handle: Flux,
    jobid: JobIDLike,
    exc_type: str,
    severity: int = 0,
    note: str | None = None,
) -> None:
    """Raise an exception on a job; twin of :func:`~fluxsdk.job.job_raise`."""
    await aget(job_raise_async(flux_handle, jobid, exc_type, severity, note))


# -- results -------------------------------------------------------------------------


async def aresult(flux_handle: Flux, jobid: JobIDLike, flags: int = 0) -> JobResultInfo:
    """Wait for a job to end and return its :class:`~fluxsdk.job.wait.JobResultInfo` (``result``).

    Cancelling the awaiting task cancels the eventlog watch, not the job.

    Raises:
        FileNotFoundError: the job does not exist.
    """
    future = result_async(flux_handle, jobid, flags)
    await _await_then_cancel(future)
    return future.get_info()


async def await_(flux_handle: Flux, jobid: JobIDLike = FLUX_JOBID_ANY) -> JobWaitResult:
    """Wait for a waitable job to end and reap it; twin of :func:`~fluxsdk.job.wait`.

    (The trailing underscore: ``await`` is a Python keyword.) If the awaiting
    task is cancelled, the job manager still reaps the job when it ends, and
    that result is lost.
    """
    future = wait_async(flux_handle, jobid)
    await _await_then_cancel(future)
    return future.get_status()


# -- events --------------------------------------------------------------------------


def aevent_watch(
    flux_handle: Flux, jobid: JobIDLike, eventlog: str = "eventlog"
) -> AsyncWatch[EventLogEvent]:
    """Iterate over the entries of a job eventlog as they come; twin of ``event_watch``.

    >>> async for event in aio.aevent_watch(h, jobid):  # doctest: +SKIP
    ...     print(event.name)

    The main eventlog ends after ``clean``. Raises ``FileNotFoundError``
    (from the first iteration) for an unknown job.
    """
    watch = event_watch_async(flux_handle, jobid, eventlog)
    return AsyncWatch(watch, watch.get_event)


async def aevent_wait(
    flux_handle: Flux,
    jobid: JobIDLike,
    name: str,
    eventlog: str = "eventlog",
    raiseJobException: bool = True,  # flux's keyword name
) -> EventLogEvent:
    """Wait for the eventlog entry named ``name`` and return it; twin of ``event_wait``.

    Raises:
        JobException: a fatal exception came first (``raiseJobException``).
        OSError: ENODATA if the eventlog ended without ``name``; ENOENT
            (``FileNotFoundError``) for an unknown job.
    """
    async with aevent_watch(flux_handle, jobid, eventlog) as events:
        async for event in events:
            if event.name == name:
                return event
            if raiseJobException and event.name == "exception" and event.context["severity"] == 0:
                raise JobException(event)
    raise OSError(errno.ENODATA, f"eventlog ended before event='{name}'")


# -- output --------------------------------------------------------------------------


def aoutput_event_watch(
    flux_handle: Flux, jobid: JobIDLike, labelio: bool = False, nowait: bool = False
) -> AsyncWatch[AnyOutputEvent]:
    """Iterate over a job's output events; twin of ``output_event_watch``."""
    watch = output_event_watch_async(flux_handle, jobid, labelio=labelio, nowait=nowait)
    return AsyncWatch(watch, watch.get_event)


def aoutput_watch(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
) -> AsyncWatch[tuple[str, str]]:
    """Iterate over ``(stream, data)`` chunks of a job's output; twin of ``output_watch``."""
    watch = output_watch_async(
        flux_handle, jobid, labelio=labelio, log_stderr_level=log_stderr_level, nowait=nowait
    )
    return AsyncWatch(watch, lambda: _pair(watch.get_output()))


def aoutput_watch_lines(
    flux_handle: Flux,
    jobid: JobIDLike,
    labelio: bool = False,
    log_stderr_level: int = LOG_TRACE,
    nowait: bool = False,
    keepends: bool = False,
) -> AsyncWatch[tuple[str, str]]:
    """Iterate over ``(stream, line)`` pairs of a job's output; twin of ``output_watch_lines``.

    >>> async for stream, line in aio.aoutput_watch_lines(h, jobid):  # doctest: +SKIP
    ...     print(f"{stream}: {line}")
    """
    watch = output_watch_lines_async(
        flux_handle,
        jobid,
        labelio=labelio,
        log_stderr_level=log_stderr_level,
        nowait=nowait,
        keepends=keepends,
    )
    return AsyncWatch(watch, lambda: _pair(watch.getline()))


async def ajob_output(
    flux_handle: Flux,
    jobid: JobIDLike,
    tasks: TasksetLike = "*",
    labelio: bool = False,
    nowait: bool = False,
    log_stderr_level: int = LOG_TRACE,
) -> JobOutput:
    """Return a job's whole output, ``JobOutput(stdout, stderr, log)``; twin of ``job_output``.

    Raises:
        FileNotFoundError: the job does not exist (or, with ``nowait``, has
            no output yet).
        JobException: the job had a fatal exception before it started.
    """
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    taskset = Taskset(tasks)
    if nowait:
        lookup = {"id": int(jobid), "keys": ["guest.output"], "flags": 0}
        try:
            response = await aget(flux_handle.rpc("job-info.lookup", lookup))
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT, f"job {jobid} does not exist or output not ready"
            ) from None
        return _parse_output_eventlog(response["guest.output"], taskset, labelio, log_stderr_level)
    # As job_output(): the output eventlog exists once the job has started.
    await aevent_wait(flux_handle, jobid, "start")
    watch = event_watch_async(
        flux_handle, jobid, "guest.output", flags=FLUX_JOB_EVENT_WATCH_WAITCREATE
    )
    stream_dict: dict[str, list[str]] = {"stdout": [], "stderr": [], "log": []}
    async with AsyncWatch(watch, watch.get_event) as entries:
        async for entry in entries:
            _output_eventlog_entry_decode(entry, stream_dict, taskset, labelio, log_stderr_level)
    return _join_streams(stream_dict)
