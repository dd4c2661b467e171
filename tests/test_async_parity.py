"""Every sync/async twin behaves alike: same signature, same results, same errors.

The twins are the functions of :mod:`fluxsdk.job` and their ``a``-prefixed
counterparts in :mod:`fluxsdk.job.aio` (and ``Future.get`` / ``aget``). Each
case runs the sync function, then its twin in ``asyncio.run()``, with the same
arguments on the same jobs, and compares what came back or what was raised.
A twin added to ``fluxsdk.job.aio`` without a row in :data:`TWINS` fails
:func:`test_every_twin_is_listed`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux, Future
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobID, JobInfo, JobspecV1, aio
from fluxsdk.job.aio import AsyncWatch
from tests.core_server import watchdog

UNKNOWN = 12345  # no job has this ID

TWINS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "submit": (job.submit, aio.asubmit),
    "set_urgency": (job.set_urgency, aio.aset_urgency),
    "cancel": (job.cancel, aio.acancel),
    "kill": (job.kill, aio.akill),
    "job_raise": (job.job_raise, aio.ajob_raise),
    "result": (job.result, aio.aresult),
    "wait": (job.wait, aio.await_),
    "event_wait": (job.event_wait, aio.aevent_wait),
    "event_watch": (job.event_watch, aio.aevent_watch),
    "output_event_watch": (job.output_event_watch, aio.aoutput_event_watch),
    "output_watch": (job.output_watch, aio.aoutput_watch),
    "output_watch_lines": (job.output_watch_lines, aio.aoutput_watch_lines),
    "job_output": (job.job_output, aio.ajob_output),
}
"""Sync function and async twin, by the sync name."""


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with watchdog(60):
        yield


@dataclass(frozen=True)
class Jobs:
    """Finished jobs both twins are run on."""

    ok: JobID  # prints a line on stdout and one on stderr, exits 0
    failed: JobID  # exits 3
    not_found: JobID  # its command does not exist: an exec exception


@pytest.fixture(scope="module")
def jobs(fluxsdk_uri: str) -> Jobs:
    with Flux(fluxsdk_uri) as h:
        ok = job.submit(h, JobspecV1.from_command(["sh", "-c", "echo out; echo err >&2"]))
        failed = job.submit(h, JobspecV1.from_command(["sh", "-c", "exit 3"]))
        not_found = job.submit(h, JobspecV1.from_command(["/not/a/real/app"]))
        for jobid in (ok, failed, not_found):
            job.result(h, jobid)
        return Jobs(ok, failed, not_found)


# -- what the twins return, made comparable ------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as plain data that two equivalent results share."""
    if isinstance(value, EventLogEvent):
        return (type(value).__name__, value.name, value.timestamp, value.context)
    if isinstance(value, JobInfo):
        keys = ("id", "result", "returncode", "waitstatus", "t_submit", "t_run", "t_cleanup")
        return {key: getattr(value, key) for key in keys}
    if isinstance(value, tuple):  # named tuples too (JobOutput, JobWaitResult)
        return (type(value).__name__, *(plain(item) for item in value))
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def outcome_of(call: Callable[[], Any]) -> Any:
    try:
        value = call()
        if inspect.isgenerator(value):
            value = list(value)
        return ("ok", plain(value))
    except Exception as exc:
        return ("error", type(exc), str(exc))


