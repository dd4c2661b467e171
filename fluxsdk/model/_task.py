"""Task: one unit of work, realised as one flux job (``instancecount`` tasks of it)."""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from fluxsdk.core import RPC
from fluxsdk.errors import InvalidInputError
from fluxsdk.job import JobID, Jobspec, JobspecV1, event_watch_async, job_output
from fluxsdk.job.event import JobEventWatchFuture, JobIDLike
from fluxsdk.job.output import JobOutput
from fluxsdk.model import _meta
from fluxsdk.model._errors import UnauthorizedException, not_found, translate
from fluxsdk.model._live import LiveObject
from fluxsdk.model._meta import Kind
from fluxsdk.model._record import JobRecord
from fluxsdk.model._site import Site
from fluxsdk.model._snapshots import Error, TaskSnapshot
from fluxsdk.model._states import TaskState
from fluxsdk.model._timespan import TimespanLike, format_timespan, parse_timespan

if TYPE_CHECKING:
    from fluxsdk.model._connection import Connection
    from fluxsdk.model._job import Job
    from fluxsdk.model._pool import Pool

__all__ = ["Progress", "Task", "ended_is_fine", "rejected"]

Progress = Callable[["Task", TaskState], None]
"""A progress callback for :meth:`Task.wait`: called with the task and each new state."""

# Main eventlog entries after which a waiting task re-reads its state.
_STATE_EVENTS: Final = frozenset({"depend", "alloc", "exception", "finish", "clean"})


