"""Submitting jobs and changing their urgency, as ``flux.job.submit``.

:func:`submit_async` signs the jobspec as the handle's connector requires
(RFC 39 mechanism ``none`` for the embedded instance; on a real Flux broker,
as libflux's ``flux_job_submit`` does) and sends it to ``job-ingest.submit``; the
returned :class:`SubmitFuture` gives the new job's :class:`JobID`.
:func:`submit` does the same and blocks for the ID.

:func:`set_urgency` (and :func:`set_urgency_async`) change a pending job's
urgency through ``job-manager.urgency``; ``flux.job`` has no Python
equivalent (the ``flux job urgency`` command does it).
"""

from __future__ import annotations

import errno
from typing import Any

from fluxsdk.constants import (
    FLUX_JOB_DEBUG,
    FLUX_JOB_NOVALIDATE,
    FLUX_JOB_PRE_SIGNED,
    FLUX_JOB_URGENCY_DEFAULT,
    FLUX_JOB_URGENCY_EXPEDITE,
    FLUX_JOB_URGENCY_HOLD,
    FLUX_JOB_URGENCY_MAX,
    FLUX_JOB_URGENCY_MIN,
    FLUX_JOB_WAITABLE,
)
from fluxsdk.core import RPC, Flux
from fluxsdk.hooks._client import client_hooks
from fluxsdk.job._jobid import JobID
from fluxsdk.job._jobspec import Jobspec
from fluxsdk.job.event import JobIDLike, _check_handle, is_null

__all__ = [
    "FLUX_JOB_DEBUG",
    "FLUX_JOB_NOVALIDATE",
    "FLUX_JOB_PRE_SIGNED",
    "FLUX_JOB_URGENCY_DEFAULT",
    "FLUX_JOB_URGENCY_EXPEDITE",
    "FLUX_JOB_URGENCY_HOLD",
    "FLUX_JOB_URGENCY_MAX",
    "FLUX_JOB_URGENCY_MIN",
    "FLUX_JOB_WAITABLE",
    "SubmitFuture",
    "UrgencyFuture",
    "set_urgency",
    "set_urgency_async",
    "submit",
    "submit_async",
    "submit_get_id",
]


JobspecArg = Jobspec | str | bytes
"""A jobspec as :func:`submit` accepts it: a :class:`Jobspec` or its JSON text."""


class SubmitFuture(RPC):
    """The future of :func:`submit_async`; :meth:`get_id` gives the new job's ID."""

    def get_id(self) -> JobID:
        """Block until the job is accepted and return its :class:`JobID`.

        Raises:
            OSError: the submission was rejected; the message says why
                (EINVAL for an invalid jobspec, EPERM for a restricted
                urgency or flag...).
        """
        return submit_get_id(self)


class UrgencyFuture(RPC):
    """The future of :func:`set_urgency_async`; :meth:`get_old_urgency` gives the old urgency."""

    def get_old_urgency(self) -> int:
        """Block until the change is made and return the job's previous urgency."""
        old: int = self.get()["old_urgency"]
        return old


def _jobspec_bytes(jobspec: object) -> bytes:
    """The jobspec argument as the bytes to sign or send."""
    if isinstance(jobspec, Jobspec):
        return jobspec.dumps().encode("utf-8")
    if isinstance(jobspec, str):
        return jobspec.encode("utf-8", errors="surrogateescape")
    if isinstance(jobspec, (bytes, bytearray)):
        return bytes(jobspec)
    if is_null(jobspec):
        raise OSError(errno.EINVAL, "jobspec must not be None/NULL")
    raise TypeError(
        f"jobspec must be a Jobspec or string (either binary or unicode), "
        f"not {type(jobspec).__name__}"
    )


def _check_urgency(urgency: object) -> int:
    # The range is left to the instance, which knows who may use which value.
    if not isinstance(urgency, int) or isinstance(urgency, bool):
        raise TypeError(f"urgency must be an int, not {type(urgency).__name__}")
    return urgency


