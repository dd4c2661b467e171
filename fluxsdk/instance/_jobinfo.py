"""job-info and job-list: reading jobs, their eventlogs and listings.

Serves ``job-info.eventlog-watch`` (streaming), ``job-info.eventlog-watch-cancel``,
``job-info.lookup``, ``job-list.list``, ``job-list.list-id``,
``job-list.list-attrs`` and ``job-list.job-stats`` with flux-core's payloads.
A watch sends the eventlog so far, then each new entry once it is durable, and
ends with ENODATA when the log is complete: the main eventlog at ``clean``, the
exec eventlog at ``done``, the output eventlog when the job is inactive. As in
flux, a watch of a guest eventlog (``guest.*``, written once the job starts)
waits for the job to start, and ends with ENODATA, without entries, if it
never does.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from fluxsdk.instance._broker import Broker, Connection, Request, RequestError
from fluxsdk.instance._job import Job, State
from fluxsdk.instance._jobmanager import JobManager
from fluxsdk.instance._listmatch import compile_constraint
from fluxsdk.instance._store import Store

__all__ = ["JobInfoService"]

FLUX_JOB_LOOKUP_JSON_DECODE = 1
FLUX_JOB_LOOKUP_CURRENT = 2
_PATHS = ("eventlog", "guest.output", "guest.exec.eventlog")
# The entry that completes an eventlog (the others end when the job is inactive).
_LAST_ENTRY = {"eventlog": "clean", "guest.exec.eventlog": "done"}
# The most attrs (job-list) or keys (job-info.lookup) one request may name.
MAX_ATTRS = 1024
_LIST_ATTRS_ALL = (
    "id",
    "userid",
    "urgency",
    "priority",
    "t_submit",
    "t_depend",
    "t_priority",
    "t_sched",
    "t_run",
    "t_cleanup",
    "t_inactive",
    "state",
    "name",
    "cwd",
    "queue",
    "project",
    "bank",
    "ntasks",
    "ncores",
    "duration",
    "nnodes",
    "ranks",
    "nodelist",
    "success",
    "exception_occurred",
    "exception_type",
    "exception_severity",
    "exception_note",
    "result",
    "expiration",
    "annotations",
    "waitstatus",
    "dependencies",
)


class _Watch:
    """One client's eventlog-watch: its request and how to stop it."""

    def __init__(self, service: JobInfoService, request: Request, jobid: int, path: str) -> None:
        self.service = service
        self.request = request
        self.jobid = jobid
        self.path = path
        self.active = True

    def send(self, entry: str) -> None:
        if not self.active:
            return
        self.request.respond({"event": entry})
        last = _LAST_ENTRY.get(self.path)
        if last is not None and _entry_name(entry) == last:
            self.end()

    def end(self, errnum: int = errno.ENODATA, errstr: str | None = None) -> None:
        if self.active:
            self.active = False
            self.service.store.unwatch(self.jobid, self.path, self.send)
            self.request.error(errnum, errstr)
            self.service._forget(self)


def _entry_name(entry: str) -> str:
    # Cheaper than decoding: names come right after the timestamp.
    start = entry.find('"name":"')
    if start < 0:
        return ""
    start += 8
    return entry[start : entry.find('"', start)]