@attrs.define(eq=False, repr=False)
class Task(LiveObject[TaskSnapshot]):
    """One unit of work: a command (or jobspec) run as one flux job.

    Create tasks with :meth:`Connection.create_task`, find them with
    :meth:`Connection.tasks` or :meth:`Connection.retrieve_task`. The task's
    :attr:`uuid` is its flux :class:`~fluxsdk.job.JobID`. Properties marked
    "until submitted" raise ``AttributeError`` when set afterwards.
    """

    kind: ClassVar[Kind] = "task"

    _command: list[str] | None = None
    _jobspec: Jobspec | None = None
    _instancecount: int = 1
    _cores: int = 1
    _job: Job | None = None
    _job_uuid: JobID | None = None
    _pool: Pool | None = None
    _pool_uuid: JobID | None = None
    _labels: dict[str, str] = attrs.field(factory=dict)
    _constants: dict[str, str] = attrs.field(factory=dict)
    _dependencies: list[Task | JobID] = attrs.field(factory=list)
    _max_wall_time: timedelta | None = None
    _read: dict[str, int] = attrs.field(factory=dict)

    # -- construction ----------------------------------------------------------------

    @classmethod
    def _create(
        cls,
        connection: Connection,
        name: str,
        work: Sequence[str] | Jobspec,
        instancecount: int,
        job: Job | None,
        pool: Pool | None,
        shortname: str | None,
        cores_per_instance: int,
    ) -> Task:
        """A new, unsubmitted task (see :meth:`Connection.create_task`)."""
        task = cls(connection, name)
        if isinstance(work, Jobspec):
            task._jobspec = work
            task._instancecount = _instances_of(work)
            if instancecount not in (1, task._instancecount):
                raise InvalidInputError(
                    f"instancecount={instancecount} contradicts the jobspec, which runs "
                    f"{task._instancecount} tasks: leave instancecount out with a jobspec"
                )
        else:
            if isinstance(work, str):
                raise TypeError(f"a task's command is a list of words, not a string: {work!r}")
            task._command = list(work)
            task.instancecount = instancecount
        if cores_per_instance < 1:
            raise InvalidInputError(f"cores_per_instance must be >= 1, got {cores_per_instance}")
        task._cores = cores_per_instance
        if job is not None and pool is not None and job.pool_jobid != pool.jobid:
            raise InvalidInputError(
                f"task {name!r} names pool {pool.name!r} but its job {job.name!r} runs in "
                f"{'no pool' if job.pool_jobid is None else 'pool ' + str(job.pool_jobid)}: "
                "give only the job (its tasks run in its pool)"
            )
        task._job = job
        task._pool = pool if pool is not None else (job.pool if job is not None else None)
        if shortname is not None:
            task.shortname = shortname
        return task

    @classmethod
    def _listed(cls, connection: Connection, site: Site, record: JobRecord) -> Task:
        """A task found in a listing (its description is read when first needed)."""
        task = cls(connection, record.name, described=False)
        task._attach(site, record.id, record)
        record = task._record or record
        listing = site.listed(record)
        if listing is not None and listing.job is not None:
            task._job_uuid = JobID(listing.job)
        task._pool_uuid = JobID(site.pool) if site.pool is not None else None
        task._cache.put(task._snapshot_of(record, listing.tags if listing else ()))
        return task

    @classmethod
    def from_json(cls, connection: Connection, payload: Mapping[str, Any]) -> Task:
        """A task from the dictionary :meth:`to_json` returns.

        A submitted task is bound to its flux job again (its state is refreshed
        on first read); an unsubmitted one is rebuilt as a draft.
        """
        uuid = payload.get("uuid")
        if uuid is not None:
            pool_uuid = payload.get("poolUuid")
            site = connection._site_for_uuid(pool_uuid)
            record = site.watcher.fetch(JobID(uuid))
            if record is None:
                raise not_found("task", uuid)
            return cls._listed(connection, site, record)
        command = payload.get("command")
        if not command:
            raise InvalidInputError("an unsubmitted task's JSON needs its 'command'")
        task = cls._create(
            connection,
            str(payload.get("name", "")),
            list(command),
            int(payload.get("instanceCount", 1)),
            None,
            None,
            payload.get("shortname"),
            int(payload.get("coresPerInstance", 1)),
        )
        task._load(_json_to_meta(payload))
        return task

    def to_json(self) -> dict[str, Any]:
        """The task as a JSON-ready dictionary (Qarnot's key names)."""
        snapshot = self._cache.peek()
        return {
            "uuid": self.uuid,
            "name": self.name,
            "shortname": self.shortname,
            "command": self.command,
            "instanceCount": self.instancecount,
            "coresPerInstance": self._cores,
            "jobUuid": self.job_uuid,
            "poolUuid": self.pool_uuid,
            "state": str(snapshot.state),
            "tags": list(self.tags) if self._uuid is None else list(snapshot.tags),
            "labels": dict(self.labels),
            "constants": dict(self.constants),
            "dependencies": [str(d) for d in self.dependencies],
            "maxWallTime": self.max_wall_time,
            "creationDate": _iso(snapshot.creation_date),
            "stateTransitionTime": _iso(snapshot.state_transition_time),
            "exitCode": snapshot.exit_code,
            "errors": [attrs.asdict(e) for e in snapshot.errors],
        }

    # -- description -------------------------------------------------------------------

    @property
    def command(self) -> list[str] | None:
        """The command each instance runs (None for a task built from a jobspec)."""
        self._describe()
        return list(self._command) if self._command is not None else None

    @property
    def instancecount(self) -> int:
        """How many instances (flux tasks) of the command run. Can be set until submitted."""
        self._describe()
        return self._instancecount

    @instancecount.setter
    def instancecount(self, value: int) -> None:
        self._check_unsubmitted("instancecount")
        if self._jobspec is not None:
            raise AttributeError("a jobspec task's instancecount comes from its jobspec")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"instancecount must be an int >= 1, got {value!r}")
        self._instancecount = value

    @property
    def job_uuid(self) -> str | None:
        """The uuid of the :class:`Job` the task belongs to, if any (see :attr:`uuid`)."""
        jobid = self.job_jobid
        return None if jobid is None else jobid.f58

    @property
    def job_jobid(self) -> JobID | None:
        """The flux job ID of the :class:`Job` the task belongs to, if any."""
        if self._job is not None:
            return self._job.jobid
        return self._job_uuid

    @property
    def job(self) -> Job | None:
        """The :class:`Job` the task belongs to, if any."""
        if self._job is None and self._job_uuid is not None:
            self._job = self._connection.retrieve_job(self._job_uuid)
        return self._job

    @property
    def pool_uuid(self) -> str | None:
        """The uuid of the :class:`Pool` the task runs in, if any (see :attr:`uuid`)."""
        jobid = self.pool_jobid
        return None if jobid is None else jobid.f58

    @property
    def pool_jobid(self) -> JobID | None:
        """The flux job ID of the :class:`Pool` the task runs in, if any."""
        if self._pool is not None:
            return self._pool.jobid
        return self._pool_uuid

    @property
    def pool(self) -> Pool | None:
        """The :class:`Pool` the task runs in (its job's pool by default). Can be set until
        submitted."""
        if self._pool is None and self._pool_uuid is not None:
            self._pool = self._connection.retrieve_pool(self._pool_uuid)
        return self._pool

    @pool.setter
    def pool(self, value: Pool | None) -> None:
        self._check_unsubmitted("pool")
        if self._job is not None and value is not None and value.jobid != self._job.pool_jobid:
            raise InvalidInputError("a task of a job runs in its job's pool: set the job's pool")
        self._pool = value

    @property
    def labels(self) -> Mapping[str, str]:
        """Key/value pairs to find the task by; they do not affect how it runs.

        Can be set (or edited in place) until submitted; read-only afterwards.
        """
        self._describe()
        if self._uuid is None:
            return self._labels
        return MappingProxyType(self._labels)

    @labels.setter
    def labels(self, value: Mapping[str, str]) -> None:
        self._check_unsubmitted("labels")
        self._labels = _str_dict("labels", value)

    @property
    def constants(self) -> Mapping[str, str]:
        """Environment variables set for every instance (over the submitting process's
        environment, or the jobspec's). Can be set until submitted."""
        self._describe()
        if self._uuid is None:
            return self._constants
        return MappingProxyType(self._constants)

    @constants.setter
    def constants(self, value: Mapping[str, str]) -> None:
        self._check_unsubmitted("constants")
        self._constants = _str_dict("constants", value)

    @property
    def dependencies(self) -> list[Task | JobID]:
        """The tasks this one waits for: it runs once all of them succeeded.

        Set it to tasks (or their uuids) of the same job, which must have been
        created with ``use_dependencies=True``; tasks not submitted yet must be
        submitted first, or together with :meth:`Connection.submit_tasks`. Once
        submitted, the list holds uuids. Can be set until submitted.
        """
        self._describe()
        return list(self._dependencies)

    @dependencies.setter
    def dependencies(self, value: Sequence[Task | JobIDLike]) -> None:
        self._check_unsubmitted("dependencies")
        self._dependencies = [d if isinstance(d, Task) else JobID(d) for d in value]

    @property
    def max_wall_time(self) -> str | None:
        """The time limit of the task, as ``hh:mm:ss`` or ``d.hh:mm:ss`` (None: none).

        Set it from such a string or a :class:`~datetime.timedelta`. A task of a
        job with a ``max_wall_time`` also ends by the job's deadline. Can be set
        until submitted.
        """
        self._describe()
        return format_timespan(self._max_wall_time) if self._max_wall_time else None

    @max_wall_time.setter
    def max_wall_time(self, value: TimespanLike | None) -> None:
        self._check_unsubmitted("max_wall_time")
        self._max_wall_time = None if value is None else parse_timespan(value)

    def _load(self, meta: Mapping[str, Any]) -> None:
        super()._load(meta)
        self._command = list(meta["command"]) if meta.get("command") else None
        self._instancecount = int(meta.get("instancecount", 1))
        self._cores = int(meta.get("cores", 1))
        self._labels = dict(meta.get("labels") or {})
        self._constants = dict(meta.get("constants") or {})
        self._dependencies = [JobID(d) for d in meta.get("dependencies") or []]
        wall = meta.get("max_wall_time")
        self._max_wall_time = timedelta(seconds=wall) if wall else None
        if meta.get("job"):
            self._job_uuid = JobID(meta["job"])
        if meta.get("pool"):
            self._pool_uuid = JobID(meta["pool"])
        if self._uuid is None:
            self._tags = list(meta.get("tags") or [])

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> TaskState:
        """The task's state (a :class:`TaskState`; compares equal to Qarnot's names)."""
        return self._view().state

    @property
    def creation_date(self) -> datetime | None:
        """When the task was submitted (UTC); None before."""
        return self._view().creation_date

    @property
    def state_transition_time(self) -> datetime | None:
        """When the task entered its current state (UTC); None before submission."""
        return self._view().state_transition_time

    @property
    def exit_code(self) -> int | None:
        """The largest exit code of the instances once ended (minus the signal number if
        killed by one); None before."""
        return self._view().exit_code

    @property
    def errors(self) -> list[Error]:
        """Why the task failed or was cancelled (empty otherwise)."""
        return list(self._view().errors)

    def _unsubmitted(self) -> TaskSnapshot:
        return TaskSnapshot(TaskState.UnSubmitted)

    def _snapshot_of(self, record: JobRecord, tags: tuple[str, ...]) -> TaskSnapshot:
        return TaskSnapshot.of(record, tags)

    # -- submission --------------------------------------------------------------------

    def submit(self) -> None:
        """Submit the task to run, unless it was submitted already.

        :raises UnauthorizedException: its job or pool takes no more tasks.
        :raises InvalidInputError: the task cannot run as described (the message
            says what to change), e.g. a dependency outside its job.
        :raises OSError: the instance rejected the job (e.g. an impossible request).
        """
        if self._uuid is not None:
            return
        site, jobspec = self._prepare()
        future = self._connection._submit_async(site, jobspec)
        try:
            jobid = future.get_id()
        except OSError as exc:
            raise rejected(self, exc) from None
        self._submitted(site, jobid, jobspec)
        ended_is_fine(self._memo_rpc())

    def _prepare(self, checked_jobs: set[int] | None = None) -> tuple[Site, Jobspec]:
        """Check the task and build its jobspec; returns the site to submit it to."""
        job = self._job
        if job is not None:
            job._require_accepting(checked_jobs)
        pool = self._pool if self._pool is not None else (job.pool if job else None)
        site = self._connection._pool_site(pool) if pool is not None else self._connection._root
        dependencies = self._resolved_dependencies(site)
        jobspec = self._build_jobspec(dependencies, pool)
        return site, jobspec

    def _resolved_dependencies(self, site: Site) -> list[JobID]:
        if not self._dependencies:
            return []
        job = self._job
        if job is None or not job.use_dependencies:
            raise InvalidInputError(
                f"task {self.name!r} has dependencies, but tasks may depend on each other only "
                "in a Job created with use_dependencies=True"
            )
        out: list[JobID] = []
        for dep in self._dependencies:
            if isinstance(dep, Task):
                if dep.jobid is None:
                    raise InvalidInputError(
                        f"task {self.name!r} depends on {dep.name!r}, which is not submitted: "
                        "submit it first (or submit both with Connection.submit_tasks)"
                    )
                if dep._site is not site:
                    raise InvalidInputError(
                        f"task {self.name!r} depends on {dep.name!r}, which runs elsewhere "
                        "(another pool): dependencies must run on the same instance"
                    )
                out.append(dep.jobid)
            else:
                out.append(dep)
        return out

    def _build_jobspec(self, dependencies: list[JobID], pool: Pool | None) -> Jobspec:
        if self._jobspec is not None:
            jobspec = type(self._jobspec)(**copy.deepcopy(self._jobspec.jobspec))
        else:
            assert self._command is not None
            jobspec = JobspecV1.from_command(
                self._command, num_tasks=self._instancecount, cores_per_task=self._cores
            )
        environment = dict(jobspec.environment or os.environ)
        environment.update(self._constants)
        jobspec.environment = environment
        jobspec.setattr("system.job.name", self.name)
        wall = self._deadline_wall_time()
        if wall is not None:
            jobspec.duration = max(wall.total_seconds(), 0.001)
        if dependencies:
            deps = [{"scheme": "afterok", "value": str(int(d))} for d in dependencies]
            jobspec.setattr("system.dependencies", deps)
        meta = {
            "kind": "task",
            "version": _meta.VERSION,
            "name": self.name,
            "shortname": self._shortname,
            "tags": list(self._tags),
            "labels": dict(self._labels),
            "constants": dict(self._constants),
            "command": self._command,
            "instancecount": self._instancecount,
            "cores": self._cores,
            "job": str(int(self._job.jobid)) if self._job and self._job.jobid else None,
            "pool": str(int(pool.jobid)) if pool is not None and pool.jobid else None,
            "dependencies": [str(int(d)) for d in dependencies],
            "max_wall_time": self._max_wall_time.total_seconds() if self._max_wall_time else None,
        }
        jobspec.setattr(f"user.{_meta.KEY}", meta)
        return jobspec

    def _deadline_wall_time(self) -> timedelta | None:
        """The task's own limit, shortened to what is left of its job's."""
        limits = [self._max_wall_time] if self._max_wall_time else []
        if self._job is not None:
            left = self._job._time_left()
            if left is not None:
                limits.append(left)
        return min(limits) if limits else None

    def _submitted(self, site: Site, jobid: JobID, jobspec: Jobspec) -> None:
        """Bind the task to its new flux job."""
        site.remember(jobid, jobspec)
        self._attach(site, jobid, None)
        described = jobspec.getattr(f"user.{_meta.KEY}")
        self._dependencies = [JobID(d) for d in described["dependencies"]]
        site.watcher.track(jobid, submitted=time.time())
        if self._job is not None:
            self._job_uuid = self._job.jobid
        if self._pool is not None:
            self._pool_uuid = self._pool.jobid
        # As Qarnot's SDK: the state at submission is served for update_cache_time.
        self._cache.put(TaskSnapshot(TaskState.Submitted, tags=tuple(self._tags)))

    def _memo_rpc(self) -> RPC:
        """Post the listing memo (what listings filter on), without waiting."""
        site = self._require_site()
        return site.memo(self._require_uuid(), {_meta.KEY: self._memo_listing(self._tags)})

    def _memo_listing(self, tags: list[str]) -> dict[str, Any]:
        job = self.job_jobid
        return _meta.memo_listing("task", str(int(job)) if job is not None else None, tags)

    # -- waiting and output ----------------------------------------------------------

    def wait(self, timeout: float | None = None, live_progress: bool | Progress = False) -> bool:
        """Wait until the task ends; returns whether it ended (False on timeout).

        Waiting follows the task's eventlog (no polling). With ``live_progress``
        True each new state is printed to stderr; a callable is called with the
        task and each new state instead.

        :raises MissingTaskException: the task does not exist (any more).
        """
        if self._uuid is None or self._deleted:
            return False
        site = self._require_site()
        report = _progress(live_progress)
        deadline = None if timeout is None else time.monotonic() + timeout
        if site.watcher.live:
            return self._wait_live(deadline, report)
        watch = event_watch_async(site.handle, self._uuid)
        last: TaskState | None = None
        try:
            while True:
                self._cache.update(flushcache=True)
                state = self._cache.peek().state
                if report is not None and state != last:
                    report(self, state)
                last = state
                if state.is_final:
                    return True
                if not _next_state_event(watch, deadline):
                    return False
        finally:
            watch.cancel()

    def _wait_live(self, deadline: float | None, report: Progress | None) -> bool:
        """wait() on the journal stream: each event is applied as it comes."""
        watcher = self._require_site().watcher
        last: TaskState | None = None
        while True:
            self.update()
            state = self._cache.peek().state
            if report is not None and state is not last:
                report(self, state)
            last = state
            if state.is_final:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            if not watcher.wait_event(remaining) and not watcher.live:
                # The stream ended: follow the task's eventlog from here.
                return self.wait(remaining, report or False)

    async def states(self) -> AsyncIterator[TaskState]:
        """Each state the task takes from now on, up to its final one::

            async for state in task.states():
                print(task.name, state)

        Driven by the journal stream from the running asyncio loop (no thread).
        """
        async for state in self._states():
            yield TaskState(state)

    def stdout(self) -> str:
        """Everything the instances wrote to stdout so far ("" before they started)."""
        return self._output().stdout

    def stderr(self) -> str:
        """Everything the instances wrote to stderr so far ("" before they started)."""
        return self._output().stderr

    def fresh_stdout(self) -> str:
        """What the instances wrote to stdout since the last ``fresh_stdout()`` call."""
        return self._fresh("stdout", self._output().stdout)

    def fresh_stderr(self) -> str:
        """What the instances wrote to stderr since the last ``fresh_stderr()`` call."""
        return self._fresh("stderr", self._output().stderr)

    def _fresh(self, stream: str, text: str) -> str:
        start = self._read.get(stream, 0)
        self._read[stream] = len(text)
        return text[start:]

    def _output(self) -> JobOutput:
        if self._uuid is None:
            return JobOutput("", "", "")
        site = self._require_site()
        if self._deleted:
            raise not_found("task", self._uuid)
        try:
            return job_output(site.handle, self._uuid, nowait=True)
        except FileNotFoundError:
            if site.watcher.fetch(self._uuid) is None:
                raise not_found("task", self._uuid) from None
            return JobOutput("", "", "")  # not started yet: no output eventlog
        except OSError as exc:
            raise translate(exc, "task", self._uuid, "read the output of") from None

    # -- steering --------------------------------------------------------------------

    def abort(self) -> None:
        """Stop the task (its running instances get SIGTERM, then SIGKILL).

        :raises UnauthorizedException: the task is not running or pending any more.
        :raises MissingTaskException: the task does not exist.
        """
        site = self._require_site()
        uuid = self._require_uuid()
        try:
            site.cancel(uuid, "aborted with Task.abort()").get()
        except FileNotFoundError:
            self._cache.update(flushcache=True)
            raise UnauthorizedException(
                f"cannot abort task {uuid}: it is not running any more "
                f"(state {self._cache.peek().state})"
            ) from None
        except OSError as exc:
            raise translate(exc, "task", uuid, "abort") from None
        self._cache.expire()

    def delete(self) -> None:
        """Delete the task from the instance (aborting it first if it still runs).

        Afterwards no connection lists or retrieves it, and this object's
        :attr:`state` is ``Deleted``.

        :raises MissingTaskException: the task does not exist (any more).
        """
        if self._uuid is None:
            self._deleted = True
            self._cache.put(TaskSnapshot(TaskState.Deleted))
            return
        site = self._require_site()
        record = site.watcher.fetch(self._uuid)
        if record is None or self._deleted:
            raise not_found("task", self._uuid)
        site.remove([record], "deleted with Task.delete()")
        self._mark_deleted()

    def _mark_deleted(self) -> None:
        self._deleted = True
        self._cache.put(TaskSnapshot(TaskState.Deleted, tags=self._cache.peek().tags))


