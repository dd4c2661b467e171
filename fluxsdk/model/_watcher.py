"""The shared watcher: one per instance, keeping every live object's record current.

However many Task, Job and Pool objects a connection holds, their records
come from **one stream**: the instance's job journal
(``job-manager.events-journal``, flux's stream of every job's main events).
The watcher reads the active jobs' history once when it starts, then applies
each event as it arrives to the job's record (the same fields ``job-list``
reports, see :mod:`fluxsdk.model._journal_record`) and pushes the new record
to every object that watches the job. Reading what has arrived never sends a
request: :meth:`Watcher.sync` only takes in what the socket already holds.

Where no stream can be had (a guest of a multi-user Flux instance: the
journal is the owner's; an instance without one), records are *polled*
instead, at most once per ``update_cache_time``, with the same two pipelined
``job-list.list`` requests whatever the number of objects:

* every active job of the user (job records are held jobs, so always here);
* every job that became inactive since the previous refresh (``since``),
  which catches each tracked task's final state exactly once.

Records are merged so that a job's state never moves backwards, whatever
order answers arrive in.
"""

from __future__ import annotations

import errno
import math
import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Protocol

import attrs

from fluxsdk.core import RPC, ConnectionLostError, Flux
from fluxsdk.core._asyncio import aready
from fluxsdk.core._message import FLUX_RPC_STREAMING
from fluxsdk.job.info import FLUX_JOB_STATE_ACTIVE
from fluxsdk.job.journal import SENTINEL_ID
from fluxsdk.job.list import _listing_payload  # job_list() always streams; see _list()
from fluxsdk.model._journal_record import apply_event, new_entry
from fluxsdk.model._record import LIST_ATTRS, JobRecord

__all__ = ["Subscriber", "Watcher", "stream_listing"]

JOURNAL_TOPIC: Final = "job-manager.events-journal"
# Answered by the job manager after every journal event it sent before: a barrier.
_BARRIER_TOPIC: Final = "job-manager.stats-get"
# Errors that mean "no journal for this client" (a guest, an instance without one).
_NO_STREAM: Final = (errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EPROTO)


class Subscriber(Protocol):
    """An object the watcher pushes new records to."""

    def _pushed(self, record: JobRecord) -> None:
        """A new record of the watched job."""

    def _others_changed(self, records: list[JobRecord]) -> None:
        """(Dependent subscribers) the records of these jobs changed."""


# How far back each "since" query reaches, for clock steps on the instance.
_SINCE_MARGIN: Final = 1.0
# Before the instance's time is known, how far before a submission (client clock) to look.
_HINT_MARGIN: Final = 60.0


def stream_listing(rpc: RPC) -> Iterator[dict[str, Any]]:
    """The entries of a ``job-list.list`` as they arrive (streaming, or all at once)."""
    first = True
    while True:
        try:
            response = rpc.get()
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                return
            raise
        yield from response["jobs"]
        if first and not response.get("version"):
            return  # an old service answers once, without a version
        first = False
        rpc.reset()


