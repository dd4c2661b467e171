"""fluxsdk plugin: every event of every job, as JSON lines, from inside the instance.

Load it in an instance (``fluxsdk start --plugin audit``). Each event of each
job becomes one line of ``<statedir>/audit.jsonl``::

    {"timestamp":1700000000.1,"id":123,"jobid":"ƒ2x","userid":1000,
     "name":"submit","context":{...},"state":"DEPEND"}

Settings, in the instance configuration file's ``audit`` section: ``path``
(where to write) and ``fsync`` (true: force each line to disk; default false,
each line reaches the operating system at once and survives a crash of the
instance). The file is only ever appended to, across restarts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks import InstanceInfo, InstanceJob, hookimpl

from fluxsdk_audit._log import AuditLog, read_records

__all__ = ["AuditLog", "fluxsdk_instance_job_event", "log_path", "read_records"]

NAME = "audit"

# Open logs by path: one per instance, opened on its first event.
_logs: dict[Path, AuditLog] = {}


def log_path(instance: InstanceInfo) -> Path:
    """Where ``instance``'s audit log goes: its ``audit.path`` setting, or
    ``audit.jsonl`` in its state directory."""
    configured = instance.plugin_config(NAME).get("path")
    if configured is None:
        return instance.statedir / "audit.jsonl"
    return Path(os.path.expanduser(str(configured)))


def _log_for(instance: InstanceInfo) -> AuditLog:
    path = log_path(instance)
    log = _logs.get(path)
    if log is None:
        fsync = bool(instance.plugin_config(NAME).get("fsync", False))
        log = _logs[path] = AuditLog(path, fsync=fsync)
    return log


def record(job: InstanceJob, event: EventLogEvent) -> dict[str, Any]:
    """The audit record of one event."""
    return {
        "timestamp": event.timestamp,
        "id": int(job.id),
        "jobid": str(job.id),
        "userid": job.userid,
        "name": event.name,
        "context": event.context,
        "state": job.state,
    }


@hookimpl
def fluxsdk_instance_job_event(
    job: InstanceJob, event: EventLogEvent, instance: InstanceInfo
) -> None:
    """Append the event to the instance's audit log."""
    _log_for(instance).write(record(job, event))
