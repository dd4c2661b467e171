"""A job's KVS directories, as ``flux.job.kvs``.

:func:`job_kvs` opens the directory where the instance keeps a job's records
(``eventlog``, ``jobspec``, ``J``, ``R``, ``guest``); :func:`job_kvs_guest`
the part the job shell writes (``exec.eventlog``, ``output``). Both return a
:class:`fluxsdk.kvs.KVSDir`.
"""

from __future__ import annotations

from fluxsdk.core import Flux
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobIDLike, _check_handle
from fluxsdk.kvs import KVSDir, get_dir

__all__ = ["job_kvs", "job_kvs_guest"]


def job_kvs(flux_handle: Flux, jobid: JobIDLike) -> KVSDir:
    """The KVS directory of job ``jobid`` (key ``job.<dothex>.``).

    Raises:
        FileNotFoundError: no such job.
    """
    _check_handle(flux_handle)
    return get_dir(flux_handle, JobID(jobid).kvs + ".")


def job_kvs_guest(flux_handle: Flux, jobid: JobIDLike) -> KVSDir:
    """The guest KVS directory of job ``jobid`` (``job.<dothex>.guest.``), which
    its job shell writes.

    Raises:
        FileNotFoundError: no such job, or it has not started.
    """
    _check_handle(flux_handle)
    return get_dir(flux_handle, JobID(jobid).kvs + ".guest.")
