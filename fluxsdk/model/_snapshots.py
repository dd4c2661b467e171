"""Immutable snapshots of tasks, jobs and pools: what a property read returns."""

from __future__ import annotations

from datetime import datetime

import attrs

from fluxsdk.model._record import JobRecord, utc
from fluxsdk.model._states import JobState, PoolState, TaskState, pool_state, task_state

__all__ = ["Error", "JobSnapshot", "PoolSnapshot", "TaskSnapshot"]


@attrs.frozen
class Error:
    """Why a task or pool failed: a flux exception, or an instance's exit code."""

    code: str
    """``exit`` for a non-zero exit code, else the flux exception type
    (``cancel``, ``timeout``, ``exec``, ...)."""
    message: str
    """What happened, for a human."""
    exit_code: int | None = None
    """The task's exit code, when it had one."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def errors_of(record: JobRecord) -> tuple[Error, ...]:
    """The errors a job record shows (none while it runs or after success)."""
    errors: list[Error] = []
    if record.exception_type is not None:
        note = record.exception_note or f"{record.exception_type} exception"
        errors.append(Error(record.exception_type, note, record.returncode))
    elif record.final and record.returncode:
        errors.append(Error("exit", f"exited with code {record.returncode}", record.returncode))
    return tuple(errors)


@attrs.frozen
class TaskSnapshot:
    """A task as the instance last showed it."""

    state: TaskState
    creation_date: datetime | None = None
    state_transition_time: datetime | None = None
    exit_code: int | None = None
    errors: tuple[Error, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        """The rank of :attr:`state`."""
        return self.state.rank

    @classmethod
    def of(cls, record: JobRecord, tags: tuple[str, ...]) -> TaskSnapshot:
        """The snapshot of a task from its job's record and its current tags."""
        return cls(
            state=task_state(record),
            creation_date=utc(record.t_submit),
            state_transition_time=utc(record.transition_time),
            exit_code=record.returncode if record.final else None,
            errors=errors_of(record),
            tags=tags,
        )


@attrs.frozen
class JobSnapshot:
    """A job (a group of tasks) as the instance last showed it."""

    state: JobState
    creation_date: datetime | None = None
    state_transition_time: datetime | None = None
    tags: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        """The rank of :attr:`state`."""
        return self.state.rank


@attrs.frozen
class PoolSnapshot:
    """A pool (a nested instance) as the parent instance last showed it."""

    state: PoolState
    uri: str | None = None
    creation_date: datetime | None = None
    state_transition_time: datetime | None = None
    errors: tuple[Error, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        """The rank of :attr:`state`."""
        return self.state.rank

    @classmethod
    def of(cls, record: JobRecord, closing: bool, tags: tuple[str, ...]) -> PoolSnapshot:
        """The snapshot of a pool from its job's record."""
        state = pool_state(record, closing)
        return cls(
            state=state,
            uri=record.uri if state is PoolState.FullyExecuting else None,
            creation_date=utc(record.t_submit),
            state_transition_time=utc(record.transition_time),
            errors=errors_of(record) if state is PoolState.Failure else (),
            tags=tags,
        )
