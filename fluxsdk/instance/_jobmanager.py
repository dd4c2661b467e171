"""Job ingest and the job manager: the RFC 21 state machine of every job.

Every change to a job is an event appended to its main eventlog; the job's
in-memory record is a function of those events (:meth:`JobManager.apply`),
so a restart rebuilds it by replaying them. Side effects (scheduling,
starting tasks, answering waiters) happen in :meth:`JobManager.post` after
the event is recorded, and anything visible outside the instance waits for
the store's commit.

Serves ``job-ingest.submit`` and ``job-manager.raise|kill|urgency|wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from fluxsdk._fluid import FluidGenerator
from fluxsdk._json import JSONInputError, loads_checked
from fluxsdk._sign import SignatureError, unwrap_none
from fluxsdk._uri import embedded_directory
from fluxsdk.errors import JobspecError
from fluxsdk.eventlog import encode_entry
from fluxsdk.hooks import Submission
from fluxsdk.hooks._ingest import IngestRejected
from fluxsdk.hooks._instance import InstanceHooks, jobspec_document
from fluxsdk.idset import IDSET_FLAG_BRACKETS, IDSET_FLAG_RANGE
from fluxsdk.instance._broker import Broker, Request, RequestError
from fluxsdk.instance._exec import JobExec, SpawnError, TaskPlan, shell_status
from fluxsdk.instance._execlog import ShellRecord, shell_service
from fluxsdk.instance._job import (
    MAX_TASKS,
    RESULT_COMPLETED,
    Job,
    ResourceRequest,
    State,
)
from fluxsdk.instance._pmi import PMI_FD, PmiServer
from fluxsdk.instance._pmilib import pmi_library_env
from fluxsdk.instance._queues import Queues
from fluxsdk.instance._sched import (
    Allocation,
    Resources,
    Scheduler,
    Unsatisfiable,
    idset_text,
)
from fluxsdk.instance._shell import Launch, ShellError, prepare_launch
from fluxsdk.instance._singleton import DESCRIPTION as SINGLETON
from fluxsdk.instance._singleton import Singletons, explicit_name
from fluxsdk.instance._store import Store
from fluxsdk.instance._terminus import TaskTerminals, TerminusServer
from fluxsdk.job._jobid import JobID, id_parse
from fluxsdk.job._jobspec_rules import check_canonical, check_top_level, check_v1

__all__ = ["JobManager"]

log = logging.getLogger("fluxsdk.instance")

FLUX_JOB_PRE_SIGNED = 1
FLUX_JOB_DEBUG = 2
FLUX_JOB_WAITABLE = 4
FLUX_JOB_NOVALIDATE = 8
FLUX_JOBID_ANY = 0xFFFFFFFFFFFFFFFF
_SUBMIT_FLAGS = FLUX_JOB_PRE_SIGNED | FLUX_JOB_DEBUG | FLUX_JOB_WAITABLE | FLUX_JOB_NOVALIDATE

# How many parsed jobspecs of pending jobs to keep in memory (the oldest go first).
RECENT_JOBSPECS = 4096
# How long flux's job shell gathers output events before committing them (seconds).
OUTPUT_BATCH_TIMEOUT: Final = 0.5
# How many distinct recently validated jobspecs to remember.
VALIDATED_JOBSPECS = 32

# After the first signal of a cancel, tasks get this long before SIGKILL (flux's kill-timeout).
KILL_TIMEOUT = 5.0

_AFTER_TYPES = {
    "after": "after-start",
    "afterstart": "after-start",
    "afterany": "after-finish",
    "afterok": "after-success",
    "afternotok": "after-failure",
    "afterexcept": "after-except",
}


class JobManager:
    """Owns every job of the instance: ingest, states, scheduling, exec."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        broker: Broker,
        store: Store,
        resources: Resources,
        *,
        uri: str,
        fluid: FluidGenerator,
        queues: Sequence[str] = (),
        plugins: InstanceHooks | None = None,
    ) -> None:
        self.loop = loop
        # Named queues (RFC 33); with none, jobs may not name one, as in flux.
        # The first is the default for jobs that name none.
        self.queues = tuple(queues)
        self.broker = broker
        self.store = store
        self.resources = resources
        self.uri = uri
        self.fluid = fluid
        self.owner = broker.owner
        self.jobs: dict[int, Job] = {}
        self.scheduler = Scheduler(resources)
        self._allocations: dict[int, Allocation] = {}
        self._execs: dict[int, JobExec] = {}
        self._timers: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._dependents: dict[int, list[tuple[int, str, str]]] = {}
        self._waiters: dict[int, list[Request]] = {}
        self._wait_any: list[Request] = []
        # Waitable jobs that ended and were not waited for yet (like zombies), and
        # how many waitable jobs exist in all: wait-any is O(1), not a scan.
        self._zombies: dict[int, Job] = {}
        self._waitable = 0
        self._schedule_pending = False
        # A job was submitted since the last durability point (see before_commit).
        self._submitted = False
        self._pending_dependencies: dict[int, list[tuple[str, int | float]]] = {}
        # The singleton dependency: active jobs per (user, explicit name), and the
        # explicit names of active jobs.
        self._singletons = Singletons()
        self._explicit_names: dict[int, str] = {}
        # Jobs whose shell died (exit-on-error): their output log takes no more events.
        self._shell_died: set[int] = set()
        # Output events of exit-on-error jobs held back in batches, as flux's shell
        # commits them (OUTPUT_BATCH_TIMEOUT): a batch pending when it dies is lost.
        self._output_batches: dict[int, list[str] | None] = {}
        # Full jobspecs of recently submitted jobs, so a job that starts soon after
        # submission needs no re-read and re-parse; bounded, the store has them all.
        self._recent_jobspecs: dict[int, dict[str, Any]] = {}
        self._validated: dict[bytes, dict[str, Any]] = {}
        # Stored (redacted) text of recently validated jobspecs, by the identity of
        # the shared document (kept here, so the identity is not reused).
        self._redacted_texts: dict[int, tuple[dict[str, Any], str]] = {}
        self._launches: dict[int, Launch] = {}
        self._pmis: dict[int, PmiServer] = {}  # the PMI-1 server of each running job
        self._terminus: dict[int, TerminusServer] = {}  # the terminus server of each shell
        # Jobs whose tasks ended, waiting for their task terminals to end: their status.
        self._awaiting_terminus: dict[int, int] = {}
        self._task_terminals: dict[int, TaskTerminals] = {}  # jobs whose tasks have terminals
        # The exec eventlog and shell log of each job between start and finish.
        self._shells: dict[int, ShellRecord] = {}
        self._ingesting: set[asyncio.Task[None]] = set()  # submissions with ingest plugins
        # Plugins (fluxsdk.hooks); the default priority is a built-in one, so never none.
        if plugins is None:
            plugins = InstanceHooks.load(uri=uri, statedir=embedded_directory(uri))
        self.plugins = plugins
        self.event_timestamp = 0.0  # of the event being posted, for the event hooks
        self.event_hooks: list[Callable[[Job, str, dict[str, Any] | None], None]] = [
            self._plugin_event
        ]
        self.inactive_hooks: list[Callable[[Job], None]] = []
        self.purge_hooks: list[Callable[[int], None]] = []
        self.queue_state = Queues(
            broker, store, self.queues, on_start=self._queue_started, on_stop=self._queue_stopped
        )
        for topic, handler in (
            ("job-ingest.submit", self._submit),
            ("feasibility.check", self._feasibility),
            ("job-manager.raise", self._raise),
            ("job-manager.kill", self._kill),
            ("job-manager.urgency", self._urgency),
            ("job-manager.wait", self._wait),
            ("job-manager.memo", self._memo),
            ("job-manager.purge-id", self._purge_id),
        ):
            broker.register(topic, handler)

    # -- events ----------------------------------------------------------------------

    def post(self, job: Job, name: str, context: dict[str, Any] | None = None) -> None:
        """Record an event in the job's eventlog, apply it, then act on it."""
        timestamp = time.time()
        self.store.append(job.id, "eventlog", encode_entry(name, context, timestamp))
        self.apply(job, name, context or {}, timestamp)
        self.event_timestamp = timestamp
        for hook in self.event_hooks:
            try:
                hook(job, name, context)
            except Exception:
                log.exception("job event hook failed")
        self._act(job, name, context or {})

    @staticmethod
    def apply(job: Job, name: str, context: dict[str, Any], timestamp: float) -> None:
        """Update the job record for one event (no side effects: replay uses this)."""
        # The t_* times are those flux's job-list reports: when each state began.
        if name == "validate":
            job.state, job.t_depend = State.DEPEND, timestamp
        elif name == "dependency-add":
            job.dependencies.append(context["description"])
        elif name == "dependency-remove":
            if context["description"] in job.dependencies:
                job.dependencies.remove(context["description"])
        elif name == "depend":
            job.state, job.t_priority = State.PRIORITY, timestamp
        elif name == "priority":
            job.priority = context["priority"]
            if job.state == State.PRIORITY:
                job.state, job.t_sched = State.SCHED, timestamp
        elif name == "urgency":
            job.urgency = context["urgency"]
        elif name == "memo":
            # As job-list shows memos: under annotations.user; null removes a key.
            user = dict(job.annotations.get("user", {}))
            for key, value in context.items():
                if value is None:
                    user.pop(key, None)
                else:
                    user[key] = value
            job.annotations = {**job.annotations, "user": user}
            if not user:
                del job.annotations["user"]
        elif name == "alloc":
            job.state, job.allocated, job.t_run = State.RUN, True, timestamp
            job.annotations = {**job.annotations, **context.get("annotations", {})}
        elif name == "start":
            job.started = True
        elif name == "exception":
            job.exception_any = True
            shown = job.exception_shown
            if shown is None or context.get("severity", 0) < shown.get("severity", 0):
                job.exception_shown = context
            if context.get("severity") == 0:
                if job.exception is None:
                    job.exception = context
                if job.state in (State.DEPEND, State.PRIORITY, State.SCHED, State.RUN):
                    job.state, job.t_cleanup = State.CLEANUP, timestamp
        elif name == "finish":
            job.status = context["status"]
            if job.state == State.RUN:
                job.state, job.t_cleanup = State.CLEANUP, timestamp
        elif name == "clean":
            job.state, job.t_inactive = State.INACTIVE, timestamp

    def _act(self, job: Job, name: str, context: dict[str, Any]) -> None:
        if name == "validate":
            self._add_dependencies(job)
        elif name == "dependency-remove" and not job.dependencies and job.state == State.DEPEND:
            self.post(job, "depend")
        elif name == "depend":
            self._prioritize(job)
        elif name == "priority" and job.state == State.SCHED:
            self._enqueue(job)
        elif name == "alloc":
            # Start only once the allocation is on disk.
            self.store.after_commit(lambda: self._start(job))
        elif name == "start":
            self._resolve_dependents(job, started=True)
            if job.duration > 0:
                self._timer(job, "duration", job.duration, self._expire)
        elif name == "exception" and context.get("severity") == 0:
            self._fatal(job, context)
        elif name == "finish":
            self._cancel_timer(job, "kill")
            self._cancel_timer(job, "duration")
            self.post(job, "release", {"ranks": "all", "final": True})
            self._free(job)
        elif name == "clean":
            self._inactive(job)

    # -- submit ----------------------------------------------------------------------

    def _submit(self, request: Request) -> None:
        signed = request.payload_get("J", str)
        urgency = request.payload_get("urgency", int, 16)
        flags = request.payload_get("flags", int, 0)
        if not 0 <= urgency <= 31:
            raise RequestError(errno.EINVAL, "urgency range is [0:31]")
        if flags & ~_SUBMIT_FLAGS:
            raise RequestError(errno.EINVAL, f"unknown submit flags 0x{flags:x}")
        try:
            payload, userid = unwrap_none(signed)
        except SignatureError as exc:
            raise RequestError(errno.EINVAL, f"could not unwrap jobspec: {exc}") from None
        if userid != request.userid:
            raise RequestError(errno.EPERM, "signed userid does not match the requester")
        jobspec = self._validate(payload)
        if self.plugins.has_ingest():
            # Ingest plugins work in their own threads; the loop serves meanwhile.
            task = self.loop.create_task(
                self._ingest(request, signed, userid, urgency, flags, jobspec)
            )
            self._ingesting.add(task)
            task.add_done_callback(self._ingesting.discard)
            return
        self._admit(request, signed, userid, urgency, flags, jobspec)

    async def _ingest(
        self,
        request: Request,
        signed: str,
        userid: int,
        urgency: int,
        flags: int,
        jobspec: dict[str, Any],
    ) -> None:
        """Run the ingest plugins (transforms, then validators), then admit the job."""
        submission = Submission(uri=self.uri, userid=userid, urgency=urgency, flags=flags)
        try:
            document = await self.plugins.ingest(
                jobspec, submission, validate=not flags & FLUX_JOB_NOVALIDATE
            )
            self._admit(
                request, signed, userid, urgency, flags, document, changed=document != jobspec
            )
        except IngestRejected as exc:
            request.error(exc.errnum, exc.message)
        except asyncio.CancelledError:  # the instance is stopping (as Flux answers then)
            request.error(errno.ENOSYS, "the instance is shutting down")
        except RequestError as exc:
            request.error(exc.errnum, exc.errstr)
        except Exception as exc:  # never leave a submitter without an answer
            log.exception("ingest of a job failed")
            request.error(errno.EINVAL if isinstance(exc, ValueError) else errno.EIO, str(exc))

    def _admit(
        self,
        request: Request,
        signed: str,
        userid: int,
        urgency: int,
        flags: int,
        jobspec: dict[str, Any],
        *,
        changed: bool = False,
    ) -> None:
        """Create the job from its (checked, possibly transformed) jobspec and answer.

        A jobspec changed by ingest plugins is what the job is made of and
        what is stored; as in Flux, its tasks still run from ``J``.
        """
        job_request = ResourceRequest.from_jobspec(jobspec)
        if job_request.ntasks > MAX_TASKS:
            raise RequestError(
                errno.EINVAL,
                f"the job asks for {job_request.ntasks} tasks; "
                f"the embedded instance runs at most {MAX_TASKS} tasks per job",
            )
        queue = self._check_queue(jobspec)
        dependencies, warnings = self._check_dependencies(jobspec, userid)
        jobid = self.fluid.next()
        # Like flux's KVS copy, the stored jobspec leaves out the environment
        # (it stays in J, which exec reads).
        self.store.job_add(jobid, userid, signed, self._redacted(jobspec))
        job = self._new_job(jobid, userid, urgency, flags, jobspec, job_request, time.time())
        job.queue = queue
        job.waitable = bool(flags & FLUX_JOB_WAITABLE)
        self._waitable += job.waitable
        self.jobs[jobid] = job
        # Held jobs may wait for days: do not keep theirs in memory. A transformed
        # jobspec is not J's: exec reads J, priority plugins the stored jobspec.
        if urgency > 0 and not changed:
            self._remember_jobspec(jobid, jobspec)
        self._pending_dependencies[jobid] = [(d, t) for d, t, done in dependencies if not done]
        self._submitted = True
        self.post(
            job, "submit", {"userid": userid, "urgency": urgency, "flags": flags, "version": 1}
        )
        for note in warnings:
            context = {"type": "dependency", "severity": 3, "note": note, "userid": self.owner}
            self.post(job, "exception", context)
        # flux's dependency plugins add their dependencies before validation ends.
        for description, _, done in dependencies:
            self.post(job, "dependency-add", {"description": description})
            if done:
                self.post(job, "dependency-remove", {"description": description})
        self.post(job, "validate")
        self._singleton_add(job, explicit_name(jobspec))
        request.respond({"id": jobid})

    @property
    def ingesting(self) -> int:
        """Submissions still with ingest plugins."""
        return len(self._ingesting)

    def stop_ingest(self) -> None:
        """Refuse the submissions still with ingest plugins (the instance is stopping)."""
        for task in list(self._ingesting):
            task.cancel()

    def _feasibility(self, request: Request) -> None:
        """``feasibility.check``: could the resources ever run this jobspec?

        Answered as sched-simple does: EOVERFLOW (or EINVAL for a request it
        cannot read) with the reason.
        """
        jobspec = request.payload_get("jobspec", dict, {})
        if not jobspec.get("resources"):
            raise RequestError(errno.EINVAL, "jobspec has no resources")
        try:
            job_request = ResourceRequest.from_jobspec(jobspec)
        except (KeyError, TypeError, ValueError, JobspecError) as exc:
            raise RequestError(errno.EINVAL, f"cannot parse jobspec: {exc}") from None
        try:
            self.resources.check_feasible(job_request)
        except Unsatisfiable as exc:
            raise RequestError(errno.EOVERFLOW, f"unsatisfiable request: {exc}") from None
        request.respond()  # as sched-simple: an empty answer

    def _check_queue(self, jobspec: dict[str, Any]) -> str | None:
        """The job's queue: the one it names, or the default; flux's messages."""
        name = jobspec["attributes"].get("system", {}).get("queue")
        if name is None and self.queues:
            name = self.queues[0]
        self.queue_state.check_submit(name)
        return None if name is None else str(name)

    def _remember_jobspec(self, jobid: int, jobspec: dict[str, Any]) -> None:
        if len(self._recent_jobspecs) >= RECENT_JOBSPECS:
            del self._recent_jobspecs[next(iter(self._recent_jobspecs))]
        self._recent_jobspecs[jobid] = jobspec

    def _validate(self, payload: bytes) -> dict[str, Any]:
        """Decode and validate a jobspec: EINVAL for bad JSON, EPERM for a jobspec
        the validator rejects (flux-core's errnos).

        The same jobspec submitted again (``--cc``, bulk submission) is
        validated once: the decoded document is shared, and never modified.
        """
        known = self._validated.get(payload)
        if known is not None:
            return known
        doc = self._decode_and_check(payload)
        if len(self._validated) >= VALIDATED_JOBSPECS:
            del self._validated[next(iter(self._validated))]
        self._validated[payload] = doc
        return doc

    def _redacted(self, jobspec: dict[str, Any]) -> str:
        """:func:`_redacted`, once per shared validated document."""
        known = self._redacted_texts.get(id(jobspec))
        if known is not None and known[0] is jobspec:
            return known[1]
        text = _redacted(jobspec)
        if len(self._redacted_texts) >= VALIDATED_JOBSPECS:
            del self._redacted_texts[next(iter(self._redacted_texts))]
        self._redacted_texts[id(jobspec)] = (jobspec, text)
        return text

    @staticmethod
    def _decode_and_check(payload: bytes) -> dict[str, Any]:
        try:
            # As flux's job-ingest (jansson, without JSON_ALLOW_NUL), within fluxsdk's limits.
            doc = loads_checked(payload, allow_nul=False)
        except JSONInputError as exc:
            raise RequestError(errno.EINVAL, f"jobspec: invalid JSON: {exc}") from None
        try:
            doc = check_top_level(doc)
            check_canonical(
                doc["resources"], doc["tasks"], doc["attributes"], doc["version"], ingest=True
            )
            check_v1(doc["resources"], doc["tasks"], doc["attributes"], doc["version"])
        except JobspecError as exc:
            raise RequestError(errno.EPERM, str(exc)) from None
        return dict(doc)

    @staticmethod
    def _new_job(
        jobid: int,
        userid: int,
        urgency: int,
        flags: int,
        jobspec: dict[str, Any],
        request: ResourceRequest,
        t_submit: float,
    ) -> Job:
        system = jobspec["attributes"].get("system", {})
        name = system.get("job", {}).get("name")
        if name is None:
            name = os.path.basename(jobspec["tasks"][0]["command"][0])
        return Job(
            id=jobid,
            userid=userid,
            urgency=urgency,
            t_submit=t_submit,
            flags=flags,
            request=request,
            name=name,
            queue=system.get("queue"),
            cwd=system.get("cwd"),
            duration=float(system.get("duration", 0.0)),
            bank=system.get("bank"),
            project=system.get("project") if isinstance(system.get("project"), str) else None,
        )

    # -- dependencies (RFC 26) -------------------------------------------------------

    def _check_dependencies(
        self, jobspec: dict[str, Any], userid: int
    ) -> tuple[list[tuple[str, int | float, bool]], list[str]]:
        """Check each dependency now, so a bad one rejects the submission (as flux does).

        Returns ``(description, target, satisfied already)`` per dependency, and
        the warnings flux posts as severity 3 ``dependency`` exceptions.
        """
        checked: list[tuple[str, int | float, bool]] = []
        warnings: list[str] = []
        deps = jobspec["attributes"].get("system", {}).get("dependencies", [])
        for dep in deps:
            scheme, value = dep["scheme"], dep["value"]
            if scheme == "singleton":
                name = explicit_name(jobspec)
                if name is None:
                    raise RequestError(errno.EINVAL, "singleton jobs require a job name")
                if self._singletons.must_wait(userid, name):
                    checked.append((SINGLETON, 0, False))
                continue
            if scheme == "begin-time":
                try:
                    begin = float(value)
                except (TypeError, ValueError):
                    raise RequestError(errno.EINVAL, f"Invalid begin-time={value}") from None
                checked.append((f"begin-time={begin:.3f}", begin, False))
                continue
            if scheme not in _AFTER_TYPES:
                raise RequestError(errno.EINVAL, f"dependency scheme {scheme!r} is not supported")
            if scheme == "after":
                warnings.append("dependency scheme 'after' is deprecated, use 'afterstart'")
            try:
                target_id = id_parse(value)
            except ValueError:
                raise RequestError(
                    errno.EINVAL, f'dependency: {scheme}: "{value}" is not a valid jobid'
                ) from None
            target = self.jobs.get(target_id)
            if target is None:
                raise RequestError(errno.EINVAL, f"dependency: {scheme}: id {value}: job not found")
            if target.userid != userid:
                raise RequestError(errno.EPERM, f"{scheme}: Permission denied for job {value}")
            kind = _AFTER_TYPES[scheme]
            if target.state == State.INACTIVE:
                reason = _unsatisfiable(kind, target)
                if reason:
                    raise RequestError(errno.EINVAL, f"dependency: {reason.format(value)}")
            # As flux: one already met is removed at once, before validation ends.
            done = _satisfied(kind, target) and (
                target.state == State.INACTIVE or kind == "after-start"
            )
            checked.append((f"{kind}={value}", target_id, done))
        return checked, warnings

    def _add_dependencies(self, job: Job) -> None:
        """After validation: resolve or arm each dependency added at submit."""
        deps = self._pending_dependencies.pop(job.id, [])
        for description, target in deps:
            if description == SINGLETON:
                continue  # released when the other jobs of its name have ended
            if description.startswith("begin-time="):
                delay = float(target) - time.time()
                if delay <= 0:
                    self.post(job, "dependency-remove", {"description": description})
                else:
                    self._timer(
                        job,
                        description,
                        delay,
                        functools.partial(self._remove_dependency, description=description),
                    )
                continue
            target_job = self.jobs[int(target)]
            kind = description.split("=", 1)[0]
            if _satisfied(kind, target_job):
                self.post(job, "dependency-remove", {"description": description})
            else:
                self._dependents.setdefault(target_job.id, []).append((job.id, kind, description))
        if not deps:
            self.post(job, "depend")

    def _remove_dependency(self, job: Job, description: str) -> None:
        if job.state == State.DEPEND and description in job.dependencies:
            self.post(job, "dependency-remove", {"description": description})

    def _resolve_dependents(self, target: Job, started: bool = False) -> None:
        """Release or fail the jobs waiting on ``target`` (at its start or its end)."""
        waiting = self._dependents.get(target.id, [])
        keep: list[tuple[int, str, str]] = []
        for jobid, kind, description in waiting:
            job = self.jobs.get(jobid)
            if job is None or job.state != State.DEPEND or description not in job.dependencies:
                continue
            if started and kind != "after-start":
                keep.append((jobid, kind, description))
                continue
            if _satisfied(kind, target):
                self.post(job, "dependency-remove", {"description": description})
            else:
                note = (
                    "job never started"
                    if not target.allocated and kind != "after-finish"
                    else "can never be satisfied"
                )
                self.post(
                    job,
                    "exception",
                    {
                        "type": "dependency",
                        "severity": 0,
                        "note": f"dependency {description} {note}",
                        "userid": self.owner,
                    },
                )
        if keep:
            self._dependents[target.id] = keep
        else:
            self._dependents.pop(target.id, None)

    # -- priority and scheduling -----------------------------------------------------

    def _prioritize(self, job: Job) -> None:
        self.post(job, "priority", {"priority": self._priority(job)})

    def _priority(self, job: Job) -> int:
        """From the fluxsdk_instance_job_priority plugins (built-in default: urgency)."""
        return self.plugins.job_priority(job, lambda: self._plugin_jobspec(job))

    def _plugin_jobspec(self, job: Job) -> dict[str, Any]:
        """The job's jobspec as plugins see it: without its environment."""
        recent = self._recent_jobspecs.get(job.id)
        text = (
            self._redacted(recent) if recent is not None else self.store.job_get(job.id, "jobspec")
        )
        return jobspec_document(text)

    def _plugin_event(self, job: Job, name: str, context: dict[str, Any] | None) -> None:
        self.plugins.job_event(job, name, context, self.event_timestamp)

    def _enqueue(self, job: Job) -> None:
        """Queue a job for the scheduler; as flux's, it denies a request that can
        never be met with a fatal ``alloc`` exception (the job was accepted).
        A job of a stopped queue waits, unseen by the scheduler, for its start."""
        if not self.queue_state.started(job.queue):
            return
        try:
            if job.priority:  # a held job is not shown to the scheduler yet
                self.resources.check_feasible(job.request)
        except Unsatisfiable as exc:
            exception = {"type": "alloc", "severity": 0, "note": str(exc)}
            self.post(job, "exception", {**exception, "userid": self.owner})
            return
        self.scheduler.enqueue(job.id, job.priority or 0, job.t_submit, job.request)
        self._want_schedule()

    def _queue_started(self, name: str | None) -> None:
        """Queue ``name`` (None: the anonymous one) started: schedule its pending jobs."""
        for job in list(self.jobs.values()):
            if job.state == State.SCHED and job.queue == name:
                self._enqueue(job)

    def _queue_stopped(self, name: str | None) -> None:
        """Queue ``name`` stopped: its pending jobs wait, unseen by the scheduler."""
        for job in self.jobs.values():
            if job.state == State.SCHED and job.queue == name:
                self.scheduler.dequeue(job.id)

    def _want_schedule(self) -> None:
        if not self._schedule_pending:
            self._schedule_pending = True
            self.loop.call_soon(self._schedule_if_pending)

    def _schedule_if_pending(self) -> None:
        if self._schedule_pending:
            self._schedule()

    def before_commit(self) -> None:
        """The broker runs this just before each durability point: allocate now what
        freed resources can start, so a finished job's ``clean`` and its successor's
        ``alloc`` share one commit (one fsync, not two).

        Not when jobs were submitted since the last one: a job starts only after
        its submitter has its ID (as in Flux, where ingest answers long before the
        job runs), so a dependency on it can still be submitted in time. Their
        allocation waits for the commit that answers them, as it always did.
        """
        submitted, self._submitted = self._submitted, False
        if not submitted:
            self._schedule_if_pending()

    def _schedule(self) -> None:
        self._schedule_pending = False
        for jobid, allocation in list(self.scheduler.schedule()):
            job = self.jobs[jobid]
            now = time.time()
            job.expiration = now + job.duration if job.duration > 0 else 0.0
            self._allocations[jobid] = allocation
            job.ranks = idset_text(tuple(allocation.ranks))
            job.nodelist = ",".join(
                sorted({self.resources.nodes[r].hostname for r in allocation.ranks})
            )
            job.ncores_allocated = sum(len(c) for c in allocation.cores.values())
            R = self.resources.R(allocation, now, job.expiration, nslots=job.request.total_slots)
            job.R = R
            self.store.job_set_R(jobid, json.dumps(R, separators=(",", ":")))
            summary = {"resource_summary": _resource_summary(allocation)}
            self._debug(job, "debug.alloc-request")
            self.post(job, "alloc", {"annotations": {"sched": summary}})

    # -- exec --------------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        if job.state != State.RUN or job.exception is not None:
            return
        allocation = self._allocations[job.id]
        jobspec = self._recent_jobspecs.pop(job.id, None)
        if jobspec is None:
            jobspec = json.loads(unwrap_none(self.store.job_get(job.id, "J") or "")[0])
        options = jobspec["attributes"].get("system", {}).get("shell", {}).get("options", {})
        verbose = options.get("verbose", 0)
        shell = ShellRecord(
            self.store,
            job.id,
            job.userid,
            allocation.ranks,
            verbose if isinstance(verbose, int) else 0,
            lambda level, message: self._log(job, message, level),
        )
        self._shells[job.id] = shell
        shell.starting()
        try:
            launch = prepare_launch(job, jobspec, allocation, self.resources)
        except Exception as exc:  # ShellError, OSError, or a shell bug: the job fails alone
            if not isinstance(exc, (ShellError, OSError)):
                log.warning("job %s: launch failed: %s: %s", job.id, type(exc).__name__, exc)
            self._start_failed(job, f"job shell: {_one_line(exc)}", 1 << 8)
            return
        self._launches[job.id] = launch
        plans = launch.plans
        if launch.pty_error is not None:  # flux's pty shell plugin fails the shell's init
            self._output_header(job, len(plans))
            self._start_failed(job, launch.pty_error, 1 << 8, component="pty")
            return
        job.ntasks_started = len(plans)
        f58 = JobID(job.id).f58
        paths = {"stdout": launch.stdout_path, "stderr": launch.stderr_path}
        self._debug(job, "debug.start-request")
        # Log messages while the tasks start follow the output log's header.
        early_logs: list[tuple[int, str, str | None]] = []
        starting = True
        pmi = None
        if _pmi_enabled(launch.options.get("pmi")):
            pmi = PmiServer(
                self.loop,
                f58,
                plans,
                allocation.ranks,
                on_abort=lambda note: self._pmi_abort(job, note),
            )
            self._pmis[job.id] = pmi

        # The shell's terminus server, and the terminals of tasks (the pty option).
        terminus = self._terminus[job.id] = TerminusServer(
            self.broker,
            self.loop,
            f"{shell_service(job.userid, job.id)}.terminus",
            allocation.ranks[0],
            cwd=launch.cwd,
        )
        terminals = None
        if launch.pty is not None:
            terminals = TaskTerminals(
                terminus,
                launch.pty.ranks,
                capture=launch.pty.capture,
                interactive=launch.pty.interactive,
                on_output=lambda rank, data: self._execs[job.id].terminal_output(rank, data),
                on_end=lambda rank: self._execs[job.id].terminal_closed(rank),
            )
            if terminals.sessions:
                self._task_terminals[job.id] = terminals

        def spawned(rank: int, pid: int) -> None:
            self._record_task(job, pid)
            if pmi is not None:
                pmi.spawned(rank)
            if terminals is not None:
                terminals.spawned(rank, pid)

        execution = JobExec(
            self.loop,
            launch.argv,
            launch.env,
            launch.cwd,
            plans,
            on_output=lambda rank, stream, data: self._output(job, rank, stream, data),
            on_eof=lambda rank, stream: self._output_eof(job, rank, stream),
            on_exit=lambda status: self._tasks_done(job, status),
            stdin_path=launch.stdin_path,
            stdout_path=launch.stdout_path,
            stderr_path=launch.stderr_path,
            unbuffered=launch.unbuffered,
            hostname=self.resources.nodes[allocation.ranks[0]].hostname,
            on_spawn=spawned,
            task_fds=(lambda plan: {PMI_FD: pmi.channel(plan.rank)}) if pmi is not None else None,
            output_append=launch.output_append,
            output_label=launch.output_label,
            rlimits=launch.rlimits,
            on_log=lambda level, message, component: (
                early_logs.append((level, message, component))
                if starting
                else self._log(job, message, level, component)
            ),
            on_task_exit=functools.partial(self._on_task_exit, job, launch, shell, terminals),
            terminal=(lambda plan: terminals.terminal(plan.rank)) if terminals else None,
        )
        self._execs[job.id] = execution
        if launch.options.get("exit-on-error"):
            self._output_batches[job.id] = None
        nnodes = str(len(allocation.ranks))
        size = str(len(plans))

        shell_env = _shell_env(job, launch)
        if pmi is not None:  # our libpmi.so, as flux's shell (pmi plugin) gives its own
            shell_env.update(pmi_library_env(launch.env))

        def task_env(plan: TaskPlan) -> dict[str, str]:
            extra = {
                **shell_env,
                "FLUX_URI": self.uri,
                "FLUX_JOB_ID": f58,
                "FLUX_JOB_ID_PATH": f"/{f58}",
                "FLUX_JOB_SIZE": size,
                "FLUX_JOB_NNODES": nnodes,
                "FLUX_TASK_RANK": str(plan.rank),
                "FLUX_TASK_LOCAL_ID": str(plan.local_id),
                "FLUX_TERMINUS_SESSION": "0",  # as flux's shell, which runs a terminus server
            }
            if pmi is not None:  # the task's PMI-1 socket and identity, as flux's shell
                extra.update(PMI_FD=str(PMI_FD), PMI_RANK=str(plan.rank), PMI_SIZE=size)
            if plan.gpus and "CUDA_VISIBLE_DEVICES" in shell_env:
                extra["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, plan.gpus))
            return extra

        # A terminus session started by a client gets the job's environment (without
        # a task's PMI socket).
        shell_vars = {k: v for k, v in task_env(plans[0]).items() if not k.startswith("PMI_")}
        terminus.session_env = {**launch.env, **shell_vars}
        try:
            execution.start(task_env)
        except SpawnError as exc:
            starting = False
            if not exc.shell_init:  # flux's shell failed before its output log began
                self._output_header(job, len(plans))
                self._output_redirects(job, len(plans), paths)
            for level, message, component in early_logs:
                self._log(job, message, level, component)
            if not exc.shell_init:
                shell.shell_init()  # the shell was up; a task could not start
            self._start_failed(job, exc.note, exc.status, running=execution.running)
            return
        starting = False
        self._output_header(job, len(plans))
        self._output_redirects(job, len(plans), paths)
        for level, message, component in early_logs:
            self._log(job, message, level, component)
        pty = launch.pty
        if pty is not None and pty.interactive:  # where `flux job attach` finds task 0's terminal
            shell.shell_init({"pty": "terminus.0", **({"capture": 1} if pty.capture else {})})
        else:
            shell.shell_init()
        shell.shell_start(plans)
        self.post(job, "start")
        self._arm_signal_option(job, launch)
        if launch.nested_uri is not None:
            # Where the nested instance listens, as flux records it (memo "uri").
            self.post(job, "memo", {"uri": launch.nested_uri})

    def _record_task(self, job: Job, pid: int) -> None:
        """Remember each task's process, so a restarted instance can stop leftovers.

        Its start time is taken from the clock the kernel stamps processes with
        (boot time, in clock ticks) rather than read from /proc: one syscall.
        """
        self.store.task_add(job.id, pid, _boot_ticks())

    def _start_failed(
        self, job: Job, note: str, status: int, running: bool = False, component: str | None = None
    ) -> None:
        """As flux: the shell started, then reports that the tasks could not."""
        self.post(job, "start")
        self._log(job, note, component=component)
        self.post(
            job, "exception", {"type": "exec", "severity": 0, "note": note, "userid": self.owner}
        )
        if not running:
            self._execs.pop(job.id, None)
            self._finished(job, status)

    def _output_header(self, job: Job, ntasks: int) -> None:
        header = {
            "version": 1,
            "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
            "count": {"stdout": ntasks, "stderr": ntasks},
            "options": {},
        }
        self._append_output(job, "header", header)

    def _output_redirects(self, job: Job, ntasks: int, paths: dict[str, str | None]) -> None:
        """``redirect`` events for streams going to files (flux's idset form of ranks)."""
        ranks = f"[0-{ntasks - 1}]" if ntasks > 1 else "0"
        for stream in ("stdout", "stderr"):
            path = paths[stream] or (paths["stdout"] if stream == "stderr" else None)
            if path:
                self._append_output(
                    job, "redirect", {"stream": stream, "rank": ranks, "path": path}
                )

    def _append_output(self, job: Job, name: str, context: dict[str, Any]) -> None:
        self.store.append(job.id, "guest.output", encode_entry(name, context, time.time()))

    def _output(self, job: Job, rank: int, stream: str, data: bytes) -> None:
        if job.id in self._shell_died:
            return
        context: dict[str, Any] = {"stream": stream, "rank": str(rank)}
        try:
            context["data"] = data.decode("utf-8")
        except UnicodeDecodeError:
            import base64

            context["data"] = base64.b64encode(data).decode("ascii")
            context["encoding"] = "base64"
        self._output_data(job, context)

    def _output_eof(self, job: Job, rank: int, stream: str) -> None:
        if job.id in self._shell_died:
            return
        self._output_data(job, {"stream": stream, "rank": str(rank), "eof": True})

    def _output_data(self, job: Job, context: dict[str, Any]) -> None:
        """A ``data`` event: written now, or batched for a job with exit-on-error."""
        if job.id not in self._output_batches:
            self._append_output(job, "data", context)
            return
        batch = self._output_batches[job.id]
        if batch is None:
            batch = self._output_batches[job.id] = []
            self._timer(job, "output-batch", OUTPUT_BATCH_TIMEOUT, self._flush_output)
        batch.append(encode_entry("data", context, time.time()))

    def _flush_output(self, job: Job) -> None:
        """Commit a job's pending output batch (its timer fired, or the shell exits)."""
        self._cancel_timer(job, "output-batch")
        batch = self._output_batches.get(job.id)
        if batch:
            self._output_batches[job.id] = None
            for entry in batch:
                self.store.append(job.id, "guest.output", entry)

    def _log(self, job: Job, message: str, level: int = 0, component: str | None = None) -> None:
        """A job shell log message (RFC 24 ``log`` event; level 0 is fatal, as flux's shell)."""
        if job.id in self._shell_died:
            return
        context: dict[str, Any] = {"rank": 0, "level": level, "message": message}
        if component is not None:
            context["component"] = component
        self._append_output(job, "log", context)

    def _on_task_exit(
        self,
        job: Job,
        launch: Launch,
        shell: ShellRecord,
        terminals: TaskTerminals | None,
        plan: TaskPlan,
        pid: int,
        status: int,
    ) -> None:
        """A task exited with wait status ``status``: record it, then apply the shell options."""
        shell.task_exit(plan, pid, status)
        if terminals is not None:
            terminals.exited(plan.rank, status)
        self._task_exit(job, launch, plan.rank, shell_status(status))

    def _task_exit(self, job: Job, launch: Launch, rank: int, status: int) -> None:
        """flux's shell ``exit-on-error`` option: a failed task aborts the job."""
        if status == 0 or not launch.options.get("exit-on-error"):
            return
        if job.exception is not None or job.id in self._shell_died:
            return
        if os.WIFEXITED(status):
            how = f"Exit {os.WEXITSTATUS(status)}"
        else:
            how = signal.strsignal(os.WTERMSIG(status)) or f"signal {os.WTERMSIG(status)}"
        command = os.path.basename(launch.argv[0]) if launch.argv else ""
        host = self.resources.nodes[0].hostname
        note = f"{command}: task rank {rank} on host {host} failed ({how}) and exit-on-error is set"
        self._log(job, note, 0, "task-exit")
        # The shell dies at once: the output batch it has not committed yet (the
        # failed task's end-of-file events at least) is lost, as on Flux.
        self._shell_died.add(job.id)
        self._cancel_timer(job, "output-batch")
        self._output_batches[job.id] = None
        context = {"type": "exec", "severity": 0, "note": note, "userid": self.owner}
        self.post(job, "exception", {**context, "wait_status": status})

    def _arm_signal_option(self, job: Job, launch: Launch) -> None:
        """flux's shell ``signal`` option: a signal some time before the time limit."""
        option = launch.options.get("signal")
        if option is None or option == 0 or job.duration <= 0:
            return
        signum, timeleft = int(signal.SIGUSR1), 60.0
        if isinstance(option, dict):
            signum = int(option.get("signum", signum))
            timeleft = float(option.get("timeleft", timeleft))
        elif isinstance(option, int):
            signum = option
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        delay = max(job.duration - timeleft, 0.0)

        def fire(job: Job) -> None:
            if job.state == State.RUN:
                message = f"job will expire in {timeleft:.1f}s, sending {name} to job"
                self._log(job, message, 5, "signal")
                self._signal(job, signum)

        self._timer(job, "signal", delay, fire)

    def _pmi_abort(self, job: Job, note: str) -> None:
        """A task called PMI_Abort (or broke the protocol): as flux's shell, the job
        gets a fatal ``exec`` exception."""
        if job.state == State.RUN and job.exception is None:
            context = {"type": "exec", "severity": 0, "note": note, "userid": self.owner}
            self.post(job, "exception", context)
            self.broker.request_flush()

    def _tasks_done(self, job: Job, status: int) -> None:
        """Every task ended; as flux's shell, wait for task terminals a client may
        still attach to (pty option) unless the job is being stopped."""
        terminus = self._terminus.get(job.id)
        if terminus is None or job.exception is not None or job.id not in self._task_terminals:
            self._finished(job, status)
            return
        self._awaiting_terminus[job.id] = status
        terminus.notify_empty(lambda: self._terminus_empty(job))

    def _terminus_empty(self, job: Job) -> None:
        status = self._awaiting_terminus.pop(job.id, None)
        if status is not None:
            self._finished(job, status)

    def _finished(self, job: Job, status: int) -> None:
        self._execs.pop(job.id, None)
        pmi = self._pmis.pop(job.id, None)
        if pmi is not None:
            pmi.close()
        terminus = self._terminus.pop(job.id, None)
        if terminus is not None:
            terminus.close()  # its sessions end with the shell
        self._task_terminals.pop(job.id, None)
        if job.id in self._output_batches:
            self._flush_output(job)
            del self._output_batches[job.id]
        self._shell_died.discard(job.id)
        if job.exception is not None and job.started:
            # As flux's job-exec: an exception while running sets the status
            # (its wait_status, else a clean exit counts as exit code 1).
            status = job.exception.get("wait_status", status if status else 1 << 8)
        shell = self._shells.pop(job.id, None)
        if shell is not None:
            shell.finish(status)
        launch = self._launches.pop(job.id, None)
        if launch is not None:
            launch.cleanup()
        if job.state in (State.RUN, State.CLEANUP) and job.status is None:
            self.post(job, "finish", {"status": status})

    def close(self) -> None:
        """The instance stops: the job shells' terminus sessions end."""
        for terminus in self._terminus.values():
            terminus.close()
            terminus.reap()
        self._terminus.clear()

    def _expire(self, job: Job) -> None:
        if job.state == State.RUN:
            self.post(
                job,
                "exception",
                {
                    "type": "timeout",
                    "severity": 0,
                    "userid": self.owner,
                    "note": "resource allocation expired",
                },
            )

    def _fatal(self, job: Job, context: dict[str, Any]) -> None:
        """A severity 0 exception: stop the job wherever it is."""
        self.scheduler.dequeue(job.id)
        self._cancel_timer(job, "duration")
        for key in [k for k in self._timers if k[0] == job.id and k[1].startswith("begin")]:
            self._timers.pop(key).cancel()
        if job.id in self._awaiting_terminus:  # only task terminals were left
            self._terminus_empty(job)
            return
        terminals = self._task_terminals.get(job.id)
        if terminals is not None:
            terminals.abandon()  # no more waiting for a client or a terminal's reader
        execution = self._execs.get(job.id)
        if execution is not None and execution.running:
            # As flux's job-exec: SIGALRM on timeout, SIGTERM otherwise; SIGKILL later.
            first = signal.SIGALRM if context.get("type") == "timeout" else signal.SIGTERM
            execution.kill(first)
            self._timer(job, "kill", KILL_TIMEOUT, lambda j: self._signal(j, signal.SIGKILL))
            return
        if job.state == State.CLEANUP and job.status is None:
            if job.allocated and job.started:
                return  # exec already finishing; `finish` will follow
            if job.allocated:
                self._free(job)
            else:
                self.post(job, "clean")

    def _signal(self, job: Job, signum: int) -> None:
        execution = self._execs.get(job.id)
        if execution is not None:
            execution.kill(signum)

    def _debug(self, job: Job, name: str) -> None:
        """Job manager debugging events, for jobs submitted with the debug flag."""
        if job.flags & FLUX_JOB_DEBUG:
            self.post(job, name)

    def _free(self, job: Job) -> None:
        self._debug(job, "debug.free-request")
        allocation = self._allocations.pop(job.id, None)
        if allocation is not None:
            self.resources.free(allocation)
            self._want_schedule()
        self.post(job, "free")
        self.post(job, "clean")

    def _singleton_add(self, job: Job, name: str | None) -> None:
        """Count an active job for the singleton scheme (and release one if due)."""
        if name is None:
            return
        self._explicit_names[job.id] = name
        waiting = SINGLETON in job.dependencies and job.state == State.DEPEND
        self._singleton_release(self._singletons.add(job.id, job.userid, name, waiting))

    def _singleton_release(self, jobid: int | None) -> None:
        job = self.jobs.get(jobid) if jobid is not None else None
        if job is not None:
            self._remove_dependency(job, SINGLETON)

    def _inactive(self, job: Job) -> None:
        self._recent_jobspecs.pop(job.id, None)
        name = self._explicit_names.pop(job.id, None)
        self._singleton_release(self._singletons.remove(job.id, job.userid, name))
        self._resolve_dependents(job)
        self._pending_dependencies.pop(job.id, None)
        for key in [k for k in self._timers if k[0] == job.id]:
            self._timers.pop(key).cancel()
        for request in self._waiters.pop(job.id, []):
            self._answer_wait(request, job)
        if job.waitable:
            if self._wait_any:
                self._answer_wait(self._wait_any.pop(0), job)
            else:
                self._zombies[job.id] = job
        for hook in self.inactive_hooks:
            hook(job)
        self.store.forget(job.id)

    # -- timers ----------------------------------------------------------------------

    def _timer(self, job: Job, name: str, delay: float, callback: Callable[[Job], None]) -> None:
        def fire() -> None:
            self._timers.pop((job.id, name), None)
            callback(job)
            self.broker.request_flush()

        self._cancel_timer(job, name)
        self._timers[(job.id, name)] = self.loop.call_later(delay, fire)

    def _cancel_timer(self, job: Job, name: str) -> None:
        handle = self._timers.pop((job.id, name), None)
        if handle is not None:
            handle.cancel()

    # -- job-manager requests --------------------------------------------------------

    def _lookup(
        self,
        request: Request,
        unknown: tuple[int, str] = (errno.ENOENT, "unknown job id"),
        inactive: tuple[int, str] | None = None,
    ) -> Job:
        """The request's job; flux-core answers unknown or inactive jobs differently
        per service, so each caller says how."""
        jobid = request.payload_get("id", int)
        job = self.jobs.get(jobid)
        if job is None:
            raise RequestError(*unknown)
        if inactive is not None and job.state == State.INACTIVE:
            raise RequestError(*inactive)
        if job.userid != request.userid and request.userid != self.owner:
            raise RequestError(errno.EPERM, "guests can only act on their own jobs")
        return job

    def _raise(self, request: Request) -> None:
        job = self._lookup(request, inactive=(errno.ENOENT, "job is inactive"))
        kind = request.payload_get("type", str)
        severity = request.payload_get("severity", int)
        note = request.payload_get("note", str, "")
        if not 0 <= severity <= 7:
            raise RequestError(errno.EPROTO, "invalid exception severity")
        if not kind or any(c.isspace() or c == "=" for c in kind):
            raise RequestError(errno.EPROTO, "invalid exception type")
        context = {"type": kind, "severity": severity, "note": note, "userid": request.userid}
        self.post(job, "exception", context)
        request.respond(None)

    def _kill(self, request: Request) -> None:
        job = self._lookup(
            request,
            unknown=(errno.EINVAL, "unknown job id"),
            inactive=(errno.EINVAL, "job is inactive"),
        )
        signum = request.payload_get("signum", int)
        if not 0 < signum < signal.NSIG:
            raise RequestError(errno.EINVAL, "Invalid signal number")
        execution = self._execs.get(job.id)
        if job.state != State.RUN or execution is None or not execution.running:
            raise RequestError(errno.EINVAL, "job is not running")
        execution.kill(signum)
        request.respond(None)

    def _urgency(self, request: Request) -> None:
        job = self._lookup(
            request,
            unknown=(errno.EINVAL, "unknown job"),
            inactive=(errno.EINVAL, "job is inactive"),
        )
        urgency = request.payload_get("urgency", int)
        if not 0 <= urgency <= 31:
            raise RequestError(errno.EINVAL, "urgency value is out of range")
        if not job.state & State.PENDING:
            raise RequestError(
                errno.EINVAL, "urgency cannot be changed once resources are allocated"
            )
        old = job.urgency
        self.post(job, "urgency", {"urgency": urgency, "userid": request.userid})
        if job.state in (State.PRIORITY, State.SCHED):
            # As flux's job manager: a priority event follows, changed or not.
            priority = self._priority(job)
            self.post(job, "priority", {"priority": priority})
            if priority == 0:
                self.scheduler.dequeue(job.id)
        request.respond({"old_urgency": old})

    def _purge_id(self, request: Request) -> None:
        """Forget an inactive job for good (flux-core's payload and messages);
        with ``force`` 0, only say whether it could be purged."""
        jobid = request.payload_get("id", int)
        force = request.payload_get("force", int)
        job = self.jobs.get(jobid)
        if jobid == FLUX_JOBID_ANY:
            raise RequestError(errno.EINVAL)
        if job is None:
            raise RequestError(errno.ENOENT, "id not found")
        if job.state != State.INACTIVE:
            raise RequestError(errno.EINVAL, "cannot purge active job")
        if force:
            del self.jobs[jobid]
            self._zombies.pop(jobid, None)
            self.store.job_purge(jobid)
            for hook in self.purge_hooks:
                hook(jobid)
        request.respond({"count": 1})

    def _memo(self, request: Request) -> None:
        job = self._lookup(request, inactive=(errno.ENOENT, "job is inactive"))
        memo = request.payload_get("memo", dict)
        self.post(job, "memo", memo)
        request.respond(None)

    def _wait(self, request: Request) -> None:
        jobid = request.payload_get("id", int)
        if jobid in (FLUX_JOBID_ANY, -1):  # libjob sends ANY as -1 (jansson ints are signed)
            if self._zombies:
                self._answer_wait(request, next(iter(self._zombies.values())))
            elif self._waitable - len(self._wait_any) <= 0:
                raise RequestError(errno.ECHILD, "there are no more waitable jobs")
            else:
                self._wait_any.append(request)
            return
        no_wait = (errno.ECHILD, "invalid job id, or job may be inactive and not waitable")
        job = self._lookup(request, unknown=no_wait)
        if not job.waitable:
            if job.state == State.INACTIVE:
                raise RequestError(*no_wait)
            raise RequestError(errno.ECHILD, "job was not submitted with FLUX_JOB_WAITABLE")
        if job.state == State.INACTIVE:
            self._answer_wait(request, job)
        else:
            self._waiters.setdefault(job.id, []).append(request)

    def _answer_wait(self, request: Request, job: Job) -> None:
        # A waitable job's result is reaped by the first wait, like a zombie.
        if job.waitable:
            job.waitable = False
            self._waitable -= 1
            self._zombies.pop(job.id, None)
        errstr = "" if job.success else _wait_errstr(job)
        request.respond({"id": job.id, "success": job.success, "errstr": errstr})

    # -- restart -----------------------------------------------------------------------

    def restore(self) -> None:
        """Rebuild every job from the store after a restart (see docs: restart rule)."""
        from fluxsdk.eventlog import EventLogEvent

        active: list[tuple[Job, dict[str, Any]]] = []
        for jobid, userid in self.store.job_ids():
            entries = [EventLogEvent(line) for line in self.store.eventlog(jobid, "eventlog")]
            jobspec = json.loads(self.store.job_get(jobid, "jobspec") or "{}")
            submit = entries[0]
            ctx = submit.context
            job = self._new_job(
                jobid,
                userid,
                ctx["urgency"],
                ctx["flags"],
                jobspec,
                ResourceRequest.from_jobspec(jobspec),
                submit.timestamp,
            )
            job.waitable = bool(ctx["flags"] & FLUX_JOB_WAITABLE)
            if job.queue is None and self.queues:
                job.queue = self.queues[0]
            for entry in entries:
                self.apply(job, entry.name, entry.context, entry.timestamp)
            self.jobs[jobid] = job
            if job.waitable:
                self._waitable += 1
                if job.state == State.INACTIVE:
                    self._zombies[jobid] = job
            if job.state == State.INACTIVE:
                continue
            active.append((job, jobspec))
        # Singleton counts first (in submit order), so jobs that end while being
        # resumed release those waiting on them.
        for job, jobspec in active:
            self._singleton_add(job, explicit_name(jobspec))
        for job, jobspec in active:
            self.post(job, "flux-restart")
            self._resume(job, jobspec)

    def _resume(self, job: Job, jobspec: dict[str, Any]) -> None:
        """Pending jobs are queued again; running jobs lost their tasks with the old
        instance, so they end with a ``restart`` exception (nothing is rerun twice)."""
        if job.state in (State.RUN, State.CLEANUP) or job.allocated:
            # Tasks that outlived the old instance are stopped: nothing runs unowned.
            for pid, starttime in self.store.tasks(job.id):
                actual = _process_starttime(pid)
                if actual is not None and abs(actual - starttime) <= _START_TOLERANCE:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            if job.state == State.RUN:
                self.post(
                    job,
                    "exception",
                    {
                        "type": "restart",
                        "severity": 0,
                        "note": "job was running when the instance stopped",
                        "userid": self.owner,
                    },
                )
            if job.status is None and job.started:
                # Reported like a task killed by SIGKILL (shell form: 128+9).
                self.post(job, "finish", {"status": (128 + signal.SIGKILL) << 8})
            elif job.state != State.INACTIVE:
                self.post(job, "free")
                self.post(job, "clean")
            return
        if job.state == State.DEPEND:
            deps = jobspec["attributes"].get("system", {}).get("dependencies", [])
            remaining = []
            for dep in deps:
                scheme, value = dep["scheme"], dep["value"]
                kind = "begin-time" if scheme == "begin-time" else _AFTER_TYPES.get(scheme, "")
                description = f"{kind}={value}"
                if description in job.dependencies:
                    target = float(value) if kind == "begin-time" else id_parse(value)
                    remaining.append((description, target))
            # Re-arm what is still outstanding without posting dependency-add again.
            for description, target in remaining:
                if description.startswith("begin-time="):
                    delay = max(float(target) - time.time(), 0.0)
                    self._timer(
                        job,
                        description,
                        delay,
                        functools.partial(self._remove_dependency, description=description),
                    )
                else:
                    self._dependents.setdefault(int(target), []).append(
                        (job.id, description.split("=", 1)[0], description)
                    )
            if not remaining and SINGLETON not in job.dependencies:
                self.post(job, "depend")
            return
        if job.state == State.PRIORITY:
            self._prioritize(job)
        elif job.state == State.SCHED and self.queue_state.started(job.queue):
            self.scheduler.enqueue(job.id, job.priority or 0, job.t_submit, job.request)
            self._want_schedule()

    def resolve_restored_dependents(self) -> None:
        """After a restart, release dependents whose targets finished meanwhile."""
        for target_id in list(self._dependents):
            target = self.jobs.get(target_id)
            if target is not None and target.state == State.INACTIVE:
                self._resolve_dependents(target)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# How far a task's recorded start may be from what /proc reports, in clock ticks.
_START_TOLERANCE = 2


def _boot_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _CLOCK_TICKS)


