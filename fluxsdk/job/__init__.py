"""flux.job-compatible job API: jobspecs, job IDs, and jobs on any broker.

``from fluxsdk import job`` stands in for ``import flux.job``: the same names,
signatures, events and semantics, over the RPC surface every fluxsdk
connector speaks (see ``docs/protocol.md``).
"""

from __future__ import annotations

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID, id_encode, id_parse
from fluxsdk.job._jobspec import Jobspec, JobspecV1, validate_jobspec
from fluxsdk.job.event import (
    MAIN_EVENTS,
    JobEventWatchFuture,
    JobException,
    event_wait,
    event_watch,
    event_watch_async,
)
from fluxsdk.job.executor import FluxExecutor, FluxExecutorFuture
from fluxsdk.job.info import JobInfo, job_fields_to_attrs
from fluxsdk.job.journal import JournalConsumer, JournalEvent
from fluxsdk.job.kill import cancel, cancel_async, job_raise, job_raise_async, kill, kill_async
from fluxsdk.job.list import JobList, get_job, job_list, job_list_id, job_list_inactive
from fluxsdk.job.output import (
    job_output,
    output_event_watch,
    output_event_watch_async,
    output_watch,
    output_watch_async,
    output_watch_lines,
    output_watch_lines_async,
)
from fluxsdk.job.submit import (
    set_urgency,
    set_urgency_async,
    submit,
    submit_async,
    submit_get_id,
)
from fluxsdk.job.wait import result, result_async, wait, wait_async, wait_get_status

__all__ = [
    "MAIN_EVENTS",
    "EventLogEvent",
    "FluxExecutor",
    "FluxExecutorFuture",
    "JobEventWatchFuture",
    "JobException",
    "JobID",
    "JobInfo",
    "JobList",
    "Jobspec",
    "JobspecV1",
    "JournalConsumer",
    "JournalEvent",
    "cancel",
    "cancel_async",
    "event_wait",
    "event_watch",
    "event_watch_async",
    "get_job",
    "id_encode",
    "id_parse",
    "job_fields_to_attrs",
    "job_list",
    "job_list_id",
    "job_list_inactive",
    "job_output",
    "job_raise",
    "job_raise_async",
    "kill",
    "kill_async",
    "output_event_watch",
    "output_event_watch_async",
    "output_watch",
    "output_watch_async",
    "output_watch_lines",
    "output_watch_lines_async",
    "result",
    "result_async",
    "set_urgency",
    "set_urgency_async",
    "submit",
    "submit_async",
    "submit_get_id",
    "validate_jobspec",
    "wait",
    "wait_async",
    "wait_get_status",
]
