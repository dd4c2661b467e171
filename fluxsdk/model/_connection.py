"""Connection: the entry point of the object model (Qarnot's ``Connection``)."""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Final

import attrs

from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError
from fluxsdk.job import JobID, Jobspec, submit_async
from fluxsdk.job.event import JobIDLike
from fluxsdk.job.list import job_list
from fluxsdk.job.submit import FLUX_JOB_URGENCY_DEFAULT, SubmitFuture
from fluxsdk.model._bulk import SubmitFailure, SubmitReport
from fluxsdk.model._cache import DEFAULT_UPDATE_CACHE_TIME
from fluxsdk.model._errors import (
    MaxJobException,
    MissingJobException,
    PoolNotReadyException,
    UnauthorizedException,
    not_found,
)
from fluxsdk.model._job import Job
from fluxsdk.model._live import StateCallback
from fluxsdk.model._meta import Kind, Listing
from fluxsdk.model._pool import Pool
from fluxsdk.model._record import LIST_ATTRS, JobRecord
from fluxsdk.model._site import Site
from fluxsdk.model._states import JobState, PoolState
from fluxsdk.model._task import Task, ended_is_fine, rejected
from fluxsdk.model._watcher import stream_listing

__all__ = ["Connection"]

# Listings classify records in batches of this many (memory stays bounded).
_BATCH: Final = 256
# How often a pool's nested instance is tried while it starts listening.
_CONNECT_RETRY: Final = 0.05


