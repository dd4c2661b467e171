"""The states of tasks, jobs and pools, and how they follow from flux job records.

Each state has a :attr:`rank`; a live object never moves to a state of lower
rank (see ``docs/model.md`` for the diagram). The values are Qarnot's names,
so ``task.state == "Success"`` works as with Qarnot's SDK.
"""

from __future__ import annotations

import enum

from fluxsdk.job.info import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_RUN,
)
from fluxsdk.model._record import JobRecord

__all__ = ["JobState", "PoolState", "RankedState", "TaskState", "pool_state", "task_state"]


class RankedState(str, enum.Enum):
    """A state with a position in its lifecycle."""

    @property
    def rank(self) -> int:
        """Position in the lifecycle: states only ever move to a higher rank."""
        return _RANKS[self]

    @property
    def is_final(self) -> bool:
        """True once nothing more will happen to the object."""
        return self in _FINAL

    def __str__(self) -> str:
        return str(self.value)


class TaskState(RankedState):
    """The state of a :class:`~fluxsdk.model.Task` (one flux job)."""

    UnSubmitted = "UnSubmitted"
    """Not submitted yet: properties may still be set."""
    Submitted = "Submitted"
    """Waiting for its dependencies, a priority or resources (flux DEPEND..SCHED)."""
    FullyExecuting = "FullyExecuting"
    """Resources allocated, its instances run (flux RUN)."""
    Finishing = "Finishing"
    """Its instances ended or are being stopped; resources are released (flux CLEANUP)."""
    Success = "Success"
    """Ended: every instance exited 0."""
    Failure = "Failure"
    """Ended: an instance failed, was killed, or ran past ``max_wall_time`` (see ``errors``)."""
    Cancelled = "Cancelled"
    """Ended: aborted (``abort()``, ``terminate()`` of its job, or a flux cancel)."""
    Deleted = "Deleted"
    """Deleted with ``delete()`` by this object."""


class JobState(RankedState):
    """The state of a :class:`~fluxsdk.model.Job` (Qarnot's job states)."""

    UnSubmitted = "UnSubmitted"
    """Not submitted yet."""
    Active = "Active"
    """Accepts tasks; stays so until terminated (or its ``max_wall_time`` passes)."""
    Terminating = "Terminating"
    """Terminated: takes no new tasks; its remaining tasks are being aborted."""
    Completed = "Completed"
    """Terminated and every task ended; deleted ``completion_ttl`` later if set."""
    Deleting = "Deleting"
    """Being deleted, or deleted by this object."""


class PoolState(RankedState):
    """The state of a :class:`~fluxsdk.model.Pool` (a nested instance run as a job)."""

    UnSubmitted = "UnSubmitted"
    """Not submitted yet."""
    Submitted = "Submitted"
    """Waiting for resources in the parent instance."""
    FullyDispatched = "FullyDispatched"
    """Resources allocated; the nested instance is starting."""
    FullyExecuting = "FullyExecuting"
    """The nested instance runs and takes tasks (``uri`` is known)."""
    Closing = "Closing"
    """Closed (or failing); the nested instance is stopping."""
    Closed = "Closed"
    """The nested instance stopped after ``close()`` (or its allocation ended)."""
    Failure = "Failure"
    """The nested instance failed (see ``errors``)."""
    Deleted = "Deleted"
    """Deleted with ``delete()`` by this object."""


_RANKS: dict[RankedState, int] = {
    TaskState.UnSubmitted: 0,
    TaskState.Submitted: 1,
    TaskState.FullyExecuting: 2,
    TaskState.Finishing: 3,
    TaskState.Success: 4,
    TaskState.Failure: 4,
    TaskState.Cancelled: 4,
    TaskState.Deleted: 5,
    JobState.UnSubmitted: 0,
    JobState.Active: 1,
    JobState.Terminating: 2,
    JobState.Completed: 3,
    JobState.Deleting: 4,
    PoolState.UnSubmitted: 0,
    PoolState.Submitted: 1,
    PoolState.FullyDispatched: 2,
    PoolState.FullyExecuting: 3,
    PoolState.Closing: 4,
    PoolState.Closed: 5,
    PoolState.Failure: 5,
    PoolState.Deleted: 6,
}
_FINAL = frozenset(
    {
        TaskState.Success,
        TaskState.Failure,
        TaskState.Cancelled,
        TaskState.Deleted,
        JobState.Completed,
        JobState.Deleting,
        PoolState.Closed,
        PoolState.Failure,
        PoolState.Deleted,
    }
)


def task_state(record: JobRecord) -> TaskState:
    """The state of the task that ``record`` (its flux job) describes."""
    if record.state == FLUX_JOB_STATE_INACTIVE:
        if record.result == FLUX_JOB_RESULT_COMPLETED:
            return TaskState.Success
        if record.result == FLUX_JOB_RESULT_CANCELED:
            return TaskState.Cancelled
        return TaskState.Failure
    if record.state == FLUX_JOB_STATE_CLEANUP:
        return TaskState.Finishing
    if record.state == FLUX_JOB_STATE_RUN:
        return TaskState.FullyExecuting
    return TaskState.Submitted


def pool_state(record: JobRecord, closing: bool) -> PoolState:
    """The state of the pool whose nested instance runs as the job ``record`` describes.

    ``closing`` says whether the pool was closed on purpose: a nested instance
    that ends otherwise, or fails, is a :attr:`PoolState.Failure`.
    """
    if record.state == FLUX_JOB_STATE_INACTIVE:
        if closing or record.result in (FLUX_JOB_RESULT_COMPLETED, FLUX_JOB_RESULT_CANCELED):
            return PoolState.Closed
        return PoolState.Failure
    if record.state == FLUX_JOB_STATE_CLEANUP:
        return PoolState.Closing
    if record.state == FLUX_JOB_STATE_RUN:
        return PoolState.FullyExecuting if record.uri else PoolState.FullyDispatched
    return PoolState.Submitted
