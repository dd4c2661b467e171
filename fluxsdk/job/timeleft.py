"""How long the current job (or the enclosing instance) has left, as ``flux.job.timeleft``."""

from __future__ import annotations

import errno
import math
import os
import time

from fluxsdk.core import Flux
from fluxsdk.errors import InvalidJobIDError
from fluxsdk.job._jobid import JobID
from fluxsdk.job.info import FLUX_JOB_STATE_PENDING, FLUX_JOB_STATE_RUN
from fluxsdk.job.list import job_list_id

__all__ = ["timeleft"]


def _job_expiration(handle: Flux, text: str) -> float:
    try:
        jobid = JobID(text)
    except InvalidJobIDError:
        raise OSError(errno.EINVAL, f"failed to parse jobid {text}") from None
    try:
        job = job_list_id(handle, jobid, ["expiration", "state"]).get_job()
    except FileNotFoundError:
        raise OSError(errno.ENOENT, f"{text}: no such jobid") from None
    state = int(job["state"])
    if state & FLUX_JOB_STATE_PENDING:
        raise OSError(errno.EINVAL, f"job {text} has not started")
    if state != FLUX_JOB_STATE_RUN:
        return -math.inf  # a job past RUN has no time left
    return float(job.get("expiration") or 0.0)


def _instance_expiration(handle: Flux) -> float:
    try:
        R = handle.rpc("resource.status", {}).get()["R"]
        return float(R.get("execution", {}).get("expiration", 0.0))
    except (OSError, KeyError, TypeError, AttributeError) as exc:
        raise OSError(
            getattr(exc, "errno", None) or errno.EPROTO, "failed to get instance expiration"
        ) from None


def timeleft(flux_handle: Flux | None = None) -> float:
    """Return the seconds left before the current job, or the enclosing instance, expires.

    Inside a job (``$FLUX_JOB_ID`` is set) this is the job's time limit as
    the instance enforces it; otherwise that of the instance ``flux_handle``
    is connected to (default: ``Flux()``). No limit gives ``math.inf``; an
    expired limit, or a job that has stopped running, gives 0.

    Raises:
        OSError: the job is unknown or has not started, or the instance
            cannot tell its expiration.
    """
    handle = Flux() if flux_handle is None else flux_handle
    text = os.environ.get("FLUX_JOB_ID")
    expiration = _job_expiration(handle, text) if text else _instance_expiration(handle)
    if expiration == 0.0:
        return math.inf
    return max(expiration - time.time(), 0.0)
