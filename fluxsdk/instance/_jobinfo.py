"""job-info and job-list: reading jobs, their eventlogs and listings.

Serves ``job-info.eventlog-watch`` (streaming), ``job-info.eventlog-watch-cancel``,
``job-info.lookup``, ``job-list.list`` and ``job-list.list-id`` with flux-core's
payloads. A watch sends the eventlog so far, then each new entry once it is
durable, and ends with ENODATA when the log is complete: the main eventlog at
``clean``, the output eventlog when the job is inactive.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from typing import Any

from fluxsdk.instance._broker import Broker, Connection, Request, RequestError
from fluxsdk.instance._job import Job, State
from fluxsdk.instance._jobmanager import JobManager
from fluxsdk.instance._store import Store

__all__ = ["JobInfoService"]

FLUX_JOB_EVENT_WATCH_WAITCREATE = 1
FLUX_JOB_LOOKUP_JSON_DECODE = 1
FLUX_JOB_LOOKUP_CURRENT = 2
_PATHS = ("eventlog", "guest.output")
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
        if self.path == "eventlog" and _entry_name(entry) == "clean":
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
        self._waiting_create: dict[int, list[_Watch]] = {}
        manager.inactive_hooks.append(self._job_inactive)
        manager.event_hooks.append(self._job_event)
        for topic, handler in (
            ("job-info.eventlog-watch", self._watch),
            ("job-info.eventlog-watch-cancel", self._watch_cancel),
            ("job-info.lookup", self._lookup),
            ("job-list.list", self._list),
            ("job-list.list-id", self._list_id),
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
        request.payload_get("flags", int, 0)  # WAITCREATE: guest logs are always waited for
        if path not in _PATHS:
            # flux watches that KVS key of the job, which does not exist
            raise RequestError(errno.ENOENT, f"{path}: no such eventlog")
        watch = _Watch(self, request, job.id, path)
        key = (request.conn, request.matchtag)
        if key not in self._watches and not any(k[0] is request.conn for k in self._watches):
            request.conn.on_close(self._connection_closed)
        self._watches[key] = watch
        self._by_job.setdefault(job.id, []).append(watch)
        if path == "guest.output" and not self.store.eventlog_exists(job.id, path):
            # As flux's job-info: a guest eventlog is waited for until the job
            # starts, whatever the flags; a job that never starts ends the
            # stream empty (ENODATA).
            if job.state == State.INACTIVE:
                watch.end()
                return
            self._waiting_create.setdefault(job.id, []).append(watch)
            return
        self._attach(watch, job)

    def _attach(self, watch: _Watch, job: Job) -> None:
        for entry in self.store.watch(job.id, watch.path, watch.send):
            watch.send(entry)
        # An output log is complete once the job is inactive (nothing more is written).
        if watch.active and watch.path == "guest.output" and job.state == State.INACTIVE:
            self.store.after_commit(watch.end)
            self.broker.request_flush()

    def _job_event(self, job: Job, name: str, context: dict[str, Any] | None) -> None:
        if name == "start" and job.id in self._waiting_create:
            # The output eventlog now exists (its header was written at start).
            for watch in self._waiting_create.pop(job.id):
                if watch.active:
                    self._attach(watch, job)

    def _job_inactive(self, job: Job) -> None:
        for watch in self._waiting_create.pop(job.id, []):
            if watch.active:
                if self.store.eventlog_exists(job.id, watch.path):
                    self._attach(watch, job)
                else:
                    watch.end()
        for watch in list(self._by_job.get(job.id, [])):
            if watch.path == "guest.output" and watch.active:
                # End after the last output entries are committed and sent.
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
        constraint = request.payload_get("constraint", (dict, type(None)), None) or {}
        match = _compile_constraint(constraint)
        out = []
        for job in sorted(self.manager.jobs.values(), key=_list_order):
            if since and (job.t_inactive is None or job.t_inactive <= since):
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


def _list_order(job: Job) -> tuple[int, float, float]:
    """flux's listing order: pending by priority, then running, then inactive, newest first."""
    if job.state & State.PENDING:
        return (0, -float(job.priority or 0), job.t_submit)
    if job.state & State.RUNNING:
        return (1, -(job.t_run or job.t_submit), 0.0)
    return (2, -(job.t_inactive or 0.0), 0.0)


def _attrs(attrs: list[Any]) -> tuple[str, ...] | None:
    if "all" in attrs:
        return None
    for attr in attrs:
        if not isinstance(attr, str):
            raise RequestError(errno.EPROTO, "attrs must be strings")
        if attr not in _LIST_ATTRS_ALL:
            raise RequestError(errno.EINVAL, f"{attr} is not a valid attribute")
    return tuple(attrs)


def _select(info: dict[str, Any], attrs: tuple[str, ...] | None) -> dict[str, Any]:
    if attrs is None:
        return info
    return {k: v for k, v in info.items() if k == "id" or k in attrs}


def _compile_constraint(constraint: dict[str, Any]) -> Callable[[Job], bool]:
    """RFC 31-style job-list constraints: and/or/not over states, results, userid, name, queue."""
    tests = [_compile_operator(op, args) for op, args in constraint.items()]
    return lambda job: all(test(job) for test in tests)


def _compile_operator(op: str, args: Any) -> Callable[[Job], bool]:
    if not isinstance(args, list):
        raise RequestError(errno.EPROTO, f"constraint {op!r} needs a list")
    if op in ("and", "or", "not"):
        subs = [_compile_constraint(a) for a in args]
        if op == "and":
            return lambda j: all(t(j) for t in subs)
        if op == "or":
            return lambda j: any(t(j) for t in subs)
        return lambda j: not all(t(j) for t in subs)
    if op == "states":
        states = sum(_state_bits(a) for a in args)
        return lambda j: bool(j.state & states)
    if op == "results":
        results = sum(_result_bits(a) for a in args)
        return lambda j: j.state == State.INACTIVE and bool(j.result & results)
    values = set(args)
    if op == "userid":
        return lambda j: j.userid in values or 0xFFFFFFFF in values
    if op == "name":
        return lambda j: j.name in values
    if op == "queue":
        return lambda j: j.queue in values
    raise RequestError(errno.EINVAL, f"unknown constraint operator {op!r}")


_STATE_BY_NAME = {
    "new": State.NEW,
    "depend": State.DEPEND,
    "priority": State.PRIORITY,
    "sched": State.SCHED,
    "run": State.RUN,
    "cleanup": State.CLEANUP,
    "inactive": State.INACTIVE,
    "pending": State.PENDING,
    "running": State.RUNNING,
    "active": State.ACTIVE,
}
_RESULT_BY_NAME = {"completed": 1, "failed": 2, "canceled": 4, "cancelled": 4, "timeout": 8}


def _state_bits(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _STATE_BY_NAME:
        return _STATE_BY_NAME[value.lower()]
    raise RequestError(errno.EINVAL, f"invalid state {value!r}")


def _result_bits(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _RESULT_BY_NAME:
        return _RESULT_BY_NAME[value.lower()]
    raise RequestError(errno.EINVAL, f"invalid result {value!r}")
