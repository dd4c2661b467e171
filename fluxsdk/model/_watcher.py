"""The shared watcher: one per instance, keeping every live object's record fresh.

However many Task, Job and Pool objects a connection holds, a refresh is the
same two pipelined ``job-list.list`` requests:

* every active job of the user (job records are held jobs, so always here);
* every job that became inactive since the previous refresh (``since``),
  which catches each tracked task's final state exactly once.

So 10,000 live tasks cost two requests per refresh, not 10,000; and objects
refresh through the watcher at most once per ``update_cache_time``. Records
are merged so that a job's state never moves backwards, whatever order
responses arrive in.

The instance's time is read off the records themselves (the latest timestamp
seen): the next ``since`` starts there, minus a margin, so no job that ends
between two refreshes is missed.
"""

from __future__ import annotations

import errno
import math
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from fluxsdk.core import RPC, Flux
from fluxsdk.job.info import FLUX_JOB_STATE_ACTIVE
from fluxsdk.job.list import _listing_payload  # job_list() always streams; see _list()
from fluxsdk.model._record import LIST_ATTRS, JobRecord

__all__ = ["Watcher", "stream_listing"]

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
    """Job records of one instance, refreshed for every object at once."""

    _handle: Flux
    _records: dict[int, JobRecord] = attrs.field(factory=dict)
    _entries: dict[int, dict[str, Any]] = attrs.field(factory=dict)  # what each came from
    _watched: set[int] = attrs.field(factory=set)
    _tracked: set[int] = attrs.field(factory=set)
    _active: frozenset[int] = frozenset()
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
        self._active = frozenset(active)
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
            if jobid in self._tracked:
                self.refresh()
            else:
                self._lookup_missing([jobid])
        return self._records.get(jobid)

    def forget(self, jobid: int) -> None:
        """Drop ``jobid`` (it was deleted by this process)."""
        self._tracked.discard(jobid)
        self._drop(jobid)
        self._gone.add(jobid)