def _process_starttime(pid: int) -> int | None:
    """A process's start time (clock ticks after boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # Field 22, counted after the parenthesised command name.
            return int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pmi_enabled(option: Any) -> bool:
    """flux's shell option ``pmi``: unset, or a list naming ``simple`` (or its
    aliases ``pmi1``, ``pmi2``), serves PMI-1 to the tasks."""
    if option is None:
        return True
    names = str(option).split(",")
    return any(name in ("simple", "pmi1", "pmi2") for name in names)


def _shell_env(job: Job, launch: Launch) -> dict[str, str]:
    """The variables flux's job shell sets for every task of a job, where they
    mean something here: the job's KVS namespace name, OpenMPI's shared-memory
    directory (the job's own), and the GPUs a task may use (none, -1, unless
    allocated; not with ``gpu-affinity=off``)."""
    env = {"FLUX_KVS_NAMESPACE": f"job-{job.id}"}
    if launch.options.get("mpi") != "none":
        env["OMPI_MCA_btl_vader_backing_directory"] = launch.tmpdir
    if launch.options.get("gpu-affinity", "on") != "off":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
        # Set only when the job's environment does not (flux does not overwrite it).
        env["CUDA_DEVICE_ORDER"] = launch.env.get("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    return env


def _satisfied(kind: str, target: Job) -> bool:
    if kind == "after-start":
        return target.started
    if target.state != State.INACTIVE:
        return False
    if kind == "after-finish":
        return True
    if kind == "after-success":
        return target.result == RESULT_COMPLETED
    if kind == "after-failure":
        return target.allocated and target.result != RESULT_COMPLETED
    if kind == "after-except":
        return target.allocated and target.exception is not None
    return False


def _unsatisfiable(kind: str, target: Job) -> str | None:
    """flux's rejection message for a dependency on an inactive job, or None."""
    if kind != "after-finish" and not target.allocated:
        return "after: {} never started"
    if kind == "after-start" and not target.started:
        return "after: {} never started"
    if kind == "after-success" and target.result != RESULT_COMPLETED:
        return "afterok: job {} failed or was canceled"
    if kind == "after-failure" and target.result == RESULT_COMPLETED:
        return "afternotok: job {} succeeded"
    if kind == "after-except" and target.exception is None:
        return "afterexcept: job {}: no exception"
    return None


