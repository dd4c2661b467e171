"""Waiting for jobs to finish, as ``flux.job.wait``.

Two ways, as in flux:

* :func:`wait` asks the job manager (``job-manager.wait``) for the end of a
  job submitted with ``waitable=True`` (or of any such job), and reaps it:
  each job can be waited for once. It gives a :class:`JobWaitResult`.
* :func:`result` watches the job's main eventlog to its end and builds a
  :class:`~fluxsdk.job.info.JobInfo` from the events (submit, alloc, finish,
  exceptions). It works for any job, finished or not, any number of times.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, NamedTuple

from fluxsdk.constants import FLUX_JOBID_ANY
from fluxsdk.core import RPC, CompositeFuture, Flux
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import (
    JobEventWatchFuture,
    JobIDLike,
    _check_handle,
    event_watch_async,
)
from fluxsdk.job.info import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_RESULT_TIMEOUT,
    JobInfo,
)

__all__ = [
    "FLUX_JOBID_ANY",
    "JobResultFuture",
    "JobResultInfo",
    "JobWaitFuture",
    "JobWaitResult",
    "WaitErrorString",
    "result",
    "result_async",
    "wait",
    "wait_async",
    "wait_get_status",
]


class WaitErrorString(str):
    """The text of :attr:`JobWaitResult.errstr`: a ``str`` that also has ``decode()``.

    flux.job returns this field as ``bytes``, so flux scripts call
    ``errstr.decode()``; that keeps working here, and the value is text.
    """

    __slots__ = ()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The text itself (what ``bytes.decode`` gives in flux.job)."""
        return str(self)


class JobWaitResult(NamedTuple):
    """How a waited-for job ended.

    Attributes:
        jobid: the job's ID (useful when waiting for any job).
        success: True if the job completed with exit status 0 and no fatal
            exception.
        errstr: why it failed, e.g. ``"task(s) exited with exit code 1"``
            (empty on success); a :class:`WaitErrorString`, so flux code that
            calls ``errstr.decode()`` keeps working.
    """

    jobid: int
    success: bool
    errstr: WaitErrorString


class JobWaitFuture(RPC):
    """The future of :func:`wait_async`; :meth:`get_status` gives the result."""

    def get_status(self) -> JobWaitResult:
        """Block until the job has ended and return its :class:`JobWaitResult`."""
        return wait_get_status(self)


def wait_async(flux_handle: Flux, jobid: JobIDLike = FLUX_JOBID_ANY) -> JobWaitFuture:
    """Wait for a waitable job to end, without blocking; see :func:`wait`."""
    _check_handle(flux_handle)
    wanted = int(JobID(jobid))
    # On the wire an ID is a JSON (jansson: signed 64-bit) integer, so libjob
    # sends FLUX_JOBID_ANY as -1; 2**64-1 does not decode in flux-core.
    wire = -1 if wanted == FLUX_JOBID_ANY else wanted
    return JobWaitFuture(flux_handle, "job-manager.wait", {"id": wire})


