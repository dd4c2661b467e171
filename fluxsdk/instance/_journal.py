"""The job manager's journal: every job's main events, streamed (flux-core's ``journal.c``).

Serves ``job-manager.events-journal`` and ``job-manager.events-journal-cancel``
with flux-core 0.88's payloads (and ``job-manager.stats-get``, which reports on
the journal). A consumer sends a streaming request
``{"full"?: bool, "allow"?: {name: 1, ...}, "deny"?: {name: 1, ...}}`` and gets:

* the backlog: one response per job, ``{"id", "events", "jobspec"?, "R"?}``, with
  every event so far (the inactive jobs first when ``full``, else only the active
  ones), the redacted jobspec and R when the job has them;
* the sentinel ``{"id": -1, "events": []}``: the backlog is over;
* then one response per event as it is posted, ``{"id", "events": [entry]}``, with
  the redacted jobspec on ``submit`` and R on ``alloc``.

``allow`` keeps only the named events, then ``deny`` drops the named ones (the
backlog is filtered the same way). Only the instance owner may read the
journal (guests get EPERM, as in flux). Responses leave after the store's
commit, like every answer of the instance, so a consumer never sees an event
the eventlog does not hold.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from fluxsdk.instance._broker import Broker, Connection, Request, RequestError
from fluxsdk.instance._job import Job, State
from fluxsdk.instance._jobmanager import JobManager
from fluxsdk.instance._store import Store

__all__ = ["JournalService"]

_SENTINEL_ID = -1  # FLUX_JOBID_ANY, as jansson packs it


class _Listener:
    """One consumer's request and its filter."""

    __slots__ = ("allow", "deny", "request")

    def __init__(self, request: Request, allow: Any, deny: Any) -> None:
        self.request = request
        self.allow: dict[str, Any] | None = allow
        self.deny: dict[str, Any] | None = deny

    def wants(self, name: str) -> bool:
        if self.allow is not None and name not in self.allow:
            return False
        return self.deny is None or name not in self.deny

    @property
    def filters(self) -> bool:
        return self.allow is not None or self.deny is not None


class JournalService:
    """Streams every job's main events to journal consumers."""

    def __init__(self, broker: Broker, store: Store, manager: JobManager) -> None:
        self.broker = broker
        self.store = store
        self.manager = manager
        self._listeners: dict[tuple[Connection, int], _Listener] = {}
        self._watched: set[Connection] = set()
        self.event_count = 0
        manager.event_hooks.append(self._job_event)
        broker.register("job-manager.events-journal", self._request)
        broker.register("job-manager.events-journal-cancel", self._cancel)
        broker.register("job-manager.stats-get", self._stats)

    # -- requests ------------------------------------------------------------------

    def _request(self, request: Request) -> None:
        if request.userid != self.broker.owner:
            raise RequestError(errno.EPERM, "Request requires owner credentials")
        payload = {} if request.payload is None else request.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("full", False), bool):
            raise RequestError(errno.EPROTO)
        if not request.streaming:
            raise RequestError(errno.EPROTO, "job-manager.events requires streaming RPC flag")
        allow, deny = payload.get("allow", {}), payload.get("deny", {})
        if not isinstance(allow, dict):
            raise RequestError(errno.EPROTO, "job-manager.events allow should be an object")
        if not isinstance(deny, dict):
            raise RequestError(errno.EPROTO, "job-manager.events deny should be an object")
        full = payload.get("full", False)
        listener = _Listener(
            request, allow if "allow" in payload else None, deny if "deny" in payload else None
        )
        self._send_backlog(listener, full)
        if request.conn not in self._watched:
            self._watched.add(request.conn)
            request.conn.on_close(self._connection_closed)
        self._listeners[(request.conn, request.matchtag)] = listener

    def _send_backlog(self, listener: _Listener, full: bool) -> None:
        jobs = sorted(self.manager.jobs.values(), key=lambda job: job.id)
        if full:
            for job in jobs:
                if job.state == State.INACTIVE:
                    self._send_job(listener, job)
        for job in jobs:
            if job.state != State.INACTIVE:
                self._send_job(listener, job)
        listener.request.respond({"id": _SENTINEL_ID, "events": []})

    def _send_job(self, listener: _Listener, job: Job) -> None:
        events = [json.loads(line) for line in self.store.eventlog(job.id, "eventlog")]
        if listener.filters:
            events = [event for event in events if listener.wants(event["name"])]
        response: dict[str, Any] = {"id": job.id, "events": events}
        jobspec = self._jobspec(job)
        if jobspec is not None:
            response["jobspec"] = jobspec
        R = self._R(job)
        if R is not None:
            response["R"] = R
        listener.request.respond(response)

    def _cancel(self, request: Request) -> None:
        matchtag = request.payload_get("matchtag", int)
        listener = self._listeners.pop((request.conn, matchtag), None)
        if listener is not None:
            listener.request.error(errno.ENODATA)

    def _stats(self, request: Request) -> None:
        """flux's ``job-manager.stats-get`` (this instance runs no housekeeping)."""
        inactive = sum(1 for job in self.manager.jobs.values() if job.state == State.INACTIVE)
        request.respond(
            {
                "journal": {"listeners": len(self._listeners), "events": self.event_count},
                "active_jobs": len(self.manager.jobs) - inactive,
                "inactive_jobs": inactive,
                "max_jobid": max(self.manager.jobs, default=0),
                "housekeeping": {"running": {}, "config": {"release-after": -1.0, "command": ""}},
            }
        )

    def _connection_closed(self, conn: Connection) -> None:
        self._watched.discard(conn)
        for key in [key for key in self._listeners if key[0] is conn]:
            del self._listeners[key]

    # -- events --------------------------------------------------------------------

    def _job_event(self, job: Job, name: str, context: dict[str, Any] | None) -> None:
        self.event_count += 1
        if not self._listeners:
            return
        entry: dict[str, Any] = {"timestamp": self.manager.event_timestamp, "name": name}
        if context is not None:
            entry["context"] = context
        if name == "alloc" and context and "annotations" in context:
            # flux's scheduler annotations reach consumers first as a journal-only
            # ``annotations`` event (not in the eventlog), then with ``alloc``.
            annotations = {"name": "annotations", "context": {"annotations": job.annotations}}
            self._send(job, {"timestamp": entry["timestamp"], **annotations})
        self._send(job, entry)

    def _send(self, job: Job, entry: dict[str, Any]) -> None:
        name = entry["name"]
        response: dict[str, Any] = {"id": job.id, "events": [entry]}
        if name == "submit":
            response["jobspec"] = self._jobspec(job)
        elif name == "alloc":
            response["R"] = self._R(job)
        for listener in list(self._listeners.values()):
            if listener.wants(name):
                listener.request.respond(response)

    # -- documents -----------------------------------------------------------------

    def _jobspec(self, job: Job) -> Any:
        """The stored jobspec: flux's redacted one (no environment)."""
        try:
            text = self.store.job_get(job.id, "jobspec")
        except KeyError:
            return None
        return None if text is None else json.loads(text)

    def _R(self, job: Job) -> Any:
        """R without its scheduler-private ``scheduling`` key (flux's redacted R)."""
        R = job.R
        if R is None:
            try:
                text = self.store.job_get(job.id, "R")
            except KeyError:
                return None
            if text is None:
                return None
            R = json.loads(text)
        if isinstance(R, dict) and "scheduling" in R:
            R = {key: value for key, value in R.items() if key != "scheduling"}
        return R