def _wait_errstr(job: Job) -> str:
    """flux-core's wording (job-manager/wait.c), quirks included."""
    if job.exception is not None:
        return f"Fatal exception type={job.exception['type']} {job.exception.get('note', '')}"
    status = job.status or 0
    if os.WIFSIGNALED(status):
        return f"job shell {_strsignal(os.WTERMSIG(status))}"
    code = os.WEXITSTATUS(status)
    if code > 128:
        return f"task(s) {_strsignal(code - 128)}"
    return f"task(s) exited with exit code {code}"


def _one_line(exc: BaseException) -> str:
    """An exception as a note for a job's eventlog: one line, storable text."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _strsignal(signum: int) -> str:
    return signal.strsignal(signum) or f"Unknown signal {signum}"


def _redacted(jobspec: dict[str, Any]) -> str:
    system = jobspec.get("attributes", {}).get("system", {})
    if "environment" not in system:
        return json.dumps(jobspec, separators=(",", ":"))
    copy = dict(jobspec)
    copy["attributes"] = dict(copy["attributes"])
    copy["attributes"]["system"] = {k: v for k, v in system.items() if k != "environment"}
    return json.dumps(copy, separators=(",", ":"))


def _resource_summary(allocation: Allocation) -> str:
    """sched-simple's summary of an allocation, e.g. ``rank0/core[0-1]``."""
    brackets = IDSET_FLAG_BRACKETS | IDSET_FLAG_RANGE
    groups: dict[str, list[int]] = {}
    for rank in allocation.ranks:
        text = f"core{idset_text(allocation.cores[rank], brackets)}"
        gpus = allocation.gpus.get(rank, ())
        if gpus:
            text += f",gpu{idset_text(gpus, brackets)}"
        groups.setdefault(text, []).append(rank)
    return " ".join(
        f"rank{idset_text(tuple(ranks), brackets)}/{text}" for text, ranks in groups.items()
    )
