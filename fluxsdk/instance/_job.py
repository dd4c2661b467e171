"""A job as the instance tracks it: its RFC 21 state and what job-list reports.

Everything here is derived from the job's jobspec and main eventlog, so a
restarted instance rebuilds the same records by replaying eventlogs.
"""

from __future__ import annotations

import math
from typing import Any, Final

import attrs

from fluxsdk.idset import IDset

__all__ = [
    "MAX_TASKS",
    "RESULT_NAMES",
    "STATE_NAMES",
    "Job",
    "ResourceRequest",
    "State",
]


class State:
    """RFC 21 job states (flux-core's bit values)."""

    NEW: Final = 1
    DEPEND: Final = 2
    PRIORITY: Final = 4
    SCHED: Final = 8
    RUN: Final = 16
    CLEANUP: Final = 32
    INACTIVE: Final = 64
    PENDING: Final = DEPEND | PRIORITY | SCHED
    RUNNING: Final = RUN | CLEANUP
    ACTIVE: Final = PENDING | RUNNING


STATE_NAMES: Final = {
    State.NEW: "NEW",
    State.DEPEND: "DEPEND",
    State.PRIORITY: "PRIORITY",
    State.SCHED: "SCHED",
    State.RUN: "RUN",
    State.CLEANUP: "CLEANUP",
    State.INACTIVE: "INACTIVE",
}

RESULT_COMPLETED: Final = 1
RESULT_FAILED: Final = 2
RESULT_CANCELED: Final = 4
RESULT_TIMEOUT: Final = 8
RESULT_NAMES: Final = {
    RESULT_COMPLETED: "COMPLETED",
    RESULT_FAILED: "FAILED",
    RESULT_CANCELED: "CANCELED",
    RESULT_TIMEOUT: "TIMEOUT",
}

PRIORITY_MAX: Final = 4294967295
# The most tasks one job may run in the embedded instance (each is a process).
MAX_TASKS: Final = 10_000


@attrs.frozen
class ResourceRequest:
    """What a V1 jobspec asks for: slots of cores and GPUs, maybe on nodes."""

    nnodes: int  # 0: any number of nodes
    nslots: int  # slots per node when nnodes > 0, else in total
    cores_per_slot: int
    gpus_per_slot: int
    exclusive: bool
    ntasks: int

    @property
    def total_slots(self) -> int:
        return self.nslots * max(self.nnodes, 1)

    @classmethod
    def from_jobspec(cls, jobspec: dict[str, Any]) -> ResourceRequest:
        """Read the request of a validated V1 jobspec."""
        top = jobspec["resources"][0]
        nnodes, exclusive, slot = 0, False, top
        if top["type"] == "node":
            nnodes, exclusive, slot = top["count"], bool(top.get("exclusive")), top["with"][0]
        cores = gpus = 0
        for child in slot["with"]:
            if child["type"] == "core":
                cores = child["count"]
            elif child["type"] == "gpu":
                gpus = child["count"]
        nslots = slot["count"]
        count = jobspec["tasks"][0]["count"]
        ntasks = count.get("total") or nslots * max(nnodes, 1) * count.get("per_slot", 1)
        return cls(nnodes, nslots, cores, gpus, exclusive, ntasks)


@attrs.define(eq=False)
class Job:
    """The instance's record of one job."""

    id: int
    userid: int
    urgency: int
    t_submit: float
    flags: int
    request: ResourceRequest
    name: str
    queue: str | None = None
    cwd: str | None = None
    project: str | None = None
    duration: float = 0.0
    state: int = State.NEW
    priority: int | None = None
    waitable: bool = False
    dependencies: list[str] = attrs.field(factory=list)
    t_depend: float | None = None
    t_priority: float | None = None
    t_sched: float | None = None
    t_run: float | None = None
    t_cleanup: float | None = None
    t_inactive: float | None = None
    exception: dict[str, Any] | None = None  # the first fatal exception
    exception_any: bool = False
    # The most severe exception so far (the first of equal severity), as job-list shows.
    exception_shown: dict[str, Any] | None = None
    bank: str | None = None
    ncores_allocated: int | None = None
    ntasks_started: int | None = None
    status: int | None = None  # finish wait status
    started: bool = False
    allocated: bool = False
    R: dict[str, Any] | None = None
    expiration: float = 0.0
    ranks: str = ""
    nodelist: str = ""
    annotations: dict[str, Any] = attrs.field(factory=dict)
    kill_signal_sent: bool = False

    @property
    def result(self) -> int:
        """RFC 21 result of an inactive job (flux's rules)."""
        if self.exception is not None:
            kind = self.exception.get("type")
            if kind == "cancel":
                return RESULT_CANCELED
            if kind == "timeout":
                return RESULT_TIMEOUT
            return RESULT_FAILED
        return RESULT_COMPLETED if self.status == 0 else RESULT_FAILED

    @property
    def success(self) -> bool:
        return self.exception is None and self.status == 0

    def info(self) -> dict[str, Any]:
        """The job's job-list record (flux-core's attribute names)."""
        out: dict[str, Any] = {
            "id": self.id,
            "userid": self.userid,
            "urgency": self.urgency,
            "state": self.state,
            "name": self.name,
            "ntasks": self.ntasks_started or self.request.ntasks,
            "ncores": self.ncores_allocated
            or self.request.total_slots * self.request.cores_per_slot,
            "duration": self.duration,
            "t_submit": self.t_submit,
            "waitstatus": self.status,
        }
        if self.priority is not None:
            out["priority"] = self.priority
        if self.request.nnodes:
            out["nnodes"] = self.request.nnodes
        for key in ("queue", "cwd", "project", "bank"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        for key in ("t_depend", "t_priority", "t_sched", "t_run", "t_cleanup", "t_inactive"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.dependencies:
            out["dependencies"] = list(self.dependencies)
        if self.allocated:
            out["ranks"], out["nodelist"] = self.ranks, self.nodelist
            out["nnodes"] = len(IDset(self.ranks)) if self.ranks else 0
            out["expiration"] = self.expiration
        if self.annotations:
            out["annotations"] = self.annotations
        if self.status is None:
            del out["waitstatus"]
        # Like flux's job-list, exceptions and results are reported once a job ends.
        if self.state == State.INACTIVE:
            out["exception_occurred"] = self.exception_any or self.exception is not None
            shown = self.exception_shown or self.exception
            if shown is not None:
                out["exception_type"] = shown["type"]
                out["exception_severity"] = shown["severity"]
                out["exception_note"] = shown.get("note", "")
            out["result"] = self.result
            out["success"] = self.success
        return out


def priority_from_urgency(urgency: int) -> int:
    """Flux's default priority plugin: urgency, with 0 held and 31 expedited."""
    if urgency == 31:
        return PRIORITY_MAX
    return urgency


def finite_or_zero(value: float) -> float:
    return value if math.isfinite(value) else 0.0