def wait_get_status(future: JobWaitFuture | RPC) -> JobWaitResult:
    """Return the :class:`JobWaitResult` of a :func:`wait_async` future, blocking until known.

    Raises:
        OSError: EINVAL if ``future`` is None; the job manager's error otherwise
            (ENOENT unknown job, EINVAL job not waitable, ECHILD nothing to
            wait for).
    """
    if future is None:
        raise OSError(errno.EINVAL, "future must not be None/NULL")
    response = future.get()
    try:
        return JobWaitResult(
            int(response["id"]),
            bool(response["success"]),
            WaitErrorString(response["errstr"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OSError(errno.EPROTO, f"malformed job-manager.wait response: {exc}") from None


def wait(flux_handle: Flux, jobid: JobIDLike = FLUX_JOBID_ANY) -> JobWaitResult:
    """Block until a waitable job ends and return how it ended.

    Only jobs submitted with ``waitable=True`` can be waited for, and each
    only once. Without ``jobid``, waits for any waitable job.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string), or ``FLUX_JOBID_ANY``.

    Returns:
        ``JobWaitResult(jobid, success, errstr)``.

    Raises:
        OSError: ENOENT unknown job, EINVAL job not waitable, ECHILD no
            waitable job left.
    """
    return wait_async(flux_handle, jobid).get_status()


# -- result ------------------------------------------------------------------------


def _result_of(res: dict[str, Any]) -> int:
    """The job result, decided from what the eventlog showed (as libjob does)."""
    t_run = res.get("t_run", -1.0)
    if t_run > 0 and res.get("waitstatus", -1) == 0:
        return FLUX_JOB_RESULT_COMPLETED
    if res.get("exception_occurred"):
        exc_type = res.get("exception_type")
        if exc_type == "cancel":
            return FLUX_JOB_RESULT_CANCELED
        if exc_type == "timeout":
            return FLUX_JOB_RESULT_TIMEOUT
    return FLUX_JOB_RESULT_FAILED


def _add_exception(res: dict[str, Any], context: dict[str, Any]) -> None:
    """Record an exception event in ``res``, following libjob's overwrite rule."""
    exc_type = context["type"]
    severity = context["severity"]
    note = context.get("note", "")
    if res.get("exception_occurred"):
        previous = res.get("exception_severity", -1)
        # libjob keeps a previous non-fatal exception when the new one is less
        # severe; a previous fatal one (severity 0) is always replaced.
        if 0 < previous < severity:
            return
    res["exception_occurred"] = True
    res["exception_type"] = exc_type
    res["exception_note"] = note
    res["exception_severity"] = severity


def result_from_events(jobid: JobIDLike, events: list[EventLogEvent]) -> dict[str, Any]:
    """Build the "result" dictionary of a job from its main eventlog entries.

    This is what :meth:`JobResultFuture.get_dict` returns once the eventlog
    is complete: ``id``, ``exception_occurred``, and as the events allow
    ``t_submit`` (the ``submit`` event), ``t_run`` (``alloc``), ``t_cleanup``
    and ``waitstatus`` (``finish``), ``exception_type``/``_note``/``_severity``,
    and ``result``.
    """
    res: dict[str, Any] = {"id": int(JobID(jobid)), "exception_occurred": False}
    for event in events:
        _apply_event(res, event)
    res["result"] = _result_of(res)
    return res


def _apply_event(res: dict[str, Any], event: EventLogEvent) -> None:
    name = event.name
    if name == "submit":
        res["t_submit"] = event.timestamp
    elif name == "alloc":
        res["t_run"] = event.timestamp
    elif name == "finish":
        res["t_cleanup"] = event.timestamp
        res["waitstatus"] = event.context["status"]
    elif name == "exception":
        _add_exception(res, event.context)


if TYPE_CHECKING:

    class JobResultInfo(JobInfo):
        """The :class:`~fluxsdk.job.info.JobInfo` of an ended job, as type checkers see it.

        Its eventlog is complete, so :attr:`returncode` is an ``int`` and
        :attr:`result_id` a ``FLUX_JOB_RESULT_*`` value.
        """

        result_id: int

        @property
        def returncode(self) -> int:
            """The job's return code (see :attr:`JobInfo.returncode`)."""

else:
    # At run time the object is flux's exact class (code that compares types, as
    # flux-core's own tests do, sees a JobInfo); only type checkers see the narrower type.
    JobResultInfo = JobInfo


class JobResultFuture(CompositeFuture):
    """The future of :func:`result_async`, fulfilled when the job's eventlog is complete.

    :meth:`get_info` gives a :class:`~fluxsdk.job.info.JobInfo`,
    :meth:`get_dict` (and :meth:`get`) the underlying dictionary.
    """

    def __init__(self, flux_handle: Flux, jobid: JobIDLike, flags: int = 0) -> None:
        super().__init__(flux_handle)
        self.jobid = JobID(jobid)
        self.flags = flags
        self._res: dict[str, Any] = {"id": int(self.jobid), "exception_occurred": False}

    def _start(self) -> None:
        self._follow(event_watch_async(self.get_flux(), self.jobid), self._on_event)

    def _on_event(self, watch: JobEventWatchFuture) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self._fail(exc)
            return
        if event is None:
            self._unfollow(watch)
            self._res["result"] = _result_of(self._res)
            self.fulfill(dict(self._res))
            return
        _apply_event(self._res, event)

    def get_dict(self) -> dict[str, Any]:
        """Block until the job has ended and return its result dictionary.

        Raises:
            OSError: ENOENT (``FileNotFoundError``) for an unknown job.
        """
        res: dict[str, Any] = self.get()
        return res

    def get_info(self) -> JobResultInfo:
        """Block until the job has ended and return its :class:`JobResultInfo`.

        Only some of its attributes are known: ``id``, ``t_submit``,
        ``t_run``, ``t_cleanup``, ``runtime``, ``waitstatus``,
        ``returncode``, ``result``, ``result_id`` and ``exception``.
        """
        return JobResultInfo(self.get_dict())


def result_async(flux_handle: Flux, jobid: JobIDLike, flags: int = 0) -> JobResultFuture:
    """Wait for a job to end, without blocking; see :func:`result`.

    Returns:
        A :class:`JobResultFuture`; use :meth:`~JobResultFuture.get_info`
        from a ``then()`` callback or blocking.
    """
    _check_handle(flux_handle)
    return JobResultFuture(flux_handle, jobid, flags)


def result(flux_handle: Flux, jobid: JobIDLike, flags: int = 0) -> JobResultInfo:
    """Block until a job has ended and return what its eventlog says about the end.

    Unlike :func:`wait`, this works for any job, including jobs that are
    not waitable or already ended, and may be called any number of times.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        flags: reserved, must be 0.

    Returns:
        A :class:`~fluxsdk.job.info.JobInfo` (typed as ``JobResultInfo``) with
        ``id``, ``t_submit``, ``t_run``, ``t_cleanup``, ``runtime``,
        ``waitstatus``, ``returncode`` (an ``int``: the largest exit code, minus
        the signal number, -128 for a job canceled before it ran, 1 for one that
        failed before it ran), ``result``, ``result_id`` and ``exception``. As in
        flux, a job ended before it ran by a ``timeout`` exception raised by hand
        is the one case left with ``returncode == ""``.

    Raises:
        OSError: ENOENT (``FileNotFoundError``) for an unknown job.
    """
    return result_async(flux_handle, jobid, flags).get_info()
