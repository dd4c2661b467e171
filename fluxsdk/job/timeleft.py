"""How long the current job (or the enclosing instance) has left, as ``flux.job.timeleft``."""

from __future__ import annotations

import errno
import math
import os
import time

from fluxsdk.core import Flux
from fluxsdk.errors import InvalidJobIDError
from fluxsdk.job._jobid import JobID
from fluxsdk.job.info import FLUX_JOB_STATE_RUN
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
    if int(job["state"]) != FLUX_JOB_STATE_RUN:
        # Only a running job has time left. For a pending job flux-core's C
        # function fails without an errno, which flux's Python binding
        # reports as 0.0 time left; fluxsdk answers the same.
        return -math.inf
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
    expired limit, or a job that is not running (pending or finished), gives
    0, as flux's binding answers.

    Raises:
        OSError: the job ID cannot be read or names no job, or the instance
            cannot tell its expiration.
    """
    handle = Flux() if flux_handle is None else flux_handle
    text = os.environ.get("FLUX_JOB_ID")
    expiration = _job_expiration(handle, text) if text else _instance_expiration(handle)
    if expiration == 0.0:
        return math.inf
    return max(expiration - time.time(), 0.0)
