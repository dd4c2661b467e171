"""flux.job-compatible job API: jobspecs, job IDs and (with an instance) jobs.

``from fluxsdk import job`` stands in for ``import flux.job``.
"""

from __future__ import annotations

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID, id_encode, id_parse
from fluxsdk.job._jobspec import Jobspec, JobspecV1, validate_jobspec

__all__ = [
    "EventLogEvent",
    "JobID",
    "Jobspec",
    "JobspecV1",
    "id_encode",
    "id_parse",
    "validate_jobspec",
]