class JobInfoService:
    """Eventlog watches, lookups and job listings."""

    def __init__(self, broker: Broker, store: Store, manager: JobManager) -> None:
        self.broker = broker
        self.store = store
        self.manager = manager
        self._watches: dict[tuple[Connection, int], _Watch] = {}
        self._by_job: dict[int, list[_Watch]] = {}
        # Watches of guest eventlogs waiting for their job to start.
        self._waiting_start: dict[int, list[_Watch]] = {}
        manager.inactive_hooks.append(self._job_inactive)
        # Inactive jobs purged since the instance started (job-list's inactive_purged).
        self.purged = 0
        manager.purge_hooks.append(self._count_purge)
        manager.event_hooks.append(self._job_event)
        for topic, handler in (
            ("job-info.eventlog-watch", self._watch),
            ("job-info.eventlog-watch-cancel", self._watch_cancel),
            ("job-info.lookup", self._lookup),
            ("job-list.list", self._list),
            ("job-list.list-id", self._list_id),
            ("job-list.list-attrs", self._list_attrs),
            ("job-list.job-stats", self._job_stats),
        ):
            broker.register(topic, handler)

    def _job(self, request: Request, unknown: str | None = None) -> Job:
        jobid = request.payload_get("id", int)
        job = self.manager.jobs.get(jobid)
        if job is None:
            raise RequestError(errno.ENOENT, unknown)
        if job.userid != request.userid and request.userid != self.broker.owner:
            raise RequestError(errno.EPERM, "guests may only read their own jobs")
        return job

    # -- eventlog-watch --------------------------------------------------------------

    def _watch(self, request: Request) -> None:
        if not request.streaming:
            raise RequestError(
                errno.EPROTO, "eventlog-watch request rejected without streaming RPC flag"
            )
        job = self._job(request)
        path = request.payload_get("path", str)
        request.payload_get("flags", int, 0)
        guest = path.startswith("guest.")
        if not guest and path not in _PATHS:
            raise RequestError(errno.ENOENT, f"{path}: key not found")
        watch = _Watch(self, request, job.id, path)
        key = (request.conn, request.matchtag)
        if key not in self._watches and not any(k[0] is request.conn for k in self._watches):
            request.conn.on_close(self._connection_closed)
        self._watches[key] = watch
        self._by_job.setdefault(job.id, []).append(watch)
        if not guest:
            self._attach(watch, job)
        elif job.started:
            self._attach_guest(watch, job)
        elif job.state == State.INACTIVE:
            watch.end()  # it never started: no guest eventlog will ever be written
        else:
            self._waiting_start.setdefault(job.id, []).append(watch)

    def _attach_guest(self, watch: _Watch, job: Job) -> None:
        # A started job's guest eventlogs were written before its `start` event.
        if watch.path in _PATHS and self.store.eventlog_exists(job.id, watch.path):
            self._attach(watch, job)
        else:
            watch.end(errno.ENOENT, f"{watch.path}: key not found")

    def _attach(self, watch: _Watch, job: Job) -> None:
        for entry in self.store.watch(job.id, watch.path, watch.send):
            watch.send(entry)
        # A guest log is complete once the job is inactive (nothing more is written).
        if watch.active and watch.path != "eventlog" and job.state == State.INACTIVE:
            self.store.after_commit(watch.end)
            self.broker.request_flush()

    def _job_event(self, job: Job, name: str, context: dict[str, Any] | None) -> None:
        if name == "start" and job.id in self._waiting_start:
            for watch in self._waiting_start.pop(job.id):
                if watch.active:
                    self._attach_guest(watch, job)

    def _job_inactive(self, job: Job) -> None:
        for watch in self._waiting_start.pop(job.id, []):
            if watch.active:
                watch.end()  # the job never started
        for watch in list(self._by_job.get(job.id, [])):
            if watch.path != "eventlog" and watch.active:
                # End after the last entries are committed and sent.
                self.store.after_commit(watch.end)

    def _watch_cancel(self, request: Request) -> None:
        matchtag = request.payload_get("matchtag", int)
        watch = self._watches.get((request.conn, matchtag))
        if watch is not None:
            watch.end()

    def _forget(self, watch: _Watch) -> None:
        self._watches.pop((watch.request.conn, watch.request.matchtag), None)
        watches = self._by_job.get(watch.jobid)
        if watches is not None and watch in watches:
            watches.remove(watch)
            if not watches:
                del self._by_job[watch.jobid]

    def _connection_closed(self, conn: Connection) -> None:
        for key in [k for k in self._watches if k[0] is conn]:
            watch = self._watches[key]
            watch.active = False
            self.store.unwatch(watch.jobid, watch.path, watch.send)
            self._forget(watch)

    # -- lookup ----------------------------------------------------------------------

    def _lookup(self, request: Request) -> None:
        job = self._job(request, "invalid job id")
        keys = request.payload_get("keys", list)
        if len(keys) > MAX_ATTRS:
            raise RequestError(
                errno.EINVAL, f"too many keys ({len(keys)}): at most {MAX_ATTRS} per request"
            )
        flags = request.payload_get("flags", int, 0)
        if flags & ~(FLUX_JOB_LOOKUP_JSON_DECODE | FLUX_JOB_LOOKUP_CURRENT):
            raise RequestError(errno.EPROTO, "lookup request rejected with invalid flag")
        out: dict[str, Any] = {"id": job.id}
        for key in keys:
            if not isinstance(key, str):
                raise RequestError(errno.EPROTO, "keys must be strings")
            if key in ("jobspec", "R", "J"):
                value = self.store.job_get(job.id, key)
                if value is None:
                    raise RequestError(errno.ENOENT, f"{key}: key not found")
                decode = flags & FLUX_JOB_LOOKUP_JSON_DECODE and key != "J"
                out[key] = json.loads(value) if decode else value
            elif key in _PATHS:
                if not self.store.eventlog_exists(job.id, key):
                    raise RequestError(errno.ENOENT, f"{key}: key not found")
                out[key] = "".join(self.store.eventlog(job.id, key))
            else:
                raise RequestError(errno.ENOENT, f"{key}: key not found")
        request.respond(out)

    # -- job-list --------------------------------------------------------------------

    def _list(self, request: Request) -> None:
        max_entries = request.payload_get("max_entries", int, 1000)
        attrs = _attrs(request.payload_get("attrs", list, ["all"]))
        since = request.payload_get("since", (int, float), 0.0)
        if max_entries < 0:
            raise RequestError(errno.EPROTO, "invalid payload: max_entries < 0 not allowed")
        if since < 0:
            raise RequestError(errno.EPROTO, "invalid payload: since < 0.0 not allowed")
        match = compile_constraint(request.payload_get("constraint", object, None))
        out = []
        for job in sorted(self.manager.jobs.values(), key=_list_order):
            # As flux: "since" drops inactive jobs that ended at or before it.
            if job.t_inactive is not None and job.t_inactive <= since:
                continue
            if not match(job):
                continue
            out.append(_select(job.info(), attrs))
            if max_entries and len(out) >= max_entries:
                break
        if not request.streaming:
            request.respond({"jobs": out})
            return
        # flux's streaming form: the first response carries the version.
        for index, info in enumerate(out):
            request.respond({"jobs": [info], "version": 1} if index == 0 else {"jobs": [info]})
        request.error(errno.ENODATA)

    def _list_id(self, request: Request) -> None:
        job = self._job(request)
        attrs = _attrs(request.payload_get("attrs", list, ["all"]))
        request.respond({"job": _select(job.info(), attrs)})

    def _count_purge(self, jobid: int) -> None:
        self.purged += 1

    def _list_attrs(self, request: Request) -> None:
        # What a listing may ask for: every attribute but the always-present id, and "all".
        request.respond({"attrs": [a for a in _LIST_ATTRS_ALL if a != "id"] + ["all"]})

    def _job_stats(self, request: Request) -> None:
        """Counts of jobs by state and by how they ended, overall and per named queue."""
        total = _JobStats()
        queues: dict[str, _JobStats] = {}
        for job in self.manager.jobs.values():
            total.add(job)
            if job.queue is not None:
                queues.setdefault(job.queue, _JobStats()).add(job)
        total.inactive_purged = self.purged
        out = total.encode()
        out["queues"] = [dict(stats.encode(), name=name) for name, stats in queues.items()]
        request.respond(out)


