"""Listing jobs, as ``flux.job.list``.

* :func:`job_list` queries ``job-list.list`` for jobs matching filters (user,
  states, results, name, queue, an RFC 31 constraint), newest first.
* :func:`job_list_inactive` lists only inactive jobs, of every user.
* :func:`job_list_id` queries one job (``job-list.list-id``).
* :func:`get_job` returns one job's information as a plain dict (or None).
* :class:`JobList` is the friendly front end: filters by name, users by name,
  and explicit job IDs; :meth:`JobList.jobs` returns
  :class:`~fluxsdk.job.info.JobInfo` objects.
"""

from __future__ import annotations

import errno
import os
import pwd
from collections.abc import Generator, Iterable, Mapping
from typing import Any, ClassVar, Final

from fluxsdk.core import FLUX_NODEID_ANY, FLUX_RPC_STREAMING, RPC, Flux
from fluxsdk.future import WaitAllFuture
from fluxsdk.job._jobid import JobID
from fluxsdk.job.event import JobIDLike, _check_handle
from fluxsdk.job.info import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_RESULT_TIMEOUT,
    FLUX_JOB_STATE_ACTIVE,
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_DEPEND,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_PENDING,
    FLUX_JOB_STATE_PRIORITY,
    FLUX_JOB_STATE_RUN,
    FLUX_JOB_STATE_RUNNING,
    FLUX_JOB_STATE_SCHED,
    JobInfo,
)

__all__ = [
    "FLUX_USERID_UNKNOWN",
    "JobList",
    "JobListIdRPC",
    "JobListIdsFuture",
    "JobListRPC",
    "get_job",
    "job_list",
    "job_list_id",
    "job_list_inactive",
]

#: The user ID meaning "any user" in job listings.
FLUX_USERID_UNKNOWN: Final = 0xFFFFFFFF

_ALL_ATTRS: Final = ("all",)


