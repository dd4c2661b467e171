"""flux.job-compatible job API: jobspecs, job IDs, and jobs on any broker.

``from fluxsdk import job`` stands in for ``import flux.job``: the same names,
signatures, events and semantics, over the RPC surface every fluxsdk
connector speaks (see ``docs/protocol.md``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID, id_encode, id_parse
from fluxsdk.job._jobspec import Jobspec, JobspecV1, validate_jobspec
from fluxsdk.job._utils import BatchConfig
from fluxsdk.job.contexts import event_context
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
from fluxsdk.job.kvs import job_kvs, job_kvs_guest
from fluxsdk.job.kvslookup import JobKVSLookup, job_info_lookup, job_kvs_lookup
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
from fluxsdk.job.timeleft import timeleft
from fluxsdk.job.wait import (
    JobResultInfo,
    result,
    result_async,
    wait,
    wait_async,
    wait_get_status,
)
from fluxsdk.job.watcher import JobWatcher

__all__ = [
    "MAIN_EVENTS",
    "BatchConfig",
    "EventLogEvent",
    "FluxExecutor",
    "FluxExecutorFuture",
    "JobEventWatchFuture",
    "JobException",
    "JobID",
    "JobInfo",
    "JobKVSLookup",
    "JobList",
    "JobResultInfo",
    "JobWatcher",
    "Jobspec",
    "JobspecV1",
    "JournalConsumer",
    "JournalEvent",
    "cancel",
    "cancel_async",
    "event_context",
    "event_wait",
    "event_watch",
    "event_watch_async",
    "get_job",
    "id_encode",
    "id_parse",
    "job_fields_to_attrs",
    "job_info_lookup",
    "job_kvs",
    "job_kvs_guest",
    "job_kvs_lookup",
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
    "timeleft",
    "validate_jobspec",
    "wait",
    "wait_async",
    "wait_get_status",
]


def __getattr__(name: str) -> Any:
    """``ffi``: flux's cffi object, whose ``ffi.NULL`` scripts pass for "no handle"
    or "no jobspec" (fluxsdk answers EINVAL, as libflux does). cffi is loaded
    only when ``ffi`` is first asked for."""
    if name == "ffi":
        import cffi

        globals()["ffi"] = cffi.FFI()
        return globals()["ffi"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _JobPackage(types.ModuleType):
    """``fluxsdk.job`` as a module whose ``Jobspec``, ``JobID`` and ``timeleft`` stay put.

    As in flux, ``Jobspec`` and ``JobID`` are both submodules and the classes
    they define (``timeleft`` a submodule and its function). Importing a
    submodule binds it on its package; when the submodule is imported under a
    second name (an import hook that maps ``flux.job.Jobspec`` to
    ``fluxsdk.job.Jobspec``), that binding would replace the class with the
    module. This keeps the class.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("Jobspec", "JobID", "timeleft") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _JobPackage
