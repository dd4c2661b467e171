"""One flux job as ``job-list`` reports it: the raw material of every model snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Final

import attrs

from fluxsdk.job import JobID
from fluxsdk.job.info import (
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_RUN,
    JobInfo,
)

__all__ = ["LIST_ATTRS", "JobRecord", "utc"]

#: The job-list attributes a record needs (the id always comes with them).
LIST_ATTRS: Final = (
    "state",
    "name",
    "urgency",
    "t_submit",
    "t_run",
    "t_cleanup",
    "t_inactive",
    "result",
    "waitstatus",
    "success",
    "exception_occurred",
    "exception_type",
    "exception_note",
    "exception_severity",
    "annotations",
)

# Pending states share a rank: a reprioritised job may go from SCHED back to PRIORITY.
_RUN_RANK: Final = 1
_CLEANUP_RANK: Final = 2
_INACTIVE_RANK: Final = 3


def utc(timestamp: float | None) -> datetime | None:
    """A UTC :class:`datetime` for an instance timestamp (None stays None)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


@attrs.frozen
class JobRecord:
    """What one ``job-list`` entry says about a flux job, as an immutable value."""

    id: JobID
    state: int
    name: str
    t_submit: float
    t_run: float | None
    t_cleanup: float | None
    t_inactive: float | None
    result: int | None
    returncode: int | None
    exception_type: str | None
    exception_note: str
    exception_severity: int | None
    memo: Mapping[str, Any]
    """The job's memos (``annotations.user``), read-only."""

    @classmethod
    def from_listing(cls, entry: Mapping[str, Any]) -> JobRecord:
        """Build a record from one ``job-list.list`` / ``list-id`` entry."""
        returncode: object = None
        if entry.get("state") == FLUX_JOB_STATE_INACTIVE:
            returncode = JobInfo(entry).returncode  # the job layer owns these rules
        user = entry.get("annotations", {}).get("user", {})
        occurred = bool(entry.get("exception_occurred"))
        return cls(
            id=JobID(entry["id"]),
            state=int(entry.get("state", 0)),
            name=str(entry.get("name", "")),
            t_submit=float(entry.get("t_submit", 0.0)),
            t_run=entry.get("t_run"),
            t_cleanup=entry.get("t_cleanup"),
            t_inactive=entry.get("t_inactive"),
            result=entry.get("result"),
            returncode=returncode if isinstance(returncode, int) else None,
            exception_type=entry.get("exception_type") if occurred else None,
            exception_note=str(entry.get("exception_note", "")) if occurred else "",
            exception_severity=entry.get("exception_severity") if occurred else None,
            memo=MappingProxyType(dict(user)),
        )

    @property
    def rank(self) -> int:
        """Lifecycle position: pending 0, running 1, cleanup 2, inactive 3."""
        if self.state == FLUX_JOB_STATE_INACTIVE:
            return _INACTIVE_RANK
        if self.state == FLUX_JOB_STATE_CLEANUP:
            return _CLEANUP_RANK
        return _RUN_RANK if self.state == FLUX_JOB_STATE_RUN else 0

    @property
    def final(self) -> bool:
        """True once the job is inactive: nothing about it changes any more."""
        return self.state == FLUX_JOB_STATE_INACTIVE

    @property
    def uri(self) -> str | None:
        """The URI of the nested instance the job runs, once it announced it."""
        value = self.memo.get("uri")
        return value if isinstance(value, str) else None

    @property
    def transition_time(self) -> float:
        """When the job entered its current state (an instance timestamp)."""
        for stamp in (self.t_inactive, self.t_cleanup, self.t_run):
            if stamp is not None:
                return float(stamp)
        return self.t_submit

    @property
    def latest_timestamp(self) -> float:
        """The latest instance time this record shows."""
        return max(
            (t for t in (self.t_submit, self.t_run, self.t_cleanup, self.t_inactive) if t),
            default=0.0,
        )

    def newer_than(self, other: JobRecord) -> bool:
        """Whether this record may replace ``other`` (never an older state)."""
        return self.rank >= other.rank
