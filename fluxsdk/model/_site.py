"""A site: one instance the model talks to (the connection's, or a pool's nested one).

A site bundles what every object on that instance shares: the handle, the
:class:`~fluxsdk.model._watcher.Watcher`, the classification of jobs into
model objects, and deletion (purge when the instance offers it, else the
registry's tombstones, see :mod:`fluxsdk.model._meta`).
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from fluxsdk.core import RPC, Flux
from fluxsdk.job import JobID, Jobspec, JobspecV1, submit_async
from fluxsdk.job.info import FLUX_JOB_STATE_INACTIVE
from fluxsdk.job.list import job_list
from fluxsdk.job.submit import FLUX_JOB_URGENCY_HOLD
from fluxsdk.model import _meta
from fluxsdk.model._meta import Listing
from fluxsdk.model._record import LIST_ATTRS, JobRecord
from fluxsdk.model._watcher import Watcher, stream_listing

__all__ = ["Site", "hold_jobspec"]

FLUX_JOB_LOOKUP_JSON_DECODE: Final = 1
# Pipelined jobspec lookups in flight at once when classifying jobs.
_LOOKUP_WINDOW: Final = 256


def hold_jobspec(name: str, meta: Mapping[str, Any]) -> JobspecV1:
    """The jobspec of a record that is only ever held: it describes, it never runs."""
    jobspec = JobspecV1.from_command(["true"], name=name, environment={})
    jobspec.setattr(f"user.{_meta.KEY}", dict(meta))
    return jobspec


@attrs.define
class Site:
    """The handle, watcher and bookkeeping of one instance."""

    handle: Flux
    watcher: Watcher
    pool: str | None = None
    """The uuid of the pool whose nested instance this is (None: the connection's)."""
    _meta: dict[int, dict[str, Any] | None] = attrs.field(factory=dict)
    _purge: bool = True  # until the instance says it has no job-manager.purge-id
    _live_registries: set[int] = attrs.field(factory=set)
    _ended_registries: list[JobRecord] | None = None
    _tombstones: tuple[int, set[int]] = (-1, set())

    @classmethod
    def open(cls, uri: str | None, pool: str | None = None, ready: bool = False) -> Site:
        """Connect to the instance at ``uri`` (None: ``$FLUX_URI`` or the default).

        With ``ready``, first wait until the instance runs its services (a Flux
        broker announces its URI while it is still starting).
        """
        handle = Flux(uri)
        site = cls(handle, Watcher(handle, registry_name=_meta.REGISTRY_NAME), pool)
        site.watcher.on_jobspec = site._learn_jobspec
        try:
            if ready:
                _wait_running(handle)
            if site.watcher.start():
                site.registries()  # read once now: live reads then need no request
        except BaseException:
            handle.close()
            raise
        return site

    def _learn_jobspec(self, jobid: int, jobspec: Mapping[str, Any]) -> None:
        # The journal sends each job's jobspec: no lookup is needed to classify it.
        self._meta[jobid] = _meta.model_meta(jobspec)

    def close(self) -> None:
        """Close the handle."""
        self.handle.close()

    # -- what jobs are -------------------------------------------------------------

    def meta(self, jobid: int) -> dict[str, Any] | None:
        """The model description in the jobspec of ``jobid`` (None: no model object).

        :raises OSError: from the lookup (ENOENT for an unknown job).
        """
        if jobid not in self._meta:
            self._load_meta([jobid])
        return self._meta.get(jobid)

    def remember(self, jobid: int, jobspec: Jobspec) -> None:
        """Keep the description of a job this process submitted (no lookup needed)."""
        self._meta[jobid] = _meta.model_meta(jobspec.jobspec)

    def _load_meta(self, jobids: Iterable[int]) -> None:
        # Jobspecs never change, so each is read once per site.
        pending = [j for j in jobids if j not in self._meta]
        for start in range(0, len(pending), _LOOKUP_WINDOW):
            window = pending[start : start + _LOOKUP_WINDOW]
            rpcs = [
                self.handle.rpc(
                    "job-info.lookup",
                    {"id": j, "keys": ["jobspec"], "flags": FLUX_JOB_LOOKUP_JSON_DECODE},
                )
                for j in window
            ]
            for jobid, rpc in zip(window, rpcs, strict=True):
                try:
                    self._meta[jobid] = _meta.model_meta(rpc.get()["jobspec"])
                except (FileNotFoundError, PermissionError):  # gone, or not ours
                    self._meta[jobid] = None

    def classify(self, records: Sequence[JobRecord]) -> list[Listing | None]:
        """The listing of each record: what model object it is, if any.

        Memos answer for most jobs; the others' jobspecs are read, pipelined,
        once per site. Deleted objects (memo or registry) come back deleted.
        """
        unknown = [r.id for r in records if _meta.KEY not in r.memo and r.id not in self._meta]
        if unknown:
            self._load_meta(unknown)
        # Only ended jobs can have tombstones (active ones carry a "deleted" memo).
        tombstones = self.tombstones() if any(r.final for r in records) else set()
        out: list[Listing | None] = []
        for record in records:
            listing = _meta.listing_of(record.memo, self._meta.get(record.id))
            if listing is not None and record.id in tombstones:
                listing = attrs.evolve(listing, deleted=True)
            out.append(listing)
        return out

    def listed(self, record: JobRecord) -> Listing | None:
        """The listing of one record (see :meth:`classify`)."""
        return self.classify([record])[0]

    # -- deletion --------------------------------------------------------------------

    def registries(self) -> list[JobRecord]:
        """The registry records of this instance, oldest first.

        Registries are held jobs, so the watcher's active records show them. One
        cancelled outside the model still holds its tombstones: ended ones are
        listed once, and again whenever a registry known active disappears.
        """
        active = [r for r in self.watcher.active_records() if r.name == _meta.REGISTRY_NAME]
        ids = {int(r.id) for r in active}
        if self._ended_registries is not None and self.watcher.live:
            # The journal showed each registry that ended since: its record is kept.
            for jobid in self._live_registries - ids:
                record = self.watcher.record(jobid)
                if record is not None and record.final:
                    self._ended_registries.append(record)
                    self._live_registries.discard(jobid)
        if self._ended_registries is None or not self._live_registries <= ids:
            rpc = job_list(
                self.handle,
                max_entries=0,
                attrs=LIST_ATTRS,
                states=FLUX_JOB_STATE_INACTIVE,
                name=_meta.REGISTRY_NAME,
            )
            self._ended_registries = [JobRecord.from_listing(e) for e in stream_listing(rpc)]
        self._live_registries = ids
        return sorted([*active, *self._ended_registries], key=lambda r: r.t_submit)

    def tombstones(self) -> set[int]:
        """Inactive jobs deleted without purge (as of the watcher's last refresh)."""
        # Read once per refresh, or (live) once per change of a registry.
        version = self.watcher.refreshes + self.watcher.registry_changes
        if self._tombstones[0] != version:
            prefix = _meta.TOMBSTONE_PREFIX
            found = {
                int(key[len(prefix) :])
                for registry in self.registries()
                for key in registry.memo
                if key.startswith(prefix)
            }
            self._tombstones = (version, found)
        return self._tombstones[1]

    def memo(self, jobid: int, memo: Mapping[str, Any]) -> RPC:
        """Post memos on an active job (``job-manager.memo``), without waiting."""
        return self.handle.rpc("job-manager.memo", {"id": int(jobid), "memo": dict(memo)})

    def cancel(self, jobid: int, note: str) -> RPC:
        """Raise a cancel exception on an active job, without waiting."""
        payload = {"id": int(jobid), "type": "cancel", "severity": 0, "note": note}
        return self.handle.rpc("job-manager.raise", payload)

    def remove(self, records: Iterable[JobRecord], note: str) -> None:
        """Delete jobs for good: active ones are marked deleted and cancelled, inactive
        ones purged (``job-manager.purge-id``) or, where the instance cannot purge,
        recorded in the registry."""
        records = list(records)
        now = time.time()
        active = [r for r in records if not r.final]
        inactive: list[int] = [r.id for r in records if r.final]
        # Marking first: a job that ends meanwhile still reads as deleted.
        marks = [(r.id, self.memo(r.id, {_meta.DELETED: now})) for r in active]
        cancels = [self.cancel(r.id, note) for r in active]
        for jobid, rpc in marks:
            try:
                rpc.get()
            except FileNotFoundError:  # it ended before the memo: a tombstone then
                inactive.append(jobid)
        for rpc in cancels:
            _ignore_inactive(rpc)
        if inactive:
            self._purge_or_bury(inactive, now)
        for record in records:
            self.watcher.forget(record.id)

    def _purge_or_bury(self, jobids: list[int], now: float) -> None:
        if self._purge:
            rpcs = [
                self.handle.rpc("job-manager.purge-id", {"id": int(j), "force": 1}) for j in jobids
            ]
            try:
                for rpc in rpcs:
                    rpc.get()
                return
            except OSError as exc:
                if exc.errno != errno.ENOSYS:
                    raise
                self._purge = False
        registry = self._registry()
        self.memo(registry, {f"{_meta.TOMBSTONE_PREFIX}{int(j)}": now for j in jobids}).get()
        self.watcher.refresh()  # the registry's memo is where others read tombstones

    def _registry(self) -> JobID:
        """The id of this site's registry, created on first use."""
        self.watcher.refresh()
        live = [r for r in self.registries() if not r.final]
        if live:
            return live[0].id
        spec = hold_jobspec(_meta.REGISTRY_NAME, {"kind": "registry", "version": _meta.VERSION})
        jobid = submit_async(self.handle, spec, urgency=FLUX_JOB_URGENCY_HOLD).get_id()
        self.remember(jobid, spec)
        self.memo(jobid, {_meta.KEY: _meta.memo_listing("registry", None, ())}).get()
        self.watcher.track(jobid)
        return jobid


def _wait_running(handle: Flux) -> None:
    """Wait until a Flux broker is in its RUN state (``state-machine.wait``); an
    instance without a state machine (fluxsdk's) runs once it takes connections."""
    try:
        handle.rpc("state-machine.wait").get()
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise


def _ignore_inactive(rpc: RPC) -> None:
    """Wait for a cancel; a job that already ended is fine."""
    with contextlib.suppress(FileNotFoundError):
        rpc.get()