class JobListRPC(RPC):
    """The future of :func:`job_list`: a (streaming) listing of jobs."""

    def __init__(
        self,
        flux_handle: Flux,
        topic: str | bytes,
        payload: Any = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> None:
        super().__init__(flux_handle, topic, payload, nodeid, flags | FLUX_RPC_STREAMING)

    def get_jobs(self) -> list[dict[str, Any]]:
        """Block until the listing is complete and return one dict per job, newest first.

        Raises:
            OSError: the query was rejected (EPROTO for a bad constraint...).
        """
        jobs: list[dict[str, Any]] = []
        first = True
        while True:
            try:
                response = self.get()
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    break
                raise
            jobs.extend(response["jobs"])
            # A service speaking the old protocol answers once, without "version".
            if first and not response.get("version"):
                break
            first = False
            self.reset()
        return jobs

    def get_jobinfos(self) -> Generator[JobInfo, None, None]:
        """Block until the listing is complete and yield a :class:`JobInfo` per job."""
        for job in self.get_jobs():
            yield JobInfo(job)


def _listing_payload(
    max_entries: int,
    attrs: Iterable[str],
    userid: int,
    states: int,
    results: int,
    since: float,
    name: str | None,
    queue: str | Iterable[str] | None,
    constraint: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``job-list.list`` request: every filter and-ed into one RFC 31 constraint."""
    # An "and" of nothing matches every job.
    terms: list[Any] = [] if constraint is None else [dict(constraint)]
    if userid != FLUX_USERID_UNKNOWN:
        terms.append({"userid": [userid]})
    if name:
        terms.append({"name": [name]})
    if queue:
        if isinstance(queue, str):
            queue = [queue]
        if not isinstance(queue, Iterable):
            raise ValueError("queue parameter must be a string or iterable")
        terms.append({"queue": list(queue)})
    if states and results:
        terms.append({"or": [{"states": [states]}, {"results": [results]}]})
    elif states:
        terms.append({"states": [states]})
    elif results:
        terms.append({"results": [results]})
    return {
        "max_entries": int(max_entries),
        "attrs": list(attrs),
        "since": since,
        "constraint": {"and": terms},
    }


def job_list(
    flux_handle: Flux,
    max_entries: int = 1000,
    attrs: Iterable[str] = _ALL_ATTRS,
    userid: int | None = None,
    states: int = 0,
    results: int = 0,
    since: float = 0.0,
    name: str | None = None,
    queue: str | Iterable[str] | None = None,
    constraint: Mapping[str, Any] | None = None,
) -> JobListRPC:
    """List jobs, without waiting; :meth:`JobListRPC.get_jobs` gives the result.

    Filters combine with "and"; ``states`` and ``results`` combine with "or".

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        max_entries: at most this many jobs (0 for no limit).
        attrs: the job attributes to return (``["all"]`` by default); the
            job ``id`` is always included.
        userid: only this user's jobs (default: the caller's);
            ``FLUX_USERID_UNKNOWN`` for every user.
        states: only jobs in these states (``FLUX_JOB_STATE_*`` bits or-ed).
        results: only inactive jobs with these results (``FLUX_JOB_RESULT_*``).
        since: only jobs that became inactive after this time (or are active).
        name: only jobs with this name.
        queue: only jobs in this queue (or these queues).
        constraint: an RFC 31 constraint and-ed with the filters above.

    Raises:
        ValueError: ``queue`` is neither a string nor an iterable.
    """
    _check_handle(flux_handle)
    if userid is None:
        userid = os.getuid()
    payload = _listing_payload(
        max_entries, attrs, userid, states, results, since, name, queue, constraint
    )
    return JobListRPC(flux_handle, "job-list.list", payload)


def job_list_inactive(
    flux_handle: Flux,
    since: float = 0.0,
    max_entries: int = 1000,
    attrs: Iterable[str] = _ALL_ATTRS,
    name: str | None = None,
    queue: str | Iterable[str] | None = None,
    constraint: Mapping[str, Any] | None = None,
) -> JobListRPC:
    """Like :func:`job_list`, but only inactive jobs, of every user."""
    return job_list(
        flux_handle,
        max_entries=max_entries,
        attrs=attrs,
        userid=FLUX_USERID_UNKNOWN,
        states=FLUX_JOB_STATE_INACTIVE,
        since=since,
        name=name,
        queue=queue,
        constraint=constraint,
    )


class JobListIdRPC(RPC):
    """The future of :func:`job_list_id`: one job's attributes."""

    jobid: JobID | None = None
    """The job asked about (for error messages)."""

    def get_job(self) -> dict[str, Any]:
        """Block until known and return the job's attributes as a dict.

        Raises:
            FileNotFoundError: the job does not exist (ENOENT).
        """
        job: dict[str, Any] = self.get()["job"]
        return job

    def get_jobinfo(self) -> JobInfo:
        """Block until known and return the job as a :class:`JobInfo`."""
        return JobInfo(self.get_job())


def job_list_id(
    flux_handle: Flux, jobid: JobIDLike, attrs: Iterable[str] = _ALL_ATTRS
) -> JobListIdRPC:
    """Query one job's attributes, without waiting.

    Use :meth:`JobListIdRPC.get_job` (a dict) or
    :meth:`JobListIdRPC.get_jobinfo` (a :class:`JobInfo`) on the result.
    """
    _check_handle(flux_handle)
    jobid = JobID(jobid)
    payload = {"id": int(jobid), "attrs": list(attrs)}
    rpc = JobListIdRPC(flux_handle, "job-list.list-id", payload)
    rpc.jobid = jobid
    return rpc


def get_job(flux_handle: Flux, jobid: JobIDLike) -> dict[str, Any] | None:
    """Return a job's information as a dict, or None if there is no such job.

    A blocking convenience around :func:`job_list_id`: the dict is
    :meth:`JobInfo.to_dict` unfiltered, so it has every key (``id``,
    ``userid``, ``urgency``, ``priority``, ``state`` as a name such as
    ``"SCHED"``, ``name``, ``ntasks``, ``ncores``, ``nnodes``,
    ``duration``, ``t_submit``..., ``result``, ``returncode``,
    ``waitstatus``, ``runtime``, ``nodelist``, ``exception``...), unknown
    values being ``""`` or ``0``.
    """
    try:
        info = job_list_id(flux_handle, jobid).get_jobinfo()
    except FileNotFoundError:
        return None
    return info.to_dict(filtered=False)


class JobListIdsFuture(WaitAllFuture):
    """A future fulfilled once all its :class:`JobListIdRPC` children are.

    Gives the same :meth:`get_jobs` / :meth:`get_jobinfos` as a
    :class:`JobListRPC`; failures are collected in :attr:`errors`.
    """

    def __init__(self, flux_handle: Flux) -> None:
        super().__init__(flux_handle=flux_handle)
        self.errors: list[str] = []
        """Messages for the jobs that could not be listed."""

    def get_jobs(self) -> list[dict[str, Any]]:
        """Block until every query answered; return the jobs found, collect errors."""
        self.wait_for()
        jobs = []
        for child in self.children:
            try:
                jobs.append(child.get_job())
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    orig = child.jobid.orig if child.jobid is not None else "?"
                    self.errors.append(f"JobID {orig} unknown")
                else:
                    self.errors.append(f"rpc: {exc.strerror}")
        return jobs

    def get_jobinfos(self) -> list[JobInfo]:
        """Like :meth:`get_jobs`, as :class:`JobInfo` objects."""
        return [JobInfo(job) for job in self.get_jobs()]


class JobList:
    """Query a list of jobs, with filters given by name.

    By default the caller's last ``max_entries`` jobs are listed. Fetch them
    with :meth:`jobs` (blocking) or :meth:`fetch_jobs` (a future);
    :attr:`errors` then holds messages for any ``ids`` that failed.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        attrs: job attributes to fetch (default: all).
        filters: state or result names to match, e.g. ``["pending",
            "running"]`` or ``["completed,failed"]`` (see :attr:`STATES`,
            :attr:`RESULTS`).
        ids: list exactly these jobs; the other filters are then ignored.
        user: a user name, a user ID, or ``"all"`` (default: the caller).
        max_entries: at most this many jobs.
        since: only jobs that became inactive after this time (or are active).
        name: only jobs with this name.
        queue: only jobs in this queue (or these queues).
        constraint: an RFC 31 constraint and-ed with the filters above.

    Raises:
        ValueError: an unknown filter name or user.
    """

    #: Filter names for states.
    STATES: ClassVar[dict[str, int]] = {
        "depend": FLUX_JOB_STATE_DEPEND,
        "priority": FLUX_JOB_STATE_PRIORITY,
        "sched": FLUX_JOB_STATE_SCHED,
        "run": FLUX_JOB_STATE_RUN,
        "cleanup": FLUX_JOB_STATE_CLEANUP,
        "inactive": FLUX_JOB_STATE_INACTIVE,
        "pending": FLUX_JOB_STATE_PENDING,
        "running": FLUX_JOB_STATE_RUNNING,
        "active": FLUX_JOB_STATE_ACTIVE,
    }
    #: Filter names for results.
    RESULTS: ClassVar[dict[str, int]] = {
        "completed": FLUX_JOB_RESULT_COMPLETED,
        "failed": FLUX_JOB_RESULT_FAILED,
        "canceled": FLUX_JOB_RESULT_CANCELED,
        "timeout": FLUX_JOB_RESULT_TIMEOUT,
    }

    def __init__(
        self,
        flux_handle: Flux,
        attrs: Iterable[str] = _ALL_ATTRS,
        filters: Iterable[str] = (),
        ids: Iterable[JobIDLike] = (),
        user: str | int | None = None,
        max_entries: int = 1000,
        since: float = 0.0,
        name: str | None = None,
        queue: str | Iterable[str] | None = None,
        constraint: Mapping[str, Any] | None = None,
    ) -> None:
        self.handle = flux_handle
        self.attrs = list(attrs)
        self.states = 0
        self.results = 0
        self.max_entries = max_entries
        self.since = since
        self.name = name
        self.queue = queue
        id_list = [JobID(jobid) for jobid in ids]
        self.ids: list[JobID] | None = id_list or None
        self.errors: list[str] = []
        self.userid = os.getuid()
        for fname in filters:
            for part in fname.split(","):
                self.add_filter(part)
        self.set_user(user)
        self.constraint = constraint

    def set_user(self, user: str | int | None) -> None:
        """List only ``user``'s jobs: a user name, a user ID, ``"all"``, or None (the caller)."""
        if user is None:
            self.userid = os.getuid()
        elif user == "all":
            self.userid = FLUX_USERID_UNKNOWN
        elif isinstance(user, int):
            self.userid = user
        else:
            try:
                self.userid = pwd.getpwnam(user).pw_uid
            except KeyError:
                try:
                    self.userid = int(user)
                except ValueError:
                    raise ValueError(f"Invalid user {user} specified") from None

    def add_filter(self, fname: str) -> None:
        """Also match jobs in state, or with result, ``fname`` (a key of STATES or RESULTS)."""
        fname = fname.lower()
        if fname in self.STATES:
            self.states |= self.STATES[fname]
        elif fname in self.RESULTS:
            self.results |= self.RESULTS[fname]
        else:
            raise ValueError(f"Invalid filter specified: {fname}")

    def fetch_jobs(self) -> JobListRPC | JobListIdsFuture:
        """Start the query; the returned future's ``get_jobs()`` gives the jobs.

        With ``ids``, this is a :class:`JobListIdsFuture` (whose ``errors``
        name the IDs that failed), otherwise a :class:`JobListRPC`.
        """
        if self.ids:
            listids = JobListIdsFuture(self.handle)
            for jobid in self.ids:
                listids.push(job_list_id(self.handle, jobid, self.attrs))
            return listids
        return job_list(
            self.handle,
            max_entries=self.max_entries,
            attrs=self.attrs,
            userid=self.userid,
            states=self.states,
            results=self.results,
            since=self.since,
            name=self.name,
            queue=self.queue,
            constraint=self.constraint,
        )

    def jobs(self) -> list[JobInfo]:
        """Run the query, blocking, and return a :class:`JobInfo` per job found."""
        rpc = self.fetch_jobs()
        jobs = rpc.get_jobs()
        if isinstance(rpc, JobListIdsFuture):
            self.errors = rpc.errors
        return [JobInfo(job) for job in jobs]
