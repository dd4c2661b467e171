"""Flux's default priority, registered as a built-in plugin of every instance.

It answers last (``trylast``), so any plugin that computes priorities is asked
first; it is registered through the ``fluxsdk_instance_job_priority`` hook
exactly as a plugin would be.
"""

from __future__ import annotations

from fluxsdk.hooks import InstanceJob, hookimpl
from fluxsdk.instance._job import priority_from_urgency

__all__ = ["fluxsdk_instance_job_priority"]


@hookimpl(trylast=True)
def fluxsdk_instance_job_priority(job: InstanceJob) -> int:
    """Priority = urgency (held and expedited jobs never reach a plugin)."""
    return priority_from_urgency(job.urgency)
