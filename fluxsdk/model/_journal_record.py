"""A job's ``job-list`` entry, kept current from its journal events (RFC 21).

The model's records are built from ``job-list`` entries
(:meth:`~fluxsdk.model._record.JobRecord.from_listing`). With the job journal
the same entry is computed on the client instead, one event at a time, with
flux's rules: the state each event leads to, the time each state began, the
first fatal exception, the finish status, the result at ``clean`` and the
memos (``annotations.user``). Only what a record reads is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from fluxsdk.job.info import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_RESULT_TIMEOUT,
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_DEPEND,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_NEW,
    FLUX_JOB_STATE_PRIORITY,
    FLUX_JOB_STATE_RUN,
    FLUX_JOB_STATE_SCHED,
)

__all__ = ["apply_event", "new_entry"]

_STOPPABLE: Final = (
    FLUX_JOB_STATE_DEPEND,
    FLUX_JOB_STATE_PRIORITY,
    FLUX_JOB_STATE_SCHED,
    FLUX_JOB_STATE_RUN,
)


def new_entry(jobid: int, jobspec: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entry of a job about to be submitted, named as flux names it."""
    return {"id": jobid, "state": FLUX_JOB_STATE_NEW, "name": _job_name(jobspec), "t_submit": 0.0}


def apply_event(entry: dict[str, Any], name: str, timestamp: float, context: Any) -> None:
    """Update ``entry`` for one main eventlog event."""
    state = entry["state"]
    if name == "submit":
        entry["t_submit"] = timestamp
        if isinstance(context, Mapping) and "urgency" in context:
            entry["urgency"] = context["urgency"]
    elif name == "validate":
        entry["state"] = FLUX_JOB_STATE_DEPEND
    elif name == "depend":
        entry["state"] = FLUX_JOB_STATE_PRIORITY
    elif name == "priority":
        if state == FLUX_JOB_STATE_PRIORITY:
            entry["state"] = FLUX_JOB_STATE_SCHED
    elif name == "urgency":
        entry["urgency"] = context["urgency"]
    elif name == "alloc":
        entry["state"], entry["t_run"] = FLUX_JOB_STATE_RUN, timestamp
    elif name == "exception":
        entry["exception_occurred"] = True
        if context.get("severity") == 0:
            if "exception_type" not in entry:
                entry["exception_type"] = context.get("type")
                entry["exception_severity"] = 0
                entry["exception_note"] = context.get("note", "")
            if state in _STOPPABLE:
                entry["state"], entry["t_cleanup"] = FLUX_JOB_STATE_CLEANUP, timestamp
    elif name == "finish":
        entry["waitstatus"] = context["status"]
        if state == FLUX_JOB_STATE_RUN:
            entry["state"], entry["t_cleanup"] = FLUX_JOB_STATE_CLEANUP, timestamp
    elif name == "clean":
        entry["state"], entry["t_inactive"] = FLUX_JOB_STATE_INACTIVE, timestamp
        entry["result"] = _result(entry)
        entry["success"] = entry["result"] == FLUX_JOB_RESULT_COMPLETED
        entry.setdefault("exception_occurred", False)
    elif name == "memo":
        _memo(entry, context)


def _result(entry: Mapping[str, Any]) -> int:
    kind = entry.get("exception_type")
    if kind is not None:
        if kind == "cancel":
            return FLUX_JOB_RESULT_CANCELED
        if kind == "timeout":
            return FLUX_JOB_RESULT_TIMEOUT
        return FLUX_JOB_RESULT_FAILED
    return FLUX_JOB_RESULT_COMPLETED if entry.get("waitstatus") == 0 else FLUX_JOB_RESULT_FAILED


def _memo(entry: dict[str, Any], context: Mapping[str, Any]) -> None:
    """Memos show under ``annotations.user``; a null value removes a key (flux's rule)."""
    annotations = dict(entry.get("annotations") or {})
    user = dict(annotations.get("user") or {})
    for key, value in context.items():
        if value is None:
            user.pop(key, None)
        else:
            user[key] = value
    if user:
        annotations["user"] = user
    else:
        annotations.pop("user", None)
    entry["annotations"] = annotations


def _job_name(jobspec: Mapping[str, Any] | None) -> str:
    """flux's job name: ``system.job.name``, else the command's base name."""
    if not jobspec:
        return ""
    system = jobspec.get("attributes", {}).get("system", {})
    name = system.get("job", {}).get("name")
    if isinstance(name, str):
        return name
    try:
        return os.path.basename(str(jobspec["tasks"][0]["command"][0]))
    except (KeyError, IndexError, TypeError):
        return ""
