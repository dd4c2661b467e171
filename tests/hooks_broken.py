"""Deliberately broken instance plugins, for the failure-rule tests.

Loaded by module name (``--plugin tests.hooks_broken``). What each hook does
wrong is chosen per job by its name, ``<hook>-<mode>`` (``priority-raise``,
``event-exit``...), or for every job by the instance configuration's
``broken`` section: ``broken: {priority: hang, seconds: 5}``.

``priority`` modes: ``raise``, ``hang``, ``garbage`` (a str), ``huge`` (out
of range), ``bool``, ``exit`` (sys.exit), ``slow``; otherwise it answers
urgency + 1000. ``event`` modes: ``raise``, ``hang``, ``slow``, ``exit``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks import InstanceInfo, InstanceJob, hookimpl


def _mode(job: InstanceJob, instance: InstanceInfo, hook: str) -> tuple[str, float]:
    config = instance.plugin_config("broken")
    seconds = float(config.get("seconds", 0.3))
    if job.name.startswith(hook + "-"):
        return job.name[len(hook) + 1 :], seconds
    return str(config.get(hook, "fine")), seconds


@hookimpl
def fluxsdk_instance_job_priority(
    job: InstanceJob, jobspec: Mapping[str, Any], instance: InstanceInfo
) -> Any:
    """Misbehave as asked."""
    mode, seconds = _mode(job, instance, "priority")
    if mode == "raise":
        raise RuntimeError("broken priority plugin")
    if mode in ("hang", "slow"):
        time.sleep(seconds)
    if mode == "garbage":
        return "high"
    if mode == "huge":
        return 2**40
    if mode == "bool":
        return True
    if mode == "exit":
        sys.exit(3)
    jobspec["attributes"].clear()  # a copy: the instance must not care
    return job.urgency + 1000


@hookimpl
def fluxsdk_instance_job_event(
    job: InstanceJob, event: EventLogEvent, instance: InstanceInfo
) -> None:
    """Misbehave as asked."""
    mode, seconds = _mode(job, instance, "event")
    event.context.clear()  # a copy: the eventlog must not change
    if mode == "raise":
        raise ValueError(f"broken event plugin at {event.name}")
    if mode in ("hang", "slow"):
        time.sleep(seconds)
    if mode == "exit":
        sys.exit(4)
