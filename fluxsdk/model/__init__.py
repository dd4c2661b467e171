"""The object model: Connection, Job, Task and Pool, Qarnot-style, on ``fluxsdk.job``.

::

    from fluxsdk.model import Connection

    with Connection() as conn:
        job = conn.create_job("render", use_dependencies=True)
        job.submit()
        first = conn.create_task("frames", ["render", "--frames", "1-100"], 4, job)
        last = conn.create_task("movie", ["assemble"], job=job)
        last.dependencies = [first]
        conn.submit_tasks([first, last])
        last.wait(live_progress=True)
        print(last.state, last.stdout())

Every object is a flux job, and everything the model knows about it is kept
in the instance (jobspec user attributes and memos), so other processes see
the same objects. Objects are live: one watcher per instance applies the
instance's job journal (``job-manager.events-journal``) to every object
handed out, so property reads show each delivered event and send no request
(where no stream can be had, objects are polled every ``update_cache_time``).
State callbacks (``on_state_change``) and async iterators (``states()``)
react to changes without threads. See ``docs/model.md``.
"""

from __future__ import annotations

from fluxsdk.model._bulk import SubmitFailure, SubmitReport
from fluxsdk.model._cache import DEFAULT_UPDATE_CACHE_TIME
from fluxsdk.model._connection import Connection
from fluxsdk.model._errors import (
    BulkSubmitError,
    MaxJobException,
    MissingJobException,
    MissingObjectException,
    MissingPoolException,
    MissingTaskException,
    PoolNotReadyException,
    UnauthorizedException,
)
from fluxsdk.model._job import Job
from fluxsdk.model._pool import Pool
from fluxsdk.model._snapshots import Error
from fluxsdk.model._states import JobState, PoolState, TaskState
from fluxsdk.model._task import Progress, Task
from fluxsdk.model._timespan import TimespanLike, format_timespan, parse_timespan

__all__ = [
    "DEFAULT_UPDATE_CACHE_TIME",
    "BulkSubmitError",
    "Connection",
    "Error",
    "Job",
    "JobState",
    "MaxJobException",
    "MissingJobException",
    "MissingObjectException",
    "MissingPoolException",
    "MissingTaskException",
    "Pool",
    "PoolNotReadyException",
    "PoolState",
    "Progress",
    "SubmitFailure",
    "SubmitReport",
    "Task",
    "TaskState",
    "TimespanLike",
    "UnauthorizedException",
    "format_timespan",
    "parse_timespan",
]

# Exported objects name the public module in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