def _instances_of(jobspec: Jobspec) -> int:
    """How many tasks a jobspec runs."""
    count = jobspec.tasks[0].get("count", {})
    if "total" in count:
        return int(count["total"])
    return int(jobspec.resource_counts().get("slot", 1)) * int(count.get("per_slot", 1))


def _str_dict(what: str, value: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping of strings, not {type(value).__name__}")
    out = dict(value)
    for key, item in out.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{what} must map strings to strings, got {key!r}: {item!r}")
    return out


def _json_to_meta(payload: Mapping[str, Any]) -> dict[str, Any]:
    wall = payload.get("maxWallTime")
    return {
        "shortname": payload.get("shortname"),
        "command": payload.get("command"),
        "instancecount": payload.get("instanceCount", 1),
        "cores": payload.get("coresPerInstance", 1),
        "labels": payload.get("labels") or {},
        "constants": payload.get("constants") or {},
        "tags": payload.get("tags") or [],
        "max_wall_time": parse_timespan(wall).total_seconds() if wall else None,
    }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _progress(live_progress: bool | Progress) -> Progress | None:
    if live_progress is True:
        return lambda task, state: print(
            f"{task.name} ({task.jobid}): {state}", file=sys.stderr, flush=True
        )
    if callable(live_progress):
        return live_progress
    return None


def _next_state_event(watch: JobEventWatchFuture, deadline: float | None) -> bool:
    """Wait for the next eventlog entry that may change the task's state.

    Returns False when ``deadline`` passes first.
    """
    while True:
        remaining = -1.0 if deadline is None else deadline - time.monotonic()
        if deadline is not None and remaining <= 0:
            return False
        try:
            watch.wait_for(remaining)
        except TimeoutError:
            return False
        event = watch.get_event()
        if event is None or event.name in _STATE_EVENTS:
            return True


def rejected(task: Task, exc: OSError) -> OSError:
    """The error for a submission the instance refused (its errno kept: flux uses
    EPERM for a jobspec its validator refuses, so that is no UnauthorizedException)."""
    return OSError(exc.errno, f"task {task.name!r} was rejected by the instance: {exc.strerror}")


def ended_is_fine(rpc: RPC) -> None:
    """Wait for a memo; a task that already ended keeps its jobspec's description."""
    with contextlib.suppress(FileNotFoundError):
        rpc.get()
