"""fluxsdk plugin: a site's jobspec defaults and limits, from one YAML file.

Where each part runs:

- **instance side** (the policy): in an instance started with
  ``--plugin site-policy``, every submitted jobspec, from any client, gets the
  site's default duration and queue where it leaves them unset
  (``fluxsdk_instance_jobspec_transform``), and a jobspec beyond the site's
  limits (duration, queues, cores) is refused with a message that says what
  to change (``fluxsdk_instance_jobspec_validate``). Nobody can skip it.
- **client side** (a convenience): in every process that submits, the
  site's default environment variables are added to the job
  (``fluxsdk_jobspec_transform``); the environment must be set by the client,
  since an instance runs a job's tasks from its signed jobspec, as Flux does.

The instance reads the policy from its configuration's ``site-policy``
section (``defaults`` and ``limits`` inline, or ``file: PATH``), else from
the file :func:`find_policy_file` finds; clients from that file. A file is
re-read when it changes; without a policy the plugin does nothing. A policy
that cannot be used refuses every submission with the reason (better than
ignoring the site's limits).
"""

from __future__ import annotations

import os
from pathlib import Path

from fluxsdk.hooks import InstanceInfo, hookimpl
from fluxsdk.job import Jobspec
from fluxsdk.util import fsd

from fluxsdk_site_policy._policy import (
    ENV_POLICY,
    Policy,
    PolicyError,
    find_policy_file,
    load_policy,
    parse_policy,
)

__all__ = [
    "ENV_POLICY",
    "Policy",
    "PolicyError",
    "current_policy",
    "find_policy_file",
    "fluxsdk_instance_jobspec_transform",
    "fluxsdk_instance_jobspec_validate",
    "fluxsdk_jobspec_transform",
    "instance_policy",
    "limits_problems",
    "load_policy",
    "parse_policy",
]

NAME = "site-policy"
"""The plugin's name: its entry point, and its section of an instance configuration."""

# The last policy read, with the (path, mtime, size) it was read at.
_cached: tuple[tuple[str, int, int], Policy] | None = None


def _read(path: Path) -> Policy:
    global _cached
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if _cached is None or _cached[0] != key:
        _cached = (key, load_policy(path))
    return _cached[1]


def current_policy() -> Policy | None:
    """The policy file in force (re-read when it changes), or None without one.

    Raises:
        PolicyError: the policy file cannot be read or is invalid.
    """
    path = find_policy_file()
    return None if path is None else _read(path)


def instance_policy(instance: InstanceInfo) -> Policy | None:
    """The policy of ``instance``: its configuration's ``site-policy`` section
    (``file: PATH``, or ``defaults`` / ``limits`` inline), else the policy file.

    Raises:
        PolicyError: the policy cannot be read or is invalid.
    """
    try:
        section = dict(instance.plugin_config(NAME))
    except TypeError as exc:
        raise PolicyError(str(exc)) from None
    if "file" in section:
        if set(section) != {"file"} or not isinstance(section["file"], str):
            raise PolicyError(f"{NAME}: 'file' names a policy file and stands alone")
        return _read(Path(section["file"]))
    if section:
        return parse_policy(section, instance.statedir / "(instance configuration)")
    return current_policy()


def limits_problems(policy: Policy, jobspec: Jobspec) -> list[str]:
    """What in ``jobspec`` breaks ``policy``'s limits, each saying what to change."""
    problems: list[str] = []
    duration = float(jobspec.duration or 0)
    if policy.max_duration is not None:
        if duration == 0:
            problems.append(
                f"a time limit is required (at most {fsd(policy.max_duration)}); "
                "set a duration such as -t 1h"
            )
        elif duration > policy.max_duration:
            problems.append(
                f"duration {fsd(duration)} exceeds the maximum of {fsd(policy.max_duration)}"
            )
    queue = jobspec.queue
    if policy.queues is not None and queue is not None and queue not in policy.queues:
        problems.append(f"queue {queue!r} is not allowed (allowed: {', '.join(policy.queues)})")
    cores = jobspec.resource_counts().get("core", 0)
    if policy.max_cores is not None and cores > policy.max_cores:
        problems.append(f"{cores} cores exceed the maximum of {policy.max_cores} per job")
    return problems


# -- client side ----------------------------------------------------------------------------


@hookimpl
def fluxsdk_jobspec_transform(jobspec: Jobspec) -> None:
    """Add the site's default environment variables the job does not set."""
    try:
        policy = current_policy()
    except PolicyError:
        return  # the instance refuses the job with the reason
    if policy is not None and policy.default_environment:
        environment = dict(jobspec.environment or {})
        jobspec.environment = {**policy.default_environment, **environment}


# -- instance side --------------------------------------------------------------------------


@hookimpl
def fluxsdk_instance_jobspec_transform(jobspec: Jobspec, instance: InstanceInfo) -> None:
    """Fill in the site's default duration and queue."""
    try:
        policy = instance_policy(instance)
    except PolicyError:
        return  # the validator refuses the job with the reason
    if policy is None:
        return
    if policy.default_duration is not None and not jobspec.duration:
        jobspec.duration = policy.default_duration
    if policy.default_queue is not None and jobspec.queue is None:
        jobspec.queue = policy.default_queue


@hookimpl
def fluxsdk_instance_jobspec_validate(jobspec: Jobspec, instance: InstanceInfo) -> str | None:
    """Refuse a jobspec beyond the site's limits; say which limit and what to change."""
    try:
        policy = instance_policy(instance)
    except PolicyError as exc:
        return f"the site policy cannot be used: {exc}"
    if policy is None:
        return None
    problems = limits_problems(policy, jobspec)
    if not problems:
        return None
    return "; ".join(problems) + f" (site policy {policy.path})"
