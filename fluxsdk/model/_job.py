"""Job: a named group of tasks (Qarnot's Job), realised as a held flux job.

The group's record is a flux job submitted with urgency 0: it never runs and
uses no resources, but it stays active, so it keeps taking memos (tags,
terminated, completed...) until the job is deleted; every process reads the
group from it. Its state follows Azure Batch / Qarnot's rules:

* ``Active`` until :meth:`Job.terminate` (or until ``max_wall_time`` passes);
* ``Terminating`` while tasks of a terminated job still run;
* ``Completed`` once terminated and every task ended; a job with a
  ``completion_ttl`` is deleted that long after;
* ``Deleting`` while (and after) :meth:`Job.delete` removes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from fluxsdk.errors import InvalidInputError
from fluxsdk.job import JobID, submit_async
from fluxsdk.job.submit import FLUX_JOB_URGENCY_HOLD
from fluxsdk.model import _meta
from fluxsdk.model._errors import UnauthorizedException, not_found, translate
from fluxsdk.model._live import LiveObject
from fluxsdk.model._meta import Kind
from fluxsdk.model._record import JobRecord, utc
from fluxsdk.model._site import Site, hold_jobspec
from fluxsdk.model._snapshots import JobSnapshot
from fluxsdk.model._states import JobState
from fluxsdk.model._timespan import TimespanLike, format_timespan, parse_timespan

if TYPE_CHECKING:
    from fluxsdk.model._connection import Connection
    from fluxsdk.model._pool import Pool
    from fluxsdk.model._task import Task

__all__ = ["Job"]


@attrs.define(eq=False, repr=False, init=False)
class Job(LiveObject[JobSnapshot]):
    """A named group of tasks, with a state derived from them.

    Create jobs with :meth:`Connection.create_job` (or, as in Qarnot's SDK,
    ``Job(connection, name, pool=None, shortname=None, use_dependencies=False)``),
    find them with :meth:`Connection.jobs` or :meth:`Connection.retrieve_job`.
    Setters of properties that can be set "until submitted" raise
    ``AttributeError`` afterwards.
    """

    kind: ClassVar[Kind] = "job"
    _by_record: ClassVar[bool] = False  # the state also follows from the tasks, and time

    _pool: Pool | None = None
    _pool_uuid: JobID | None = None
    _use_dependencies: bool = False
    _max_wall_time: timedelta | None = None
    _auto_delete: bool = False
    _completion_ttl: timedelta | None = None
    _created: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc))
    _fetch_age: float = 0.0

    # -- construction ----------------------------------------------------------------

    def __init__(
        self,
        connection: Connection,
        name: str,
        pool: Pool | None = None,
        shortname: str | None = None,
        use_dependencies: bool = False,
    ) -> None:
        """A new, unsubmitted job (Qarnot's signature; see :meth:`Connection.create_job`).

        :param connection: the connection whose instance runs the job
        :param name: given name of the job
        :param pool: which (submitted) pool runs the job's tasks, if any
        :param shortname: a unique, DNS-compliant name (default: the uuid)
        :param use_dependencies: allow dependencies between the job's tasks
        """
        self.__attrs_init__(connection, name)
        self._pool = pool
        self._use_dependencies = bool(use_dependencies)
        if shortname is not None:
            self.shortname = shortname

    @classmethod
    def _listed(cls, connection: Connection, site: Site, record: JobRecord) -> Job:
        """A job found in a listing (its description is read when first needed)."""
        job = cls.__new__(cls)
        job.__attrs_init__(connection, _display_name(record), described=False)
        job._attach(site, record.id, record)
        record = job._record or record
        job._created = utc(record.t_submit) or job._created
        return job

    @classmethod
    def from_json(cls, connection: Connection, payload: Mapping[str, Any]) -> Job:
        """Create a Job object from a json job (the dictionary :meth:`to_json` returns,
        with Qarnot's key names).

        With a ``uuid`` the job is retrieved from the instance; without one, an
        unsubmitted job is built from the description.
        """
        uuid = payload.get("uuid")
        if uuid:
            return connection.retrieve_job(uuid)
        pool = payload.get("poolUuid")
        job = cls(
            connection,
            str(payload.get("name", "")),
            connection.retrieve_pool(pool) if pool else None,
            payload.get("shortname"),
            bool(payload.get("useDependencies", False)),
        )
        job.tags = list(payload.get("tags") or [])
        if payload.get("maxWallTime"):
            job.max_wall_time = payload["maxWallTime"]
        job.auto_delete = bool(payload.get("autoDeleteOnCompletion", False))
        if payload.get("completionTimeToLive"):
            job.completion_ttl = payload["completionTimeToLive"]
        return job

    def to_json(self) -> dict[str, Any]:
        """The job as a JSON-ready dictionary, with Qarnot's key names."""
        snapshot = self._cache.peek()
        return {
            "uuid": str(self._uuid) if self._uuid is not None else None,
            "name": self.name,
            "shortname": self.shortname,
            "poolUuid": self.pool_uuid,
            "useDependencies": self.use_dependencies,
            "state": str(snapshot.state),
            "tags": list(self._tags) if self._uuid is None else list(snapshot.tags),
            "creationDate": self.creation_date.isoformat(),
            "maxWallTime": self.max_wall_time,
            "autoDeleteOnCompletion": self.auto_delete,
            "completionTimeToLive": self.completion_ttl,
        }

    # -- description -------------------------------------------------------------------

    @property
    def use_dependencies(self) -> bool:
        """Whether tasks of this job may depend on each other. Can be set until submitted."""
        self._describe()
        return self._use_dependencies

    @use_dependencies.setter
    def use_dependencies(self, value: bool) -> None:
        self._check_unsubmitted("use_dependencies")
        self._use_dependencies = bool(value)

    @property
    def pool_uuid(self) -> str | None:
        """The uuid of the pool the job's tasks run in, if any (see :attr:`uuid`)."""
        jobid = self.pool_jobid
        return None if jobid is None else jobid.f58

    @property
    def pool_jobid(self) -> JobID | None:
        """The flux job ID of the pool the job's tasks run in, if any."""
        self._describe()
        return self._pool.jobid if self._pool is not None else self._pool_uuid

    @property
    def pool(self) -> Pool | None:
        """The pool to run the job's tasks in. Can be set until submitted."""
        if self._pool is None and self.pool_jobid is not None:
            self._pool = self._connection.retrieve_pool(self.pool_jobid)
        return self._pool

    @pool.setter
    def pool(self, value: Pool | None) -> None:
        self._check_unsubmitted("pool")
        self._pool = value

    @property
    def creation_date(self) -> datetime:
        """Creation date of the job (UTC): its submission, or the object's creation before."""
        return self._created

    @property
    def max_wall_time(self) -> str | None:
        """The job's maximum wall time, as ``hh:mm:ss`` or ``d.hh:mm:ss`` (None: none).

        Counted from the job's creation: each task is limited to what is left of
        it, and the job is terminated once it has passed. Set it from such a
        string or a :class:`~datetime.timedelta`. Can be set until submitted.
        """
        self._describe()
        return format_timespan(self._max_wall_time) if self._max_wall_time else None

    @max_wall_time.setter
    def max_wall_time(self, value: TimespanLike | None) -> None:
        self._check_unsubmitted("max_wall_time")
        self._max_wall_time = None if value is None else parse_timespan(value)

    @property
    def auto_delete(self) -> bool:
        """Delete this job once it is completed and the connection's ``max_jobs`` is
        reached (default False). Can be set until submitted.

        :raises AttributeError: when set after submission.
        """
        self._describe()
        return self._auto_delete

    @auto_delete.setter
    def auto_delete(self, value: bool) -> None:
        self._check_unsubmitted("auto_delete")
        self._auto_delete = bool(value)

    @property
    def completion_ttl(self) -> str:
        """How long the job is kept once completed, as ``hh:mm:ss`` or ``d.hh:mm:ss``
        (``"00:00:00"``, the default: kept until deleted).

        Set it from such a string or a :class:`~datetime.timedelta`. Can be set
        until submitted.

        :raises AttributeError: when set after submission.
        """
        self._describe()
        return format_timespan(self._completion_ttl or timedelta(0))

    @completion_ttl.setter
    def completion_ttl(self, value: TimespanLike) -> None:
        self._check_unsubmitted("completion_ttl")
        ttl = parse_timespan(value)
        self._completion_ttl = ttl or None

    def _load(self, meta: Mapping[str, Any]) -> None:
        super()._load(meta)
        self._pool_uuid = JobID(meta["pool"]) if meta.get("pool") else None
        self._use_dependencies = bool(meta.get("use_dependencies"))
        wall, ttl = meta.get("max_wall_time"), meta.get("completion_ttl")
        self._max_wall_time = timedelta(seconds=wall) if wall else None
        self._auto_delete = bool(meta.get("auto_delete"))
        self._completion_ttl = timedelta(seconds=ttl) if ttl else None

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> JobState:
        """State of the job: UnSubmitted, Active, Terminating, Completed or Deleting.

        Refreshed as the cache allows (see :attr:`auto_update`).
        """
        return self._view().state

    @property
    def state_transition_time(self) -> datetime | None:
        """When the job entered its current state (UTC)."""
        return self._view().state_transition_time

    @property
    def tasks(self) -> list[Task]:
        """The submitted tasks of this job (read from the instance at each access)."""
        if self._uuid is None:
            return []
        site = self._task_site()
        if site is None:
            return []
        return list(self._connection._listed_tasks(site, job=self._uuid))

    def _unsubmitted(self) -> JobSnapshot:
        return JobSnapshot(JobState.UnSubmitted, creation_date=None)

    def _snapshot_of(self, record: JobRecord, tags: tuple[str, ...]) -> JobSnapshot:
        memo = record.memo
        created = utc(record.t_submit)
        if _meta.DELETING in memo:
            return JobSnapshot(JobState.Deleting, created, utc(memo[_meta.DELETING]), tags)
        terminated = memo.get(_meta.TERMINATED)
        if terminated is None and record.final:
            # Its record was cancelled outside the model (flux cancel --all...):
            # it takes no memos any more, so it counts as terminated then.
            terminated = record.t_inactive or record.t_submit
        if terminated is None and self._deadline_passed(record):
            terminated = self._terminate_now()
        if terminated is None:
            return JobSnapshot(JobState.Active, created, created, tags)
        if self._running_tasks():
            return JobSnapshot(JobState.Terminating, created, utc(terminated), tags)
        completed = memo.get(_meta.COMPLETED)
        if completed is None:
            completed = terminated if record.final else time.time()
            if not record.final:  # recorded once, for every process (and the ttl)
                self._post_memo({_meta.COMPLETED: completed}, "record the completion of")
        return JobSnapshot(JobState.Completed, created, utc(completed), tags)

    def _fetch(self, max_age: float) -> tuple[JobSnapshot, float]:
        self._fetch_age = max_age  # the tasks' records must be as fresh as the job's
        snapshot, as_of = super()._fetch(max_age)
        if self._expired(snapshot):
            self._remove("completion_ttl passed")
            raise not_found("job", self._uuid, "its completion_ttl had passed")
        return snapshot, as_of

    def _expired(self, snapshot: JobSnapshot) -> bool:
        """Whether the job is completed and its completion_ttl has passed."""
        self._describe()
        if snapshot.state is not JobState.Completed or self._completion_ttl is None:
            return False
        assert snapshot.state_transition_time is not None
        done = snapshot.state_transition_time.timestamp()
        return time.time() >= done + self._completion_ttl.total_seconds()

    def _deadline_passed(self, record: JobRecord) -> bool:
        self._describe()
        wall = self._max_wall_time
        return wall is not None and time.time() >= record.t_submit + wall.total_seconds()

    def _time_left(self) -> timedelta | None:
        """What is left of the job's max_wall_time (None: no limit)."""
        self._describe()
        if self._max_wall_time is None:
            return None
        return self._created + self._max_wall_time - datetime.now(timezone.utc)

    def _task_site(self) -> Site | None:
        """Where the job's tasks run (None: its pool's nested instance is gone)."""
        pool_uuid = self.pool_jobid
        if pool_uuid is None:
            return self._connection._root
        return self._connection._running_pool_site(pool_uuid)

    def _task_records(self, active_only: bool, max_age: float = 0.0) -> list[JobRecord]:
        """The flux jobs of this job's tasks (the active ones from data at most
        ``max_age`` seconds old)."""
        site = self._task_site()
        if site is None:
            return []
        assert self._uuid is not None
        if active_only:
            site.watcher.refresh(max_age)
            records = list(site.watcher.active_records())
            listings = site.classify(records)
            key = str(int(self._uuid))
            return [
                r
                for r, listing in zip(records, listings, strict=True)
                if listing is not None and listing.kind == "task" and listing.job == key
            ]
        return [
            t._record for t in self._connection._listed_tasks(site, job=self._uuid) if t._record
        ]

    def _running_tasks(self) -> bool:
        return bool(self._task_records(active_only=True, max_age=self._fetch_age))

    # -- submission --------------------------------------------------------------------

    def submit(self) -> None:
        """Submit the job (a held record in the instance), unless it is submitted.

        :raises MaxJobException: the connection's ``max_jobs`` is reached (completed
            jobs with ``auto_delete`` are deleted first to make room).
        :raises InvalidInputError: the shortname is taken by another job.
        """
        if self._uuid is not None:
            return
        conn = self._connection
        site = conn._root
        if self._pool is not None and self._pool.jobid is None:
            raise InvalidInputError(
                f"job {self.name!r} names pool {self._pool.name!r}, which is not submitted: "
                "submit() the pool first"
            )
        conn._make_room_for_a_job()
        if self._shortname is not None:
            self._check_shortname_free(site, None)
        meta = {
            "kind": "job",
            "version": _meta.VERSION,
            "name": self.name,
            "shortname": self._shortname,
            "tags": list(self._tags),
            "pool": str(int(self._pool.jobid)) if self._pool and self._pool.jobid else None,
            "use_dependencies": self._use_dependencies,
            "max_wall_time": self._seconds(self._max_wall_time),
            "auto_delete": self._auto_delete,
            "completion_ttl": self._seconds(self._completion_ttl),
        }
        spec = hold_jobspec(self.name, meta)
        try:
            jobid = submit_async(site.handle, spec, urgency=FLUX_JOB_URGENCY_HOLD).get_id()
            site.memo(jobid, {_meta.KEY: self._memo_listing(self._tags)}).get()
        except OSError as exc:
            raise translate(exc, "job", self.name, "submit") from None
        site.remember(jobid, spec)
        self._attach(site, jobid, None)
        self._created = datetime.now(timezone.utc)
        self._cache.put(
            JobSnapshot(JobState.Active, self._created, self._created, tuple(self._tags))
        )
        if self._shortname is not None:
            self._check_shortname_free(site, jobid)

    @staticmethod
    def _seconds(span: timedelta | None) -> float | None:
        return span.total_seconds() if span else None

    def _memo_listing(self, tags: list[str]) -> dict[str, Any]:
        listing = _meta.memo_listing("job", None, tags)
        listing["shortname"] = self._shortname
        return listing

    def _check_shortname_free(self, site: Site, mine: JobID | None) -> None:
        """Refuse a shortname another (older) job holds; after submission, give ours up."""
        site.watcher.refresh()
        records = [r for r in site.watcher.active_records() if r.id != mine]
        for record, listing in zip(records, site.classify(records), strict=True):
            if listing is None or listing.kind != "job" or listing.deleted:
                continue
            listed = record.memo.get(_meta.KEY, {})
            if listed.get("shortname") != self._shortname or _meta.DELETING in record.memo:
                continue
            if mine is not None and record.id > mine:
                continue  # we came first: the other one gives it up
            if mine is not None:
                self._remove("shortname taken")
            raise InvalidInputError(
                f"shortname {self._shortname!r} is taken by job {record.id}: choose another, "
                "or delete that job first"
            )

    def _require_accepting(self, checked: set[int] | None = None) -> None:
        """Refuse tasks unless the job is submitted and Active."""
        if self._uuid is None:
            raise InvalidInputError(
                f"job {self.name!r} is not submitted: submit() it before its tasks"
            )
        if checked is not None and self._uuid in checked:
            return
        self._cache.update(flushcache=True)
        state = self._cache.peek().state
        if state is not JobState.Active:
            raise UnauthorizedException(
                f"job {self._uuid} ({self.name!r}) is {state}: it takes no new tasks; "
                "create a new job for them"
            )
        if checked is not None:
            checked.add(self._uuid)

    # -- steering ----------------------------------------------------------------------

    def update(self, flushcache: bool = False) -> None:
        """Update the job object from the instance (see :attr:`auto_update`).

        :raises MissingJobException: the job does not exist (deleted, or expired).
        """
        super().update(flushcache)

    def _sources(self) -> object:
        """The job's own record, and the records of the instance its tasks run in."""
        own = self._require_site().watcher.version
        site = self._task_site()
        if site is None or site is self._site:
            return own
        if self not in site.watcher.dependents:
            site.watcher.subscribe(None, self, dependent=True)
        site.watcher.sync()
        return (own, site.watcher.version)

    def _concerns(self, records: list[JobRecord]) -> bool:
        if self._uuid is None:
            return False
        key = str(int(self._uuid))
        for record in records:
            if record.id == self._uuid:
                return True
            listed = record.memo.get(_meta.KEY)
            if isinstance(listed, Mapping) and listed.get("job") == key:
                return True
        return False

    async def states(self) -> AsyncIterator[JobState]:
        """Each state the job takes from now on, up to its final one (asyncio)."""
        async for state in self._states():
            yield JobState(state)

    def terminate(self) -> None:
        """Terminate this job and abort all its remaining tasks.

        The job takes no new tasks; it is ``Completed`` once every task ended.

        :raises MissingJobException: the job does not exist.
        """
        self._require_uuid()
        if self._deleted:
            raise not_found("job", self._uuid)
        self._terminate_now()
        self._cache.expire()

    def _terminate_now(self) -> float:
        now = time.time()
        if not self._record_ended():
            self._post_memo({_meta.TERMINATED: now}, "terminate")
        site = self._task_site()
        if site is not None:
            # Pending tasks first: a task whose dependency is cancelled before it would
            # fail (a dependency exception) rather than be cancelled.
            records = sorted(self._task_records(True), key=lambda r: (r.rank, -int(r.id)))
            for rpc in [site.cancel(r.id, "job terminated") for r in records]:
                with contextlib.suppress(FileNotFoundError):  # it ended meanwhile
                    rpc.get()
        return now

    def delete(self, forceAbort: bool = False) -> None:
        """Delete this job and its tasks from the instance.

        :param forceAbort: abort tasks that still run (without it, a job with
            running tasks is not deleted).
        :raises UnauthorizedException: the job still has running tasks and
            ``forceAbort`` is False.
        :raises MissingJobException: the job does not exist.
        """
        if self._uuid is None:
            self._deleted = True
            self._cache.put(JobSnapshot(JobState.Deleting))
            return
        if self._deleted:
            raise not_found("job", self._uuid)
        self._cache.update(flushcache=True)
        running = self._task_records(active_only=True)
        if running and not forceAbort:
            raise UnauthorizedException(
                f"job {self._uuid} ({self.name!r}) still contains {len(running)} running "
                "task(s): terminate() it and wait, or delete(forceAbort=True) to abort them"
            )
        self._remove("job deleted")

    def _record_ended(self) -> bool:
        """Whether the held record was cancelled outside the model (it takes no memos)."""
        record = self._require_site().watcher.fetch(self._require_uuid())
        return record is not None and record.final

    def _remove(self, note: str) -> None:
        """Mark the job deleting, remove its tasks, then its record."""
        site = self._require_site()
        uuid = self._require_uuid()
        if not self._record_ended():
            self._post_memo({_meta.DELETING: time.time()}, "delete")
        task_site = self._task_site()
        if task_site is not None:
            task_site.remove(self._task_records(active_only=False), note)
        record = site.watcher.fetch(uuid)
        if record is not None:
            site.remove([record], note)
        self._deleted = True
        self._cache.put(JobSnapshot(JobState.Deleting, tags=self._cache.peek().tags))


def _display_name(record: JobRecord) -> str:
    """The job's name, as the held record carries it."""
    return record.name
