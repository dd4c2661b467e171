"""fluxsdk plugin: a job's priority from its user's (or tag's) recent usage.

Load it in an instance (``fluxsdk start --plugin fair-share``). A job's
priority is ``urgency * 65536 + round(factor * 65535)``: urgency still comes
first, and among jobs of equal urgency those whose key has used less lately
run first. ``factor`` is ``1 / (1 + usage / usage-scale)``, where usage is the
key's core-seconds, halved every ``half-life``, plus the estimated usage of
its jobs still pending or running. Held (urgency 0) and expedited (31) jobs
are left to the instance, as in Flux.

Settings, in the instance configuration file's ``fair-share`` section:

- ``by``: ``user`` (default) or ``tag``: the value of the jobspec attribute
  named by ``tag-attribute`` (default ``user.tag``, set with
  ``jobspec.setattr("user.tag", "physics")``); jobs without one count for
  their user.
- ``half-life`` (default ``1d``), ``usage-scale`` (core-seconds, default
  3600), ``default-duration`` (default ``1m``): see :class:`Settings`.
- ``state``: where usage is kept across restarts (default
  ``<statedir>/fair-share.json``, saved at most once a second and at exit).

Priorities are computed when jobs become eligible; usage that accrues later
does not reorder jobs already queued.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks import InstanceInfo, InstanceJob, hookimpl
from fluxsdk.util import get_treedict, parse_fsd

from fluxsdk_fair_share._ledger import Ledger, Settings

__all__ = [
    "Ledger",
    "Settings",
    "fluxsdk_instance_job_event",
    "fluxsdk_instance_job_priority",
    "key_for",
    "priority",
]

NAME = "fair-share"
FACTOR_STEPS = 65535
SAVE_INTERVAL = 1.0

# One ledger per instance (by state file), each with the time it was last saved.
_ledgers: dict[str, tuple[Ledger, list[float]]] = {}


def _seconds(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    seconds = parse_fsd(value) if isinstance(value, str) else float(value)
    if seconds <= 0:
        raise ValueError(f"{NAME}: {key} must be positive, not {value!r}")
    return seconds


def _ledger(instance: InstanceInfo) -> Ledger:
    config = instance.plugin_config(NAME)
    state = config.get("state")
    path = Path(os.path.expanduser(str(state))) if state else instance.statedir / "fair-share.json"
    entry = _ledgers.get(str(path))
    if entry is None:
        settings = Settings(
            half_life=_seconds(config, "half-life", 86400.0),
            usage_scale=_seconds(config, "usage-scale", 3600.0),
            default_duration=_seconds(config, "default-duration", 60.0),
        )
        ledger = Ledger.load(settings, path)
        entry = _ledgers[str(path)] = (ledger, [time.monotonic()])
        atexit.register(ledger.save)
    return entry[0]


def _save_soon(ledger: Ledger) -> None:
    for stored, last in _ledgers.values():
        if stored is ledger and time.monotonic() - last[0] >= SAVE_INTERVAL:
            ledger.save()
            last[0] = time.monotonic()


def key_for(job: InstanceJob, jobspec: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """Whom ``job`` counts for: ``tag:<tag>`` (with ``by: tag``) or ``user:<uid>``."""
    if config.get("by", "user") == "tag":
        path = str(config.get("tag-attribute", "user.tag"))
        tag = get_treedict(dict(jobspec.get("attributes", {})), path)
        if isinstance(tag, str) and tag:
            return f"tag:{tag}"
    return f"user:{job.userid}"


def priority(urgency: int, factor: float) -> int:
    """Urgency first, then the fair-share factor (0..1) within it."""
    return urgency * (FACTOR_STEPS + 1) + round(min(max(factor, 0.0), 1.0) * FACTOR_STEPS)


@hookimpl
def fluxsdk_instance_job_priority(
    job: InstanceJob, jobspec: Mapping[str, Any], instance: InstanceInfo
) -> int:
    """The job's priority from its key's usage, then count the job as on its way."""
    ledger = _ledger(instance)
    key = ledger.key_of(int(job.id)) or key_for(job, jobspec, instance.plugin_config(NAME))
    now = time.time()
    # The job's own estimate does not count against it (a re-prioritization sees the same).
    usage = ledger.total(key, now) - (ledger.jobs.get(int(job.id), (key, 0.0))[1])
    value = priority(job.urgency, ledger.settings.factor(usage))
    estimate = job.ncores * (job.duration or ledger.settings.default_duration)
    ledger.expect(int(job.id), key, estimate)
    _save_soon(ledger)
    return value


@hookimpl
def fluxsdk_instance_job_event(
    job: InstanceJob, event: EventLogEvent, instance: InstanceInfo
) -> None:
    """At a job's end, replace its estimate by what it really used."""
    if event.name != "clean":
        return
    ledger = _ledger(instance)
    key = ledger.key_of(int(job.id)) or f"user:{job.userid}"
    used = 0.0
    if job.t_run is not None:
        used = job.ncores * max(event.timestamp - job.t_run, 0.0)
    ledger.ended(int(job.id), key, used, event.timestamp)
    _save_soon(ledger)