@attrs.define
class Watcher:
    """Job records of one instance, kept current for every object at once."""

    _handle: Flux
    _journal: RPC | None = None
    _live: dict[int, dict[str, Any]] = attrs.field(factory=dict)  # entries kept by the journal
    _subscribers: dict[int, list[weakref.ref[Any]]] = attrs.field(factory=dict)
    _dependents: list[weakref.ref[Any]] = attrs.field(factory=list)  # pushed on any change
    on_jobspec: Callable[[int, Mapping[str, Any]], None] | None = None
    """Called with each job's (redacted) jobspec as the journal sends it."""
    version: int = 0
    """Bumped whenever the journal changed a record."""
    registry_changes: int = 0
    """Bumped whenever the journal changed a record named ``registry_name``."""
    registry_name: str = ""
    events: int = 0
    """How many journal events were applied."""
    _records: dict[int, JobRecord] = attrs.field(factory=dict)
    _entries: dict[int, dict[str, Any]] = attrs.field(factory=dict)  # what each came from
    _watched: set[int] = attrs.field(factory=set)
    _tracked: set[int] = attrs.field(factory=set)
    _active: set[int] = attrs.field(factory=set)
    _gone: set[int] = attrs.field(factory=set)
    _cursor: float | None = None
    _first_submit: float | None = None
    _refreshed_at: float = -math.inf
    refreshes: int = 0
    """How many refreshes ran (each is two requests, plus one per vanished job)."""

    @property
    def refreshed_at(self) -> float:
        """``time.monotonic()`` when the last refresh was sent."""
        return self._refreshed_at

    # -- the stream ------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Whether the journal stream is up (else records are polled)."""
        return self._journal is not None and self._handle._lost is None

    def start(self) -> bool:
        """Open the journal stream and read the active jobs' history; False if the
        instance will not stream to this client (then records are polled)."""
        rpc = self._handle.rpc(JOURNAL_TOPIC, {"full": False}, 0, FLUX_RPC_STREAMING)
        changed: set[int] = set()
        try:
            while True:
                response = rpc.get()
                rpc.reset()
                if response["id"] == SENTINEL_ID:
                    break
                self._apply(response, changed)
        except OSError as exc:
            if isinstance(exc, ConnectionLostError) or exc.errno not in _NO_STREAM:
                raise
            return False
        self._journal = rpc
        self._settle(changed)
        return True

    def sync(self) -> int:
        """Apply every journal event that has arrived (never blocks, sends nothing);
        returns how many responses were applied."""
        journal = self._journal
        if journal is None or not self.live:
            return 0
        self._handle._pump()
        if not journal.is_ready():
            return 0
        changed: set[int] = set()
        count = 0
        while journal.is_ready():
            try:
                response = journal.get()
            except OSError:
                # The stream ended (the instance stopped it, or the connection is
                # gone): fall back on polling, starting with a full refresh.
                self._journal = None
                self._refreshed_at = -math.inf
                break
            journal.reset()
            self._apply(response, changed)
            count += 1
        self._settle(changed)
        return count

    def barrier(self) -> None:
        """Make sure every event the instance posted before now has been applied
        (one round trip to the job manager, which answers after its journal)."""
        if self.live:
            try:
                self._handle.rpc(_BARRIER_TOPIC, {}).get()
            except OSError as exc:
                if isinstance(exc, ConnectionLostError):
                    raise
        self.sync()

    def catch_up(self, max_age: float) -> None:
        """Before a lookup (a retrieval, a listing): with the stream, apply every event
        posted until now (:meth:`barrier`: another connection may have seen an event
        this one has not received yet); without, refresh if older than ``max_age``."""
        if self.live:
            self.barrier()
        else:
            self.refresh(max_age)

    def wait_event(self, timeout: float | None) -> int:
        """Block until journal events arrive, ``timeout`` seconds pass, or the stream
        ends; apply what arrived and return how many responses that was (0: none)."""
        journal = self._journal
        if journal is None or not self.live:
            return 0
        try:
            journal.wait_for(-1.0 if timeout is None else max(timeout, 0.0))
        except TimeoutError:
            return 0
        except OSError as exc:
            if exc.errno != errno.ETIMEDOUT:
                raise
            return 0
        return self.sync()

    async def await_event(self) -> bool:
        """The asyncio twin of :meth:`wait_event` (no timeout: use asyncio's)."""
        journal = self._journal
        if journal is None or not self.live:
            return False
        await aready(journal)
        return self.sync() > 0

    @property
    def dependents(self) -> list[Any]:
        """The dependent subscribers still alive."""
        return [s for s in (ref() for ref in self._dependents) if s is not None]

    def subscribe(self, jobid: int | None, subscriber: Subscriber, dependent: bool = False) -> None:
        """Push ``jobid``'s new records to ``subscriber`` (held weakly); a ``dependent``
        subscriber is also told of every other job's change."""
        if jobid is not None:
            self._subscribers.setdefault(jobid, []).append(weakref.ref(subscriber))
        if dependent:
            self._dependents.append(weakref.ref(subscriber))

    def _apply(self, response: Mapping[str, Any], changed: set[int]) -> None:
        jobid = int(response["id"])
        jobspec = response.get("jobspec")
        entry = self._live.get(jobid)
        if entry is None:
            if not response["events"] or response["events"][0].get("name") != "submit":
                return  # a job forgotten here once it ended unwatched
            entry = self._live[jobid] = new_entry(jobid, jobspec)
        if jobspec is not None and self.on_jobspec is not None:
            self.on_jobspec(jobid, jobspec)
        for event in response["events"]:
            apply_event(entry, event["name"], event["timestamp"], event.get("context"))
            self.events += 1
        changed.add(jobid)

    def _settle(self, changed: set[int]) -> None:
        """Turn changed entries into records and push them to their subscribers."""
        if not changed:
            return
        self.version += 1
        pushes: list[tuple[weakref.ref[Any], JobRecord]] = []
        for jobid in changed:
            entry = self._live[jobid]
            record = JobRecord.from_listing(entry)
            self._records[jobid] = record
            self._entries.pop(jobid, None)
            if record.name == self.registry_name:
                self.registry_changes += 1
            refs = self._subscribers.get(jobid)
            if record.final:
                self._active.discard(jobid)
                self._tracked.discard(jobid)
                del self._live[jobid]
                if not refs and jobid not in self._watched and record.name != self.registry_name:
                    self._records.pop(jobid, None)
            else:
                self._active.add(jobid)
            if refs:
                pushes.extend((ref, record) for ref in refs)
        for ref, record in pushes:
            subscriber = ref()
            if subscriber is not None:
                subscriber._pushed(record)
        if self._dependents:
            records = [self._records[jobid] for jobid in changed if jobid in self._records]
            alive = []
            for ref in self._dependents:
                subscriber = ref()
                if subscriber is not None:
                    alive.append(ref)
                    subscriber._others_changed(records)
            self._dependents = alive

    # -- records ---------------------------------------------------------------------

    def track(self, jobid: int, submitted: float | None = None) -> None:
        """Keep the record of ``jobid`` fresh until the job is inactive.

        ``submitted`` (``time.time()`` when this process submitted the job)
        lets the first refresh find jobs that ended before it with one query.
        """
        self._watched.add(jobid)
        record = self._records.get(jobid)
        if record is None or not record.final:
            self._tracked.add(jobid)
        if submitted is not None and self._cursor is None:
            self._first_submit = min(self._first_submit or submitted, submitted)

    def record(self, jobid: int) -> JobRecord | None:
        """The latest record of ``jobid``, or None if unknown (or gone)."""
        return self._records.get(jobid)

    def is_gone(self, jobid: int) -> bool:
        """Whether the instance said it has no job ``jobid`` (it was purged)."""
        return jobid in self._gone

    def active_records(self) -> Iterator[JobRecord]:
        """The records of every job that was active at the last refresh."""
        for jobid in self._active:
            record = self._records.get(jobid)
            if record is not None and not record.final:
                yield record

    def ingest(self, entry: dict[str, Any] | JobRecord) -> JobRecord:
        """Merge a job-list entry (or record); returns the record now held."""
        jobid = int(entry.id if isinstance(entry, JobRecord) else entry["id"])
        if jobid in self._live:
            return self._records[jobid]  # the journal's record is the current one
        if isinstance(entry, JobRecord):
            record = entry
        else:
            held = self._records.get(entry["id"])
            if held is not None and self._entries.get(held.id) == entry:
                return held  # unchanged since the last refresh: most jobs, most times
            record = JobRecord.from_listing(entry)
        held = self._records.get(record.id)
        if held is None or record.newer_than(held):
            self._records[record.id] = record
            if not isinstance(entry, JobRecord):
                self._entries[record.id] = entry
            held = record
        return held

    def _drop(self, jobid: int) -> None:
        self._records.pop(jobid, None)
        self._entries.pop(jobid, None)

    def refresh(self, max_age: float = 0.0) -> None:
        """Bring every record up to date unless the last refresh is under ``max_age`` s old."""
        if self.live:
            self.sync()
            if self.live:
                return
        if time.monotonic() - self._refreshed_at < max_age:
            return
        self._refreshed_at = time.monotonic()
        self.refreshes += 1
        active_rpc = self._list(states=FLUX_JOB_STATE_ACTIVE, since=0.0)
        cursor = self._cursor
        if cursor is None and self._first_submit is not None:
            cursor = self._first_submit - _HINT_MARGIN
        ended_rpc = None
        if cursor is not None and self._tracked:
            ended_rpc = self._list(states=0, since=cursor)
        latest = cursor or 0.0
        active: set[int] = set()
        for entry in stream_listing(active_rpc):
            record = self.ingest(entry)
            active.add(record.id)
            latest = max(latest, record.latest_timestamp)
        # Records of jobs no object watches are kept only while they are active.
        for jobid in self._active - active - self._watched:
            self._drop(jobid)
        self._active = active
        seen = set(active)
        if ended_rpc is not None:
            for entry in stream_listing(ended_rpc):
                if entry["id"] in self._tracked:
                    record = self.ingest(entry)
                    seen.add(record.id)
                latest = max(latest, float(entry.get("t_inactive") or 0.0))
        latest = max(latest, self._lookup_missing(self._tracked - seen))
        if latest:
            self._cursor = max(self._cursor or 0.0, latest - _SINCE_MARGIN)
            self._first_submit = None
        self._tracked = {j for j in self._tracked if not self._final(j)}

    def _list(self, states: int, since: float) -> RPC:
        """One ``job-list.list`` request answered in one response: a refresh needs the
        whole list anyway, and one message decodes much faster than one per job."""
        payload = _listing_payload(0, LIST_ATTRS, os.getuid(), states, 0, since, None, None, None)
        return self._handle.rpc("job-list.list", payload)

    def _final(self, jobid: int) -> bool:
        record = self._records.get(jobid)
        return record is None or record.final

    def _lookup_missing(self, jobids: Iterable[int]) -> float:
        """Ask for tracked jobs no listing showed (the first refresh, or purged jobs)."""
        rpcs: list[tuple[int, RPC]] = [
            (jobid, self._handle.rpc("job-list.list-id", {"id": jobid, "attrs": list(LIST_ATTRS)}))
            for jobid in jobids
        ]
        latest = 0.0
        for jobid, rpc in rpcs:
            try:
                record = self.ingest(rpc.get()["job"])
            except FileNotFoundError:
                self._gone.add(jobid)
                self._tracked.discard(jobid)
                self._drop(jobid)
                continue
            latest = max(latest, record.latest_timestamp)
        return latest

    def fetch(self, jobid: int) -> JobRecord | None:
        """The record of ``jobid``, asking the instance if the watcher has none yet.

        A tracked job submitted since the last refresh triggers a refresh, which
        brings every such job at once; any other job is asked for alone.
        """
        if jobid not in self._records and jobid not in self._gone:
            self.sync()  # a job this process just submitted: its events have arrived
        if jobid not in self._records and jobid not in self._gone:
            if jobid in self._tracked and not self.live:
                self.refresh()
            else:
                self._lookup_missing([jobid])
        return self._records.get(jobid)

    def forget(self, jobid: int) -> None:
        """Drop ``jobid`` (it was deleted by this process)."""
        self._tracked.discard(jobid)
        self._drop(jobid)
        self._gone.add(jobid)