async def aoutcome_of(call: Callable[[], Any]) -> Any:
    try:
        value = call()
        if isinstance(value, AsyncWatch):
            value = [item async for item in value]
        else:
            value = await value
        return ("ok", plain(value))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def both(h: Flux, name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The outcome of ``name(h, *args, **kwargs)``, sync then async."""
    sync, twin = TWINS[name]
    return (outcome_of(lambda: sync(h, *args, **kwargs)),
            asyncio.run(aoutcome_of(lambda: twin(h, *args, **kwargs))))  # fmt: skip


# -- the table and the signatures -------------------------------------------------------


def test_every_twin_is_listed() -> None:
    twins = {name for name in aio.__all__ if name.startswith("a") and name[1:] in dir(job)}
    twins |= {"await_"}
    assert twins == {twin.__name__ for _, twin in TWINS.values()}
    for sync, twin in TWINS.values():
        assert twin.__name__ in (f"a{sync.__name__}", f"a{sync.__name__}_")


@pytest.mark.parametrize("name", sorted(TWINS))
def test_signatures_match(name: str) -> None:
    sync, twin = (inspect.signature(f) for f in TWINS[name])
    assert [(p.name, p.kind, p.default) for p in sync.parameters.values()] == [
        (p.name, p.kind, p.default) for p in twin.parameters.values()
    ]
    # Results: the same type, or an AsyncWatch of what the generator yields.
    generated = re.fullmatch(r"Generator\[(.*), None, None\]", str(sync.return_annotation))
    expected = f"AsyncWatch[{generated[1]}]" if generated else sync.return_annotation
    assert twin.return_annotation == expected


# -- the same results and errors ----------------------------------------------------------


def check(pairs: Iterable[tuple[Any, Any]]) -> None:
    for sync, twin in pairs:
        assert sync == twin


def test_results_and_waits(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    check([both(h, "result", jobid) for jobid in (jobs.ok, jobs.failed, jobs.not_found)])
    check([both(h, "result", UNKNOWN)])
    waitable = [job.submit(h, JobspecV1.from_command(["false"]), waitable=True) for _ in "ab"]
    sync = outcome_of(lambda: job.wait(h, waitable[0]))
    twin = asyncio.run(aoutcome_of(lambda: aio.await_(h, waitable[1])))
    assert sync[0] == twin[0] == "ok"
    assert sync[1][0] == twin[1][0] == "JobWaitResult"
    assert sync[1][2:] == twin[1][2:]  # same success and errstr (the IDs differ)
    check([both(h, "wait", waitable[0]), both(h, "wait", UNKNOWN)])  # reaped already


def test_events(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    watched = [both(h, "event_watch", jobid) for jobid in (jobs.ok, jobs.not_found, UNKNOWN)]
    assert watched[0][0][0] == "ok" and len(watched[0][0][1]) == 10
    assert watched[2][0][:2] == ("error", FileNotFoundError)
    check(watched)
    check([
        both(h, "event_watch", jobs.ok, "guest.output"),
        both(h, "event_wait", jobs.ok, "finish"),
        both(h, "event_wait", jobs.ok, "no-such-event"),
        both(h, "event_wait", jobs.not_found, "finish"),
        both(h, "event_wait", jobs.not_found, "finish", raiseJobException=False),
        both(h, "event_wait", UNKNOWN, "start"),
    ])  # fmt: skip


@pytest.mark.parametrize("name", ["output_event_watch", "output_watch", "output_watch_lines"])
def test_output_watches(flux_handle: Flux, jobs: Jobs, name: str) -> None:
    h = flux_handle
    watched = [both(h, name, jobid) for jobid in (jobs.ok, jobs.not_found, UNKNOWN)]
    assert watched[0][0][0] == "ok" and len(watched[0][0][1]) >= 2
    check(watched)
    check([both(h, name, jobs.ok, labelio=True, nowait=True)])


def test_job_output(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    sync, twin = both(h, "job_output", jobs.ok)
    assert sync == twin == ("ok", ("JobOutput", "out\n", "err\n", ""))
    check([
        both(h, "job_output", jobs.not_found),
        both(h, "job_output", jobs.ok, tasks="1", labelio=True),
        both(h, "job_output", jobs.ok, nowait=True, log_stderr_level=-1),
        both(h, "job_output", UNKNOWN),
        both(h, "job_output", UNKNOWN, nowait=True),
    ])  # fmt: skip


def test_submit(flux_handle: Flux) -> None:
    h = flux_handle
    sync, twin = both(h, "submit", JobspecV1.from_command(["true"]), urgency=0)
    assert sync[0] == twin[0] == "ok" and isinstance(sync[1], JobID) and isinstance(twin[1], JobID)
    for held in (sync[1], twin[1]):
        job.cancel(h, held)
    check([
        both(h, "submit", '{"version": 1}'),
        both(h, "submit", None),
        both(h, "submit", JobspecV1.from_command(["true"]), urgency="high"),
        both(h, "submit", JobspecV1.from_command(["true"]), urgency=99),
    ])  # fmt: skip


def test_steering(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    held = [job.submit(h, JobspecV1.from_command(["true"]), urgency=0) for _ in "ab"]
    sync = outcome_of(lambda: job.set_urgency(h, held[0], 1))
    twin = asyncio.run(aoutcome_of(lambda: aio.aset_urgency(h, held[1], 1)))
    assert sync == twin == ("ok", 0)
    check([
        both(h, "set_urgency", jobs.ok, 3),
        both(h, "cancel", jobs.ok),
        both(h, "cancel", UNKNOWN, "why"),
        both(h, "kill", jobs.ok, 9),
        both(h, "kill", UNKNOWN),
        both(h, "kill", held[0], -1),
        both(h, "job_raise", jobs.ok, "test", 1, "a note"),
        both(h, "job_raise", UNKNOWN, "test"),
    ])  # fmt: skip
    for jobid in held:
        job.result(h, jobid)


def test_future_get_and_aget(flux_handle: Flux) -> None:
    h = flux_handle

    def request(topic: str) -> Future:
        return h.rpc(topic, {"name": "rank"})

    def get(topic: str) -> Any:
        return request(topic).get()

    def aget(topic: str) -> Any:
        return aio.aget(request(topic))

    outcomes = [
        (outcome_of(functools.partial(get, topic)),
         asyncio.run(aoutcome_of(functools.partial(aget, topic))))
        for topic in ("broker.getattr", "no-such.service")
    ]  # fmt: skip
    assert outcomes[0][0] == ("ok", {"value": "0"})
    assert outcomes[1][0][0] == "error"
    check(outcomes)
