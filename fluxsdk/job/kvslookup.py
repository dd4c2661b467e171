"""Reading a job's records (jobspec, R, eventlogs...), as ``flux.job.kvslookup``.

* :func:`job_info_lookup` sends one ``job-info.lookup`` for some keys of one job.
* :func:`job_kvs_lookup` reads keys of one job, blocking (None if there is no such job).
* :class:`JobKVSLookup` reads keys of several jobs; failures go to ``errors``.

By default ``jobspec`` and ``R`` are returned as they are *now* (with the
changes of ``jobspec-update``/``resource-update`` events applied) and decoded
into dicts; ``original=True`` returns the jobspec as submitted (from the
signed request ``J``), ``base=True`` the stored values without updates.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import json
from collections.abc import Iterable
from typing import Any

from fluxsdk.constants import FLUX_JOB_LOOKUP_CURRENT
from fluxsdk.core import RPC, Flux
from fluxsdk.future import WaitAllFuture
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobIDLike, _check_handle

__all__ = [
    "JobInfoLookupRPC",
    "JobKVSLookup",
    "JobKVSLookupFuture",
    "decode_special_data",
    "job_info_lookup",
    "job_kvs_lookup",
]


def _decode_field(data: dict[str, Any], key: str) -> None:
    with contextlib.suppress(ValueError, TypeError):  # not JSON text: left as it is
        data[key] = json.loads(data[key])


def decode_special_data(data: dict[str, Any]) -> None:
    """Decode ``jobspec`` and ``R`` of a lookup result into dicts, in place."""
    for key in ("jobspec", "R"):
        if key in data:
            _decode_field(data, key)


class JobInfoLookupRPC(RPC):
    """The future of :func:`job_info_lookup`."""

    jobid: JobID | None = None
    """The job asked about (for error messages)."""

    def get_decode(self) -> dict[str, Any]:
        """The result with ``jobspec`` and ``R`` decoded into dicts."""
        data: dict[str, Any] = dict(self.get())
        decode_special_data(data)
        return data


def job_info_lookup(
    flux_handle: Flux, jobid: JobIDLike, keys: Iterable[str] = ("jobspec",), flags: int = 0
) -> JobInfoLookupRPC:
    """Send ``job-info.lookup`` for ``keys`` of a job; the result maps each key to its text."""
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    payload = {"id": int(jobid), "keys": list(keys), "flags": flags}
    rpc = JobInfoLookupRPC(flux_handle, "job-info.lookup", payload)
    rpc.jobid = jobid
    return rpc


def _lookup_keys(keys: Iterable[str], original: bool) -> list[str]:
    """The keys to ask for: ``original`` reads the jobspec from ``J``."""
    out = list(keys)
    if original and "jobspec" in out:
        out.remove("jobspec")
        if "J" not in out:
            out.append("J")
    return out


def _signed_payload(signed: str) -> str:
    """The jobspec inside a signed request ``HEADER.PAYLOAD.SIGNATURE`` (not verified)."""
    parts = signed.split(".")
    if len(parts) != 3:
        raise OSError(errno.EPROTO, "J is not a signed request (HEADER.PAYLOAD.SIGNATURE)")
    try:
        return base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OSError(errno.EPROTO, "J's payload is not base64 UTF-8 text") from None


def _finish(data: dict[str, Any], keys: list[str], decode: bool, original: bool) -> None:
    if original and "jobspec" in keys:
        data["jobspec"] = _signed_payload(data["J"])
        if decode:
            _decode_field(data, "jobspec")
        if "J" not in keys:
            data.pop("J")


def job_kvs_lookup(
    flux_handle: Flux,
    jobid: JobIDLike,
    keys: Iterable[str] = ("jobspec",),
    decode: bool = True,
    original: bool = False,
    base: bool = False,
) -> dict[str, Any] | None:
    """Read ``keys`` of a job; None if there is no such job (or key).

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        jobid: the job.
        keys: what to read: ``jobspec``, ``R``, ``J``, ``eventlog``,
            ``guest.exec.eventlog``, ``guest.output``.
        decode: decode ``jobspec`` and ``R`` into dicts.
        original: ``jobspec`` as submitted, not as updated since.
        base: ``jobspec`` and ``R`` as stored, without updates applied.
    """
    keys = list(keys)
    rpc = job_info_lookup(
        flux_handle, jobid, _lookup_keys(keys, original), 0 if base else FLUX_JOB_LOOKUP_CURRENT
    )
    try:
        data = rpc.get_decode() if decode else dict(rpc.get())
    except FileNotFoundError:
        return None
    _finish(data, keys, decode, original)
    return data


class JobKVSLookupFuture(WaitAllFuture):
    """A future fulfilled once all its :class:`JobInfoLookupRPC` children are.

    :meth:`get` / :meth:`get_decode` return the results of the lookups that
    succeeded; messages for the others are collected in :attr:`errors`.
    """

    def __init__(self, flux_handle: Flux | None = None) -> None:
        super().__init__(flux_handle=flux_handle)
        self.errors: list[str] = []

    def _results(self, decode: bool) -> list[dict[str, Any]]:
        self.wait_for()
        out = []
        for child in self.children:
            try:
                out.append(child.get_decode() if decode else dict(child.get()))
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    orig = child.jobid.orig if child.jobid is not None else "?"
                    self.errors.append(f"JobID {orig} unknown")
                else:
                    self.errors.append(f"rpc: {exc.strerror}")
        return out

    def get(self) -> list[dict[str, Any]]:
        """Block until every lookup answered; the results, undecoded."""
        return self._results(False)

    def get_decode(self) -> list[dict[str, Any]]:
        """Like :meth:`get`, with ``jobspec`` and ``R`` decoded into dicts."""
        return self._results(True)


class JobKVSLookup:
    """Read the same keys of several jobs (see :func:`job_kvs_lookup` for the options).

    :meth:`data` blocks and returns one dict per job found; :attr:`errors`
    then names the jobs that could not be read.
    """

    def __init__(
        self,
        flux_handle: Flux,
        ids: Iterable[JobIDLike] = (),
        keys: Iterable[str] = ("jobspec",),
        decode: bool = True,
        original: bool = False,
        base: bool = False,
    ) -> None:
        self.handle = flux_handle
        self.keys = list(keys)
        self.keyslookup = _lookup_keys(self.keys, original)
        self.ids = [JobID(jobid) for jobid in ids]
        self.decode = decode
        self.original = original
        self.base = base
        self.errors: list[str] = []

    def fetch_data(self) -> JobKVSLookupFuture:
        """Start the lookups; the returned future gives their results."""
        flags = 0 if self.base else FLUX_JOB_LOOKUP_CURRENT
        future = JobKVSLookupFuture(self.handle)
        for jobid in self.ids:
            future.push(job_info_lookup(self.handle, jobid, self.keyslookup, flags))
        return future

    def data(self) -> list[dict[str, Any]]:
        """Read every job's keys, blocking; see :attr:`errors` for the failures."""
        future = self.fetch_data()
        data = future.get_decode() if self.decode else future.get()
        self.errors = future.errors
        for job_data in data:
            _finish(job_data, self.keys, self.decode, self.original)
        return data