def submit_async(
    flux_handle: Flux,
    jobspec: JobspecArg,
    urgency: int = FLUX_JOB_URGENCY_DEFAULT,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> SubmitFuture:
    """Submit a job without waiting for the instance's answer.

    Returns a :class:`SubmitFuture`; its :meth:`~SubmitFuture.get_id`
    (blocking, or from a ``then()`` callback) gives the job ID.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobspec: the job request: a :class:`Jobspec`, or its JSON text as
            ``str`` or ``bytes``; with ``pre_signed``, a signed
            request ``J`` instead.
        urgency: 0 (lowest, holds the job) to 31 (highest, expedites it),
            default 16. Values above 16 are for the instance owner.
        waitable: allow :func:`fluxsdk.job.wait` on the job (owner only).
        debug: post job-manager debug events to the job's eventlog.
        pre_signed: ``jobspec`` is already signed, send it as is.
        novalidate: skip jobspec validation (owner only).

    Plugins (:mod:`fluxsdk.hooks`) transform then validate the jobspec first,
    unless it is ``pre_signed``.

    Raises:
        OSError: EINVAL for a missing handle or jobspec.
        fluxsdk.hooks.JobspecRejectedError: a plugin rejected the jobspec (an
            ``OSError``, EPERM, and a ``ValueError``); the message names it
            and says why.
        fluxsdk.hooks.PluginFailedError: a transform or validator plugin
            failed (raised, missed its deadline...); nothing was sent. An
            ``OSError`` naming the plugin.
        TypeError: ``jobspec`` or ``urgency`` has the wrong type.
    """
    _check_handle(flux_handle)
    spec = _jobspec_bytes(jobspec)
    urgency = _check_urgency(urgency)
    flags = 0
    if waitable:
        flags |= FLUX_JOB_WAITABLE
    if debug:
        flags |= FLUX_JOB_DEBUG
    if novalidate:
        flags |= FLUX_JOB_NOVALIDATE
    # PRE_SIGNED only tells this function what it was given; it is not sent.
    if pre_signed:
        signed = spec.decode("utf-8", errors="surrogateescape")
    else:
        spec = client_hooks().prepare_jobspec(
            spec, uri=flux_handle.uri, urgency=urgency, flags=flags
        )
        # The connector signs: RFC 39 "none" for the embedded instance, libflux's
        # flux_job_submit (the site's mechanism) on a real Flux broker.
        signed = flux_handle._sign_jobspec(spec)
    payload: dict[str, Any] = {"J": signed, "urgency": urgency, "flags": flags}
    return SubmitFuture(flux_handle, "job-ingest.submit", payload)


def submit_get_id(future: SubmitFuture | RPC) -> JobID:
    """Return the job ID from the future of :func:`submit_async`, blocking until it is known.

    Raises:
        OSError: EINVAL if ``future`` is None; otherwise the instance's
            error when it rejected the job.
    """
    if is_null(future):
        raise OSError(errno.EINVAL, "future must not be None/NULL")
    response = future.get()
    try:
        return JobID(response["id"])
    except (KeyError, TypeError) as exc:
        raise OSError(errno.EPROTO, f"malformed job-ingest.submit response: {exc}") from None


def submit(
    flux_handle: Flux,
    jobspec: JobspecArg,
    urgency: int = FLUX_JOB_URGENCY_DEFAULT,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> JobID:
    """Submit a job and return its :class:`JobID` once the instance accepts it.

    Arguments are those of :func:`submit_async`.

    Raises:
        OSError: the instance rejected the job (the message says why), or
            EINVAL for a missing handle or jobspec.
        TypeError: ``jobspec`` or ``urgency`` has the wrong type.
    """
    future = submit_async(
        flux_handle, jobspec, urgency, waitable, debug, pre_signed, novalidate=novalidate
    )
    return future.get_id()


def set_urgency_async(flux_handle: Flux, jobid: JobIDLike, urgency: int) -> UrgencyFuture:
    """Change a pending job's urgency without waiting; see :func:`set_urgency`."""
    _check_handle(flux_handle)
    payload = {"id": int(JobID(jobid)), "urgency": _check_urgency(urgency)}
    return UrgencyFuture(flux_handle, "job-manager.urgency", payload)


def set_urgency(flux_handle: Flux, jobid: JobIDLike, urgency: int) -> int:
    """Change a pending job's urgency and return its previous urgency.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job (JobID, int or RFC 19 string).
        urgency: 0 (``FLUX_JOB_URGENCY_HOLD``) to 31
            (``FLUX_JOB_URGENCY_EXPEDITE``); a guest may not raise a job's
            urgency above 16 (or above its current value, if higher).

    Raises:
        OSError: ENOENT for an unknown job, EINVAL for an inactive job or an
            out-of-range urgency, EPERM for another user's job or a
            restricted value.
    """
    return set_urgency_async(flux_handle, jobid, urgency).get_old_urgency()
