"""fluxsdk plugin: a site's jobspec defaults and limits, from one YAML file.

Transforms fill in the site's default duration, queue and environment where a
jobspec leaves them unset; the validator rejects a jobspec beyond the site's
limits (duration, queues, cores) with a message that says what to change.
The policy file is found as :func:`find_policy_file` says and re-read when it
changes; without one the plugin does nothing. A policy file that cannot be
used rejects every submission with the reason (better than ignoring the
site's limits).
"""

from __future__ import annotations

import os

from fluxsdk.hooks import Submission, hookimpl
from fluxsdk.job import Jobspec
from fluxsdk.util import fsd

from fluxsdk_site_policy._policy import (
    ENV_POLICY,
    Policy,
    PolicyError,
    find_policy_file,
    load_policy,
)

__all__ = [
    "ENV_POLICY",
    "Policy",
    "PolicyError",
    "current_policy",
    "find_policy_file",
    "fluxsdk_jobspec_transform",
    "fluxsdk_jobspec_validate",
    "load_policy",
]

# The last policy read, with the (path, mtime, size) it was read at.
_cached: tuple[tuple[str, int, int], Policy] | None = None


def current_policy() -> Policy | None:
    """The policy in force (re-read when its file changes), or None without one.

    Raises:
        PolicyError: the policy file cannot be read or is invalid.
    """
    global _cached
    path = find_policy_file()
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if _cached is None or _cached[0] != key:
        _cached = (key, load_policy(path))
    return _cached[1]


@hookimpl
def fluxsdk_jobspec_transform(jobspec: Jobspec) -> None:
    """Fill in the site's default duration, queue and environment."""
    try:
        policy = current_policy()
    except PolicyError:
        return  # the validator reports it
    if policy is None:
        return
    if policy.default_duration is not None and not jobspec.duration:
        jobspec.duration = policy.default_duration
    if policy.default_queue is not None and jobspec.queue is None:
        jobspec.queue = policy.default_queue
    if policy.default_environment:
        environment = dict(jobspec.environment or {})
        jobspec.environment = {**policy.default_environment, **environment}


@hookimpl
def fluxsdk_jobspec_validate(jobspec: Jobspec, submission: Submission) -> str | None:
    """Reject a jobspec beyond the site's limits; say which limit and what to change."""
    del submission  # the same limits apply whoever submits, wherever
    try:
        policy = current_policy()
    except PolicyError as exc:
        return f"the site policy cannot be used: {exc}"
    if policy is None:
        return None
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
    if not problems:
        return None
    return "; ".join(problems) + f" (site policy {policy.path})"
