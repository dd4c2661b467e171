"""Signalling, canceling and raising exceptions on jobs, as ``flux.job.kill``.

* :func:`kill` sends a signal to a running job's tasks (``job-manager.kill``).
* :func:`cancel` raises a fatal ``cancel`` exception, which ends a pending
  job or kills a running one.
* :func:`job_raise` raises an exception of any type and severity
  (``job-manager.raise``); severity 0 is fatal to the job.

Each has an ``_async`` twin returning the RPC future, which is fulfilled
(with an empty payload) once the job manager has acted.
"""

from __future__ import annotations

import errno
import signal
from typing import Any

from fluxsdk.core import RPC, Flux
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobIDLike, _check_handle

__all__ = [
    "cancel",
    "cancel_async",
    "job_raise",
    "job_raise_async",
    "kill",
    "kill_async",
]


def kill_async(flux_handle: Flux, jobid: JobIDLike, signum: int | None = None) -> RPC:
    """Send a signal to a running job, without waiting; see :func:`kill`.

    Returns:
        The RPC future, fulfilled once the signal has been delivered.
    """
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    if not signum:
        signum = signal.SIGTERM
    signum = int(signum)  # a signal.Signals member is an int subclass
    if signum <= 0:
        raise OSError(errno.EINVAL, f"invalid signal number {signum}")
    return flux_handle.rpc("job-manager.kill", {"id": int(jobid), "signum": signum})


def kill(flux_handle: Flux, jobid: JobIDLike, signum: int | None = None) -> None:
    """Send a signal to the tasks of a running job.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        signum: the signal (default ``SIGTERM``).

    Raises:
        OSError: ENOENT (``FileNotFoundError``) for an unknown job, EINVAL if
            the job is not running or the signal is invalid, EPERM for
            another user's job.
        InvalidJobIDError: ``jobid`` is not a job ID.
    """
    kill_async(flux_handle, jobid, signum).get()


def cancel_async(flux_handle: Flux, jobid: JobIDLike, reason: str | None = None) -> RPC:
    """Cancel a pending or running job, without waiting; see :func:`cancel`.

    Returns:
        The RPC future, fulfilled once the cancel exception has been raised.
    """
    return job_raise_async(flux_handle, jobid, "cancel", 0, reason)


def cancel(flux_handle: Flux, jobid: JobIDLike, reason: str | None = None) -> None:
    """Cancel a pending or running job.

    This raises a fatal exception of type ``cancel`` on the job, with
    ``reason`` as its note: a pending job becomes inactive, a running one is
    killed.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        reason: why, shown with the job's result (optional).

    Raises:
        OSError: ENOENT (``FileNotFoundError``) for an unknown job, EINVAL for
            an inactive job, EPERM for another user's job.
        InvalidJobIDError: ``jobid`` is not a job ID.
    """
    cancel_async(flux_handle, jobid, reason).get()


def job_raise_async(
    flux_handle: Flux,
    jobid: JobIDLike,
    exc_type: str,
    severity: int = 0,
    note: str | None = None,
) -> RPC:
    """Raise an exception on a job, without waiting; see :func:`job_raise`.

    Returns:
        The RPC future, fulfilled once the exception has been raised.
    """
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    if not isinstance(exc_type, str):
        raise OSError(errno.EINVAL, "exception type must be a string")
    if not isinstance(severity, int) or isinstance(severity, bool):
        raise TypeError(f"severity must be an int, not {type(severity).__name__}")
    payload: dict[str, Any] = {"id": int(jobid), "type": exc_type, "severity": severity}
    # An empty note is left out, as libjob does.
    if note:
        payload["note"] = str(note)
    return flux_handle.rpc("job-manager.raise", payload)


def job_raise(
    flux_handle: Flux,
    jobid: JobIDLike,
    exc_type: str,
    severity: int = 0,
    note: str | None = None,
) -> None:
    """Raise an exception on a job.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        exc_type: the exception type, e.g. ``"cancel"`` or a name of your own
            (no whitespace).
        severity: 0 (the default) aborts the job; 1-7 only record the event.
        note: a short human-readable explanation (optional).

    Raises:
        OSError: ENOENT (``FileNotFoundError``) for an unknown job, EINVAL for
            an inactive job or an invalid type or severity, EPERM for another
            user's job.
        InvalidJobIDError: ``jobid`` is not a job ID.
    """
    job_raise_async(flux_handle, jobid, exc_type, severity, note).get()