@attrs.define(init=False, eq=False)
class Connection:
    """A connection to a fluxsdk (or Flux) instance, holding the model's objects.

    The objects it hands out are live: it reads the instance's job journal (one
    stream per instance: its own and each running pool's) and applies every
    event to them, so property reads send no request (see :attr:`live`).

    ``Connection(uri)`` opens a handle on the instance at ``uri`` (default:
    ``$FLUX_URI``, else the per-user embedded instance). Everything the model
    stores lives in that instance, so another process's Connection finds the
    same jobs, tasks, pools, tags and states. Use it as a context manager, or
    :meth:`close` it.

    :param max_jobs: the most jobs (groups) that may exist at once (None: no
        limit); :meth:`Job.submit` raises :class:`MaxJobException` beyond it.
    :param auto_update: default :attr:`~Task.auto_update` of new objects.
    :param update_cache_time: default :attr:`~Task.update_cache_time` (seconds), used
        only where the instance streams no job journal to this connection (see
        :attr:`live`).
    :param pool_ready_timeout: how long submitting to a pool waits for its
        nested instance to come up.
    :raises UnauthorizedException: the instance belongs to another user.
    """

    _root: Site
    max_jobs: int | None
    """The most jobs that may exist at once (None: no limit)."""
    auto_update: bool
    """Default ``auto_update`` of objects this connection creates or retrieves."""
    update_cache_time: float
    """Default ``update_cache_time`` of objects this connection creates or retrieves."""
    pool_ready_timeout: float
    """Seconds a task submission waits for its pool's nested instance."""
    _pools: dict[int, Site]
    _callbacks: list[StateCallback]

    def __init__(
        self,
        uri: str | None = None,
        *,
        max_jobs: int | None = None,
        auto_update: bool = True,
        update_cache_time: float = DEFAULT_UPDATE_CACHE_TIME,
        pool_ready_timeout: float = 60.0,
    ) -> None:
        if max_jobs is not None and max_jobs < 1:
            raise ValueError(f"max_jobs must be None or >= 1, got {max_jobs}")
        self._root = _open_site(uri, None)
        self.max_jobs = max_jobs
        self.auto_update = auto_update
        self.update_cache_time = update_cache_time
        self.pool_ready_timeout = pool_ready_timeout
        self._pools = {}
        self._callbacks = []

    # -- lifetime ------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The URI of the instance this connection talks to."""
        return self._root.handle.uri

    @property
    def handle(self) -> Flux:
        """The :class:`~fluxsdk.core.Flux` handle, to mix in ``fluxsdk.job`` calls."""
        return self._root.handle

    def close(self) -> None:
        """Close the connection's handles (pools keep running: close them to stop them)."""
        for site in self._pools.values():
            site.close()
        self._pools.clear()
        self._root.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- live objects --------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Whether the instance streams its job journal to this connection: objects
        are then live, and property reads send no request. False where no stream
        can be had (e.g. a guest of a multi-user Flux instance): objects are then
        refreshed at most every ``update_cache_time`` seconds."""
        return self._root.watcher.live

    def on_state_change(self, callback: StateCallback) -> StateCallback:
        """Call ``callback(obj, state)`` whenever an object this connection handed
        out changes state (see :meth:`Task.on_state_change`). Returns ``callback``."""
        self._callbacks.append(callback)
        return callback

    def remove_state_callback(self, callback: StateCallback) -> None:
        """Stop calling ``callback`` (see :meth:`on_state_change`)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def process_events(self, timeout: float | None = 0.0) -> int:
        """Deliver the job events that have arrived, on this instance and its pools'
        (state callbacks run now); with ``timeout`` > 0, first wait up to that many
        seconds for one if none is there (None: until one comes).

        Returns how many journal responses were applied. Sends no request.
        """
        sites = [self._root, *self._pools.values()]
        applied = sum(site.watcher.sync() for site in sites)
        if applied or timeout == 0:
            return applied
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            live = [site for site in sites if site.watcher.live]
            if not live:
                return 0
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            applied = 0
            if len(live) == 1:
                applied = live[0].watcher.wait_event(remaining)
            else:
                select.select([site.handle._fd for site in live], [], [], remaining)
            applied += sum(site.watcher.sync() for site in live)
            if applied or (deadline is not None and time.monotonic() >= deadline):
                return applied

    # -- creating ------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        pool: Pool | None = None,
        shortname: str | None = None,
        use_dependencies: bool = False,
    ) -> Job:
        """A new :class:`Job` (a named group of tasks); ``submit()`` it before its tasks.

        :param pool: run the job's tasks in this (submitted) pool.
        :param shortname: a unique DNS-compliant name (default: the uuid).
        :param use_dependencies: allow the job's tasks to depend on each other.
        """
        return Job(self, name, pool, shortname, use_dependencies)

    def create_task(
        self,
        name: str,
        command: Sequence[str] | Jobspec,
        instancecount: int = 1,
        job: Job | None = None,
        *,
        pool: Pool | None = None,
        shortname: str | None = None,
        cores_per_instance: int = 1,
    ) -> Task:
        """A new :class:`Task` running ``command`` (a list of words) or a jobspec.

        :param instancecount: how many instances of the command run (one flux
            job of that many tasks); a jobspec says this itself.
        :param job: the :class:`Job` the task belongs to (submitted first).
        :param pool: the :class:`Pool` to run in (default: the job's pool, if any).
        :param cores_per_instance: cores allocated to each instance.
        """
        return Task._create(
            self, name, command, instancecount, job, pool, shortname, cores_per_instance
        )

    def create_pool(
        self,
        name: str,
        instancecount: int = 1,
        shortname: str | None = None,
        *,
        cores_per_instance: int = 1,
    ) -> Pool:
        """A new :class:`Pool`: ``instancecount`` slots of ``cores_per_instance`` cores,
        run as a nested instance once submitted."""
        return Pool._create(self, name, instancecount, shortname, cores_per_instance)

    # -- listing -------------------------------------------------------------------

    def jobs(
        self, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None
    ) -> Iterator[Job]:
        """The jobs of this instance, as they stream in.

        :param tags: only jobs with any of these tags.
        :param tags_intersect: only jobs with all of these tags.
        """
        site = self._root
        for record, _listing in self._objects(site, "job", tags, tags_intersect):
            job = Job._listed(self, site, record)
            try:
                job.update()  # applies completion_ttl (an expired job is deleted)
            except MissingJobException:
                continue
            yield job

    def tasks(
        self, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None
    ) -> Iterator[Task]:
        """The tasks of this instance and of its running pools, as they stream in.

        :param tags: only tasks with any of these tags.
        :param tags_intersect: only tasks with all of these tags.
        """
        yield from self._listed_tasks(self._root, tags=tags, tags_intersect=tags_intersect)
        for pool in self.pools():
            site = self._running_pool_site(pool)
            if site is not None:
                yield from self._listed_tasks(site, tags=tags, tags_intersect=tags_intersect)

    def pools(
        self, tags: Sequence[str] | None = None, tags_intersect: Sequence[str] | None = None
    ) -> Iterator[Pool]:
        """The pools of this instance (running or closed, until deleted), as they stream in.

        :param tags: only pools with any of these tags.
        :param tags_intersect: only pools with all of these tags.
        """
        site = self._root
        for record, _listing in self._objects(site, "pool", tags, tags_intersect):
            yield Pool._listed(self, site, record)

    def _listed_tasks(
        self,
        site: Site,
        job: JobID | None = None,
        tags: Sequence[str] | None = None,
        tags_intersect: Sequence[str] | None = None,
    ) -> Iterator[Task]:
        for record, listing in self._objects(site, "task", tags, tags_intersect):
            if job is None or listing.job == str(int(job)):
                yield Task._listed(self, site, record)

    def _objects(
        self,
        site: Site,
        kind: Kind,
        tags: Sequence[str] | None,
        tags_intersect: Sequence[str] | None,
    ) -> Iterator[tuple[JobRecord, Listing]]:
        """Stream a site's job listing; yield the records of matching model objects.

        Records are classified a batch at a time, so a long listing never sits
        in memory at once.
        """
        site.watcher.catch_up(self.update_cache_time)  # current records and tombstones
        rpc = job_list(site.handle, max_entries=0, attrs=LIST_ATTRS)
        batch: list[JobRecord] = []
        for entry in stream_listing(rpc):
            batch.append(JobRecord.from_listing(entry))
            if len(batch) >= _BATCH:
                yield from _matching(site, batch, kind, tags, tags_intersect)
                batch = []
        yield from _matching(site, batch, kind, tags, tags_intersect)

    # -- retrieving ----------------------------------------------------------------

    def retrieve_job(self, uuid: JobIDLike) -> Job:
        """The job with this uuid.

        :raises MissingJobException: no such job (deleted, expired or never created).
        """
        record = self._find(self._root, _jobid_of(uuid, "job"), "job")
        if record is None:
            raise not_found("job", uuid)
        job = Job._listed(self, self._root, record)
        job.update(flushcache=False)  # applies completion_ttl
        return job

    def retrieve_task(self, uuid: JobIDLike) -> Task:
        """The task with this uuid, in this instance or one of its running pools.

        :raises MissingTaskException: no such task.
        """
        jobid = _jobid_of(uuid, "task")
        for site in self._task_sites():
            record = self._find(site, jobid, "task")
            if record is not None:
                return Task._listed(self, site, record)
        raise not_found("task", uuid)

    def retrieve_pool(self, uuid: JobIDLike) -> Pool:
        """The pool with this uuid.

        :raises MissingPoolException: no such pool.
        """
        record = self._find(self._root, _jobid_of(uuid, "pool"), "pool")
        if record is None:
            raise not_found("pool", uuid)
        return Pool._listed(self, self._root, record)

    def _find(self, site: Site, jobid: JobID, kind: Kind) -> JobRecord | None:
        """The record of ``jobid`` if it is a live model object of ``kind``."""
        site.watcher.catch_up(self.update_cache_time)
        try:
            record = site.watcher.fetch(jobid)
        except PermissionError:
            raise UnauthorizedException(
                f"{kind} {jobid} belongs to another user", errno.EPERM
            ) from None
        if record is None:
            return None
        listing = site.listed(record)
        if listing is None or listing.kind != kind or listing.deleted:
            return None
        return record

    def _task_sites(self) -> Iterator[Site]:
        yield self._root
        for pool in self.pools():
            site = self._running_pool_site(pool)
            if site is not None:
                yield site

    # -- bulk submission -----------------------------------------------------------

    def submit_tasks(self, tasks: Iterable[Task], raise_on_error: bool = True) -> SubmitReport:
        """Submit many tasks at once (pipelined); one bad task does not sink the others.

        Tasks may depend on tasks earlier in the list. Already submitted tasks
        are left as they are (and reported submitted).

        :param raise_on_error: raise :class:`BulkSubmitError` (after submitting
            every good task) if some were refused; else only report them.
        :returns: a :class:`SubmitReport` of the submitted and the refused tasks.
        """
        tasks = list(tasks)
        batch = {id(t) for t in tasks}
        submitted: list[Task] = []
        failed: list[SubmitFailure] = []
        pending: list[tuple[Task, Site, Jobspec, SubmitFuture]] = []
        memos = []
        checked: set[int] = set()

        def flush() -> None:
            for task, site, jobspec, future in pending:
                try:
                    jobid = future.get_id()
                except OSError as exc:
                    failed.append(SubmitFailure(task, rejected(task, exc)))
                    continue
                task._submitted(site, jobid, jobspec)
                memos.append(task._memo_rpc())
                submitted.append(task)
            pending.clear()

        for task in tasks:
            if task.jobid is not None:
                submitted.append(task)
                continue
            waits_on_batch = any(
                isinstance(d, Task) and d.jobid is None and id(d) in batch
                for d in task._dependencies
            )
            if waits_on_batch:
                flush()  # its dependencies need their ids first
            try:
                site, jobspec = task._prepare(checked)
                pending.append((task, site, jobspec, self._submit_async(site, jobspec)))
            except (FluxSDKError, OSError, ValueError, TypeError) as exc:
                failed.append(SubmitFailure(task, exc))
        flush()
        for rpc in memos:
            ended_is_fine(rpc)
        order = {id(t): i for i, t in enumerate(tasks)}
        report = SubmitReport(
            tuple(sorted(submitted, key=lambda t: order[id(t)])),
            tuple(sorted(failed, key=lambda f: order[id(f.task)])),
        )
        if raise_on_error:
            report.raise_on_error()
        return report

    def _submit_async(
        self, site: Site, jobspec: Jobspec, urgency: int = FLUX_JOB_URGENCY_DEFAULT
    ) -> SubmitFuture:
        return submit_async(site.handle, jobspec, urgency=urgency)

    # -- jobs quota ----------------------------------------------------------------

    def _make_room_for_a_job(self) -> None:
        """Check ``max_jobs``, deleting completed ``auto_delete`` jobs to make room."""
        if self.max_jobs is None:
            return
        jobs = list(self.jobs())
        if len(jobs) < self.max_jobs:
            return
        disposable = [j for j in jobs if j.state is JobState.Completed and j.auto_delete]
        disposable.sort(key=lambda j: j.creation_date)
        excess = len(jobs) - self.max_jobs + 1
        for job in disposable[:excess]:
            job.delete()
        remaining = len(jobs) - min(excess, len(disposable))
        if remaining >= self.max_jobs:
            raise MaxJobException(
                f"maximum number of jobs reached: {remaining} jobs exist and max_jobs is "
                f"{self.max_jobs}; delete jobs you are done with (Job.delete()), give jobs "
                "auto_delete=True so completed ones make room, or raise max_jobs"
            )

    # -- pools' sites --------------------------------------------------------------

    def _pool_site(self, pool: Pool, timeout: float | None = None) -> Site:
        """The site of a pool's nested instance, waiting for it to come up.

        :raises UnauthorizedException: the pool has ended (or is not submitted).
        :raises PoolNotReadyException: it did not come up in time.
        """
        site = self._ready_pool_site(pool, timeout)
        if site is not None:
            return site
        state = pool._cache.peek().state
        if state.rank >= PoolState.Closing.rank:
            raise UnauthorizedException(
                f"pool {pool.jobid} ({pool.name!r}) is {state}: it runs no more tasks"
            )
        wait = self.pool_ready_timeout if timeout is None else timeout
        raise PoolNotReadyException(
            f"pool {pool.jobid} ({pool.name!r}) is {state} and did not start taking tasks "
            f"within {wait:g} s; wait longer (Connection(pool_ready_timeout=...)) "
            "or check that its parent instance has free resources"
        )

    def _ready_pool_site(self, pool: Pool, timeout: float | None = None) -> Site | None:
        """The site of a pool's nested instance once it comes up; None if it does not
        within ``timeout`` (default: ``pool_ready_timeout``) or the pool ended."""
        uuid = pool.jobid
        if uuid is None:
            raise UnauthorizedException(
                f"pool {pool.name!r} is not submitted: submit() it before its tasks"
            )
        site = self._pools.get(uuid)
        if site is not None:
            return site
        wait = self.pool_ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        uri = pool._wait_for_uri(deadline)
        if uri is not None:
            uri = _reachable(uri)
        while uri is not None:
            try:
                site = Site.open(uri, pool=str(int(uuid)), ready=True)
                break
            except OSError:  # the nested instance is not listening yet
                if time.monotonic() >= deadline:
                    uri = None
                    break
                time.sleep(_CONNECT_RETRY)
        if site is None:
            return None
        self._pools[uuid] = site
        return site

    def _running_pool_site(self, pool: Pool | JobIDLike) -> Site | None:
        """The site of a pool that runs now, else None."""
        if not isinstance(pool, Pool):
            uuid = JobID(pool)
            if uuid in self._pools:
                return self._pools[uuid]
            try:
                pool = self.retrieve_pool(uuid)
            except FluxSDKError:
                return None
        if pool.jobid in self._pools:
            return self._pools[pool.jobid]
        if pool.state is not PoolState.FullyExecuting:
            return None
        return self._ready_pool_site(pool)

    def _site_for_uuid(self, pool_uuid: JobIDLike | None) -> Site:
        if pool_uuid is None:
            return self._root
        site = self._running_pool_site(pool_uuid)
        if site is None:
            raise not_found("pool", pool_uuid, "or its nested instance stopped")
        return site

    def _drop_pool_site(self, uuid: int) -> None:
        site = self._pools.pop(uuid, None)
        if site is not None:
            site.close()


