"""Pool: a long-lived allocation that tasks run in, realised as a nested instance.

A pool is a flux job of the connection's instance built with
``JobspecV1.from_nest_command``: its allocation runs a nested fluxsdk
instance, which announces its URI in a ``uri`` memo once it starts. Tasks
of the pool (and of jobs in it) are submitted to that nested instance and
scheduled there. :meth:`Pool.close` cancels the pool's job, which stops the
nested instance and whatever still runs in it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from fluxsdk.errors import InvalidInputError
from fluxsdk.job import JobID, JobspecV1, event_watch_async
from fluxsdk.model import _meta
from fluxsdk.model._errors import PoolNotReadyException, not_found, translate
from fluxsdk.model._live import LiveObject
from fluxsdk.model._meta import Kind
from fluxsdk.model._record import JobRecord
from fluxsdk.model._site import Site
from fluxsdk.model._snapshots import Error, PoolSnapshot
from fluxsdk.model._states import PoolState

if TYPE_CHECKING:
    from fluxsdk.model._connection import Connection
    from fluxsdk.model._task import Task

__all__ = ["POOL_PROGRAM", "Pool"]

POOL_PROGRAM: tuple[str, ...] = ("sleep", "inf")
"""The initial program of a pool's nested instance: it waits until the pool is
closed. (A broker with no program would start an interactive shell, which a job
cannot have: flux's broker then fails at once.)"""


@attrs.define(eq=False, repr=False)
class Pool(LiveObject[PoolSnapshot]):
    """A long-lived allocation (a nested instance) that tasks run in.

    Create pools with :meth:`Connection.create_pool`, find them with
    :meth:`Connection.pools` or :meth:`Connection.retrieve_pool`. A pool
    holds its resources until :meth:`close` or :meth:`delete`.
    """

    kind: ClassVar[Kind] = "pool"

    _instancecount: int = 1
    _cores: int = 1

    @classmethod
    def _create(
        cls,
        connection: Connection,
        name: str,
        instancecount: int,
        shortname: str | None,
        cores_per_instance: int,
    ) -> Pool:
        """A new, unsubmitted pool (see :meth:`Connection.create_pool`)."""
        pool = cls(connection, name)
        pool.instancecount = instancecount
        if cores_per_instance < 1:
            raise InvalidInputError(f"cores_per_instance must be >= 1, got {cores_per_instance}")
        pool._cores = cores_per_instance
        if shortname is not None:
            pool.shortname = shortname
        return pool

    @classmethod
    def _listed(cls, connection: Connection, site: Site, record: JobRecord) -> Pool:
        """A pool found in a listing."""
        pool = cls(connection, record.name, described=False)
        pool._attach(site, record.id, record)
        record = pool._record or record
        listing = site.listed(record)
        pool._cache.put(pool._snapshot_of(record, listing.tags if listing else ()))
        return pool

    @classmethod
    def from_json(cls, connection: Connection, payload: Mapping[str, Any]) -> Pool:
        """A pool from the dictionary :meth:`to_json` returns (retrieved if it has a uuid)."""
        uuid = payload.get("uuid")
        if uuid:
            return connection.retrieve_pool(uuid)
        pool = cls._create(
            connection,
            str(payload.get("name", "")),
            int(payload.get("instanceCount", 1)),
            payload.get("shortname"),
            int(payload.get("coresPerInstance", 1)),
        )
        pool.tags = list(payload.get("tags") or [])
        return pool

    def to_json(self) -> dict[str, Any]:
        """The pool as a JSON-ready dictionary (Qarnot's key names)."""
        snapshot = self._cache.peek()
        return {
            "uuid": str(self._uuid) if self._uuid is not None else None,
            "name": self.name,
            "shortname": self.shortname,
            "instanceCount": self.instancecount,
            "coresPerInstance": self.cores_per_instance,
            "state": str(snapshot.state),
            "tags": list(self._tags) if self._uuid is None else list(snapshot.tags),
            "uri": snapshot.uri,
        }

    # -- description -------------------------------------------------------------------

    @property
    def instancecount(self) -> int:
        """How many slots the pool allocates. Can be set until submitted."""
        self._describe()
        return self._instancecount

    @instancecount.setter
    def instancecount(self, value: int) -> None:
        self._check_unsubmitted("instancecount")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"instancecount must be an int >= 1, got {value!r}")
        self._instancecount = value

    @property
    def cores_per_instance(self) -> int:
        """Cores per slot."""
        self._describe()
        return self._cores

    def _load(self, meta: Mapping[str, Any]) -> None:
        super()._load(meta)
        self._instancecount = int(meta.get("instancecount", 1))
        self._cores = int(meta.get("cores", 1))

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> PoolState:
        """The pool's state (a :class:`PoolState`)."""
        return self._view().state

    @property
    def uri(self) -> str | None:
        """The URI of the pool's nested instance while it runs (None otherwise)."""
        return self._view().uri

    @property
    def creation_date(self) -> datetime | None:
        """When the pool was submitted (UTC)."""
        return self._view().creation_date

    @property
    def state_transition_time(self) -> datetime | None:
        """When the pool entered its current state (UTC)."""
        return self._view().state_transition_time

    @property
    def errors(self) -> list[Error]:
        """Why the pool failed (empty unless it did)."""
        return list(self._view().errors)

    @property
    def tasks(self) -> list[Task]:
        """The tasks submitted to this pool (empty once its nested instance stopped)."""
        if self._uuid is None:
            return []
        site = self._connection._running_pool_site(self._uuid)
        return [] if site is None else list(self._connection._listed_tasks(site))

    def _unsubmitted(self) -> PoolSnapshot:
        return PoolSnapshot(PoolState.UnSubmitted)

    def _snapshot_of(self, record: JobRecord, tags: tuple[str, ...]) -> PoolSnapshot:
        closing = _meta.CLOSING in record.memo or _meta.DELETED in record.memo
        return PoolSnapshot.of(record, closing, tags)

    # -- lifecycle ---------------------------------------------------------------------

    def submit(self) -> None:
        """Submit the pool: its nested instance starts once resources are allocated."""
        if self._uuid is not None:
            return
        site = self._connection._root
        jobspec = JobspecV1.from_nest_command(
            list(POOL_PROGRAM),
            num_slots=self._instancecount,
            cores_per_slot=self._cores,
            environment=dict(os.environ),
            name=self.name,
        )
        meta = {
            "kind": "pool",
            "version": _meta.VERSION,
            "name": self.name,
            "shortname": self._shortname,
            "tags": list(self._tags),
            "instancecount": self._instancecount,
            "cores": self._cores,
        }
        jobspec.setattr(f"user.{_meta.KEY}", meta)
        try:
            jobid = self._connection._submit_async(site, jobspec).get_id()
        except OSError as exc:
            raise translate(exc, "pool", self.name, "submit") from None
        site.remember(jobid, jobspec)
        self._attach(site, jobid, None)
        site.watcher.track(jobid, submitted=time.time())
        # A pool that failed at once keeps its jobspec's description.
        with contextlib.suppress(FileNotFoundError):
            site.memo(jobid, {_meta.KEY: self._memo_listing(self._tags)}).get()
        self._cache.put(PoolSnapshot(PoolState.Submitted, tags=tuple(self._tags)))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the nested instance takes tasks; False if it did not in time
        (or the pool ended first).

        :raises MissingPoolException: the pool does not exist.
        """
        if self._uuid is None:
            return False
        return self._connection._ready_pool_site(self, timeout) is not None

    def _wait_for_uri(self, deadline: float | None) -> str | None:
        """Follow the pool job's eventlog until it announces its URI (or ends)."""
        site = self._require_site()
        if site.watcher.live:
            return self._wait_for_uri_live(deadline)
        watch = event_watch_async(site.handle, self._require_uuid())
        try:
            while True:
                self._cache.update(flushcache=True)
                snapshot = self._cache.peek()
                if snapshot.uri is not None or snapshot.state.rank >= PoolState.Closing.rank:
                    return snapshot.uri
                remaining = -1.0 if deadline is None else deadline - time.monotonic()
                if deadline is not None and remaining <= 0:
                    return None
                try:
                    watch.wait_for(remaining)
                except TimeoutError:
                    return None
                if watch.get_event() is None:
                    self._cache.update(flushcache=True)
                    return self._cache.peek().uri
        finally:
            watch.cancel()

    def _wait_for_uri_live(self, deadline: float | None) -> str | None:
        """_wait_for_uri() on the journal stream (the uri comes as a memo event)."""
        watcher = self._require_site().watcher
        while True:
            self.update()
            snapshot = self._cache.peek()
            if snapshot.uri is not None or snapshot.state.rank >= PoolState.Closing.rank:
                return snapshot.uri
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            if not watcher.wait_event(remaining) and not watcher.live:
                return self._wait_for_uri(deadline)

    async def states(self) -> AsyncIterator[PoolState]:
        """Each state the pool takes from now on, up to its final one (asyncio)."""
        async for state in self._states():
            yield PoolState(state)

    def close(self) -> None:
        """Stop the pool: its nested instance and the tasks still running in it end.

        :raises MissingPoolException: the pool does not exist.
        """
        uuid = self._require_uuid()
        if self._deleted:
            raise not_found("pool", uuid)
        site = self._require_site()
        self._connection._drop_pool_site(uuid)
        try:
            site.memo(uuid, {_meta.CLOSING: time.time()}).get()
            site.cancel(uuid, "pool closed").get()
        except FileNotFoundError:
            if site.watcher.fetch(uuid) is None:
                raise not_found("pool", uuid) from None
        except OSError as exc:
            raise translate(exc, "pool", uuid, "close") from None
        self._cache.expire()

    def delete(self, timeout: float | None = 60.0) -> None:
        """Close the pool (if it runs) and delete it from the instance; returns once
        it is gone (its nested instance stopped, its resources freed).

        :param timeout: how long to wait for the nested instance to stop (None: no
            limit); the pool is deleted anyway, and stops on its own.
        :raises MissingPoolException: the pool does not exist.
        :raises PoolNotReadyException: (a ``TimeoutError``) it had not stopped in time.
        """
        if self._uuid is None:
            self._deleted = True
            self._cache.put(PoolSnapshot(PoolState.Deleted))
            return
        site = self._require_site()
        record = site.watcher.fetch(self._uuid)
        if record is None or self._deleted:
            raise not_found("pool", self._uuid)
        self._connection._drop_pool_site(self._uuid)
        site.remove([record], "pool deleted")
        self._deleted = True
        self._put(PoolSnapshot(PoolState.Deleted, tags=self._cache.peek().tags))
        if not record.final:
            _wait_clean(site, self._uuid, timeout)


def _wait_clean(site: Site, jobid: JobID, timeout: float | None) -> None:
    """Wait until the job ``jobid`` is inactive (its ``clean`` event)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    watch = event_watch_async(site.handle, jobid)
    try:
        while True:
            remaining = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.001)
            watch.wait_for(remaining)
            event = watch.get_event()
            if event is None or event.name == "clean":
                return
    except FileNotFoundError:
        return  # purged: gone indeed
    except TimeoutError:
        raise PoolNotReadyException(
            f"pool {jobid} is deleted but its nested instance had not stopped "
            f"{timeout:g} s later; it stops on its own (or pass a longer timeout)"
        ) from None
    finally:
        watch.cancel()