_STAT_STATES = (
    ("depend", State.DEPEND),
    ("priority", State.PRIORITY),
    ("sched", State.SCHED),
    ("run", State.RUN),
    ("cleanup", State.CLEANUP),
    ("inactive", State.INACTIVE),
)


class _JobStats:
    """flux's job-list statistics: jobs per state; inactive ones by how they ended."""

    def __init__(self) -> None:
        self.states = dict.fromkeys([name for name, _ in _STAT_STATES], 0)
        self.total = 0
        self.ended = {"successful": 0, "failed": 0, "canceled": 0, "timeout": 0}
        self.inactive_purged = 0

    def add(self, job: Job) -> None:
        if job.state == State.NEW:
            return  # as flux: a job is counted once it is past NEW
        for name, bit in _STAT_STATES:
            if job.state == bit:
                self.states[name] += 1
        self.total += 1
        if job.state != State.INACTIVE:
            return
        if job.success:
            self.ended["successful"] += 1
        elif job.exception is not None and job.exception.get("type") in ("cancel", "timeout"):
            self.ended["canceled" if job.exception["type"] == "cancel" else "timeout"] += 1
        else:
            self.ended["failed"] += 1

    def encode(self) -> dict[str, Any]:
        return {
            "job_states": dict(self.states, total=self.total),
            **self.ended,
            "inactive_purged": self.inactive_purged,
        }


def _list_order(job: Job) -> tuple[int, float, float]:
    """flux's listing order: pending by priority, then running, then inactive, newest first."""
    if job.state & State.PENDING:
        return (0, -float(job.priority or 0), job.t_submit)
    if job.state & State.RUNNING:
        return (1, -(job.t_run or job.t_submit), 0.0)
    return (2, -(job.t_inactive or 0.0), 0.0)


def _attrs(attrs: list[Any]) -> frozenset[str] | None:
    if len(attrs) > MAX_ATTRS:
        raise RequestError(
            errno.EINVAL, f"too many attrs ({len(attrs)}): at most {MAX_ATTRS} per request"
        )
    for attr in attrs:
        if not isinstance(attr, str):
            raise RequestError(errno.EINVAL, "attr has no string value")
        if attr not in _LIST_ATTRS_ALL and attr != "all":
            raise RequestError(errno.EINVAL, f"{attr} is not a valid attribute")
    if "all" in attrs:
        return None
    return frozenset(attrs)


def _select(info: dict[str, Any], attrs: frozenset[str] | None) -> dict[str, Any]:
    if attrs is None:
        return info
    return {k: v for k, v in info.items() if k == "id" or k in attrs}