def _reachable(uri: str) -> str:
    """A nested instance's URI as this process can open it: Flux announces
    ``ssh://host/path``; where that socket is on this machine, ``local://path``
    (as ``flux uri --local`` does)."""
    if uri.startswith("ssh://"):
        path = "/" + uri.removeprefix("ssh://").partition("/")[2]
        if os.path.exists(path):
            return f"local://{path}"
    return uri


def _jobid_of(uuid: JobIDLike, kind: Kind) -> JobID:
    """The job ID a uuid names; a malformed one names no object (Missing*Exception)."""
    try:
        return JobID(uuid)
    except (ValueError, TypeError):
        raise not_found(kind, uuid, "that is not a uuid this SDK gives out") from None


def _open_site(uri: str | None, pool: str | None) -> Site:
    try:
        return Site.open(uri, pool)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UnauthorizedException(
                f"cannot connect to the instance at {uri or '$FLUX_URI'}: {exc.strerror}; "
                "it belongs to another user (connect to your own instance, or ask its "
                "owner for access)",
                exc.errno,
            ) from None
        raise


def _matching(
    site: Site,
    batch: list[JobRecord],
    kind: Kind,
    tags: Sequence[str] | None,
    tags_intersect: Sequence[str] | None,
) -> Iterator[tuple[JobRecord, Listing]]:
    for record, listing in zip(batch, site.classify(batch), strict=True):
        if listing is not None and listing.kind == kind and listing.matches(tags, tags_intersect):
            yield record, listing
