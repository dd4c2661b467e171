"""fluxsdk.job end to end, against a real embedded instance.

Every test here submits real jobs to the session's instance (the
``fluxsdk_uri`` / ``flux_handle`` fixtures of :mod:`fluxsdk.testing`) and
checks the exact values flux-core 0.88 gives for the same scenario, as recorded
in the flux reference notes (events, results, return codes, errors and their
messages). Each test cancels what it started and waits for it to end, so no
job outlives it.

Where fluxsdk knowingly differs from flux, the flux behaviour is asserted in a
test marked ``xfail(strict=True)`` whose reason says where the difference
lives; such a test starts to pass (and so fails) once it is fixed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobID, JobInfo, JobspecV1
from fluxsdk.job import info as inf
from fluxsdk.job import output as out
from fluxsdk.job.event import JobEventWatchFuture
from fluxsdk.job.submit import SubmitFuture
from fluxsdk.job.wait import FLUX_JOBID_ANY, JobWaitResult, WaitErrorString
from tests.core_server import watchdog

UID = os.getuid()
HOST = socket.gethostname()
MAIN_OK = ["submit", "validate", "depend", "priority", "alloc", "start"]
MAIN_END = ["finish", "release", "free", "clean"]
NOT_FOUND = "/nonexistent/cmd"
NOT_FOUND_NOTE = f"task 0 (host {HOST}): start failed: {NOT_FOUND}: No such file or directory"
UNKNOWN = 12345  # ƒ4fr: no job has this ID


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    # A lost event would hang a blocking watch: fail instead.
    with watchdog(60):
        yield


class Jobs:
    """Submits jobs for one test and makes sure they have all ended afterwards."""

    def __init__(self, handle: Flux) -> None:
        self.h = handle
        self.ids: list[JobID] = []

    def spec(self, *command: str, **kwargs: Any) -> JobspecV1:
        return JobspecV1.from_command(list(command), **kwargs)

    def submit(self, spec: JobspecV1 | Sequence[str], **kwargs: Any) -> JobID:
        if not isinstance(spec, JobspecV1):
            spec = self.spec(*spec)
        jobid = job.submit(self.h, spec, **kwargs)
        self.ids.append(jobid)
        return jobid

    def track(self, jobid: JobID) -> JobID:
        self.ids.append(jobid)
        return jobid

    def run(self, *command: str, **spec_kwargs: Any) -> JobInfo:
        """Submit ``command`` (``spec_kwargs``: ``from_command`` options); return its result."""
        return job.result(self.h, self.submit(self.spec(*command, **spec_kwargs)))

    def running(self, *command: str, **spec_kwargs: Any) -> JobID:
        """Submit ``command`` (which should print one line first) and wait for that line."""
        jobid = self.submit(self.spec(*command, **spec_kwargs))
        lines = job.output_watch_lines(self.h, jobid)
        with contextlib.closing(lines):
            next(lines)
        return jobid

    def held(self, *command: str) -> JobID:
        """A job held in SCHED with urgency 0."""
        return self.submit(list(command or ("true",)), urgency=0)

    def cleanup(self, uri: str) -> None:
        with Flux(uri) as h:
            for jobid in self.ids:
                with contextlib.suppress(OSError):
                    job.cancel(h, jobid, "test cleanup")
            for jobid in self.ids:
                job.result(h, jobid)


@pytest.fixture
def jobs(flux_handle: Flux, fluxsdk_uri: str) -> Iterator[Jobs]:
    tracker = Jobs(flux_handle)
    try:
        yield tracker
    finally:
        tracker.cleanup(fluxsdk_uri)


def names(events: Sequence[EventLogEvent]) -> list[str]:
    return [event.name for event in events]


def contexts(events: Sequence[EventLogEvent]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        found.setdefault(event.name, []).append(event.context)
    return found


def unique_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def drain_waitable(h: Flux) -> None:
    """Reap every waitable job (of any test) so FLUX_JOBID_ANY sees only ours."""
    while True:
        try:
            job.wait(h)
        except ChildProcessError:
            return


# =====================================================================================
# event_watch / event_wait
# =====================================================================================


def test_event_watch_follows_rfc21_order_of_a_successful_job(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    events = list(job.event_watch(flux_handle, jobid))
    assert names(events) == MAIN_OK + MAIN_END
    ctx = contexts(events)
    assert ctx["submit"] == [{"userid": UID, "urgency": 16, "flags": 0, "version": 1}]
    for bare in ("validate", "depend", "start", "free", "clean"):
        assert ctx[bare] == [{}]
    assert ctx["priority"] == [{"priority": 16}]
    summary = ctx["alloc"][0]["annotations"]["sched"]["resource_summary"]
    assert summary.startswith("rank0/core")
    assert ctx["finish"] == [{"status": 0}]
    assert ctx["release"] == [{"ranks": "all", "final": True}]
    stamps = [event.timestamp for event in events]
    assert stamps == sorted(stamps)
    # A finished job's log is replayed whole, identically.
    again = list(job.event_watch(flux_handle, jobid))
    assert [(e.timestamp, e.name, e.context) for e in again] == [
        (e.timestamp, e.name, e.context) for e in events
    ]


def test_event_watch_async_with_then_and_reactor_run(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    seen: list[EventLogEvent] = []
    ended: list[bool] = []

    def on_event(future: JobEventWatchFuture) -> None:
        event = future.get_event()
        if event is None:
            ended.append(True)
        else:
            seen.append(event)

    job.event_watch_async(flux_handle, jobid).then(on_event)
    assert seen == []  # then() never runs the callback itself
    assert flux_handle.reactor_run() == 0
    assert names(seen) == MAIN_OK + MAIN_END
    assert ended == [True]
    assert [e.timestamp for e in seen] == [e.timestamp for e in job.event_watch(flux_handle, jobid)]


def test_get_event_without_autoreset_repeats_until_reset(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    job.result(flux_handle, jobid)
    watcher = job.event_watch_async(flux_handle, jobid)
    first = watcher.get_event(autoreset=False)
    repeat = watcher.get_event(autoreset=False)
    assert first is not None and repeat is not None
    assert (
        (repeat.name, repeat.timestamp)
        == (first.name, first.timestamp)
        == ("submit", first.timestamp)
    )
    watcher.reset()
    following = watcher.get_event()
    assert following is not None and following.name == "validate"
    rest = []
    while (event := watcher.get_event()) is not None:
        rest.append(event.name)
    assert rest == MAIN_OK[2:] + MAIN_END
    assert watcher.get_event() is None  # the end stays the end


def test_cancelling_a_watch_mid_stream_ends_it(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.running("sh", "-c", "echo up; sleep 30")
    watcher = job.event_watch_async(flux_handle, jobid)
    got = []
    while (event := watcher.get_event()) is not None:
        got.append(event.name)
        if event.name == "start":
            watcher.cancel()
            break
    assert got == MAIN_OK
    assert watcher.needs_cancel is False
    assert watcher.get_event() is None  # the stream ended although the job runs on
    assert not watcher.is_pending()
    info = job.get_job(flux_handle, jobid)
    assert info is not None and info["state"] == "RUN"
    # Leaving an event_watch() loop early cancels its watch too.
    for event in job.event_watch(flux_handle, jobid):
        if event.name == "alloc":
            break
    job.cancel(flux_handle, jobid)
    assert job.result(flux_handle, jobid).result == "CANCELED"


def test_event_wait_returns_the_event(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    finish = job.event_wait(flux_handle, jobid, "finish")
    assert (finish.name, finish.context) == ("finish", {"status": 0})
    header = job.event_wait(flux_handle, jobid, "header", eventlog="guest.output")
    assert header.context["count"] == {"stdout": 1, "stderr": 1}


def test_event_wait_enodata_when_the_log_ends_first(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    with pytest.raises(OSError) as info:
        job.event_wait(flux_handle, jobid, "exception")
    assert info.value.errno == errno.ENODATA
    assert info.value.strerror == "eventlog ended before event='exception'"


def test_event_wait_raises_a_fatal_exception_seen_first(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.held()
    job.cancel(flux_handle, jobid, "not today")
    with pytest.raises(job.JobException) as info:
        job.event_wait(flux_handle, jobid, "start")
    exc = info.value
    assert (exc.type, exc.severity, exc.note) == ("cancel", 0, "not today")
    assert str(exc) == "job.exception: type=cancel: not today"
    assert exc.args == ()
    with pytest.raises(OSError) as enodata:
        job.event_wait(flux_handle, jobid, "start", raiseJobException=False)
    assert enodata.value.errno == errno.ENODATA
    assert enodata.value.strerror == "eventlog ended before event='start'"


def test_event_wait_and_watch_unknown_job_is_enoent(flux_handle: Flux) -> None:
    with pytest.raises(FileNotFoundError) as info:
        job.event_wait(flux_handle, UNKNOWN, "start")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(FileNotFoundError):
        list(job.event_watch(flux_handle, UNKNOWN))


# =====================================================================================
# result
# =====================================================================================


def result_of(info: JobInfo) -> tuple[Any, ...]:
    exc = info.exception
    return (
        info.result,
        info.returncode,
        info.waitstatus,
        (exc.occurred, exc.type, exc.severity, exc.note),
    )


NO_EXC = (False, "", "", "")


def test_result_exit_0(jobs: Jobs) -> None:
    info = jobs.run("true")
    assert result_of(info) == ("COMPLETED", 0, 0, NO_EXC)
    assert (info.result_id, info.result_abbrev) == (inf.FLUX_JOB_RESULT_COMPLETED, "CD")
    assert info.runtime == pytest.approx(info.t_cleanup - info.t_run)


def test_result_exit_3(jobs: Jobs) -> None:
    assert result_of(jobs.run("sh", "-c", "exit 3")) == ("FAILED", 3, 768, NO_EXC)


def test_result_command_not_found(flux_handle: Flux, jobs: Jobs) -> None:
    info = jobs.run(NOT_FOUND)
    assert result_of(info) == ("FAILED", 127, 32512, (True, "exec", 0, NOT_FOUND_NOTE))
    events = list(job.event_watch(flux_handle, info.id))
    assert names(events) == [*MAIN_OK, "exception", *MAIN_END]
    assert events[6].context == {
        "type": "exec",
        "severity": 0,
        "note": NOT_FOUND_NOTE,
        "userid": UID,
    }


def test_result_cancel_while_running(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.running("sh", "-c", "echo up; sleep 30")
    job.cancel(flux_handle, jobid)
    info = job.result(flux_handle, jobid)
    assert result_of(info) == ("CANCELED", 143, 36608, (True, "cancel", 0, ""))
    events = list(job.event_watch(flux_handle, jobid))
    assert names(events) == [*MAIN_OK, "exception", *MAIN_END]
    assert events[6].context == {"type": "cancel", "severity": 0, "note": "", "userid": UID}


def test_result_cancel_while_pending(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.held()
    job.cancel(flux_handle, jobid)
    info = job.result(flux_handle, jobid)
    assert result_of(info) == ("CANCELED", -128, "", (True, "cancel", 0, ""))
    raw = job.result_async(flux_handle, jobid).get_dict()
    assert set(raw) == {
        "id",
        "exception_occurred",
        "t_submit",
        "exception_type",
        "exception_note",
        "exception_severity",
        "result",
    }
    assert names(list(job.event_watch(flux_handle, jobid))) == [
        "submit",
        "validate",
        "depend",
        "priority",
        "exception",
        "clean",
    ]


def test_result_kill_sigkill(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.running("sh", "-c", "echo up; sleep 30")
    job.kill(flux_handle, jobid, signal.SIGKILL)
    assert result_of(job.result(flux_handle, jobid)) == ("FAILED", 137, 35072, NO_EXC)


def test_result_duration_timeout(jobs: Jobs) -> None:
    info = jobs.run("sleep", "30", duration=1)
    assert result_of(info) == (
        "TIMEOUT",
        142,
        36352,
        (True, "timeout", 0, "resource allocation expired"),
    )
    assert 1.0 <= info.runtime < 5.0


def test_result_dict_and_repeated_calls(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    first = job.result_async(flux_handle, jobid).get_dict()
    second = job.result_async(flux_handle, jobid).get_dict()
    assert first == second
    assert set(first) == {
        "id",
        "exception_occurred",
        "t_submit",
        "t_run",
        "t_cleanup",
        "waitstatus",
        "result",
    }
    events = {e.name: e for e in job.event_watch(flux_handle, jobid)}
    # t_run is the alloc event's time, t_cleanup the finish event's (libjob).
    assert first["t_submit"] == events["submit"].timestamp
    assert first["t_run"] == events["alloc"].timestamp
    assert first["t_cleanup"] == events["finish"].timestamp
    assert (first["id"], first["waitstatus"], first["result"]) == (jobid, 0, 1)
    assert result_of(job.result(flux_handle, jobid)) == result_of(job.result(flux_handle, jobid))


def test_result_unknown_job_is_enoent(flux_handle: Flux) -> None:
    with pytest.raises(FileNotFoundError):
        job.result(flux_handle, UNKNOWN)


def test_seed_asynchronous_event_loop_example(
    flux_handle: Flux, jobs: Jobs, capsys: pytest.CaptureFixture[str]
) -> None:
    # The seed's "Asynchronous event-loop interface" example, as written there.
    submitted: list[JobID] = []

    def submit_cb(fut: SubmitFuture, flux_handle: Flux) -> None:
        jobid = fut.get_id()
        submitted.append(jobs.track(jobid))
        result_fut = job.result_async(flux_handle, jobid)
        result_fut.then(result_cb)

    def result_cb(fut: Any) -> None:
        info = fut.get_info()
        result = info.result.lower()
        print(f"{info.id}: {result} with returncode {info.returncode}")

    jobspec = JobspecV1.from_command(["/bin/true"])
    for _ in range(5):
        submit_future = job.submit_async(flux_handle, jobspec)
        submit_future.then(submit_cb, flux_handle)
    flux_handle.reactor_run()
    lines = capsys.readouterr().out.splitlines()
    assert len(submitted) == 5 and len(set(submitted)) == 5
    assert sorted(lines) == sorted(f"{jobid}: completed with returncode 0" for jobid in submitted)


# =====================================================================================
# wait
# =====================================================================================


def test_wait_for_waitable_jobs(flux_handle: Flux, jobs: Jobs) -> None:
    ok = jobs.submit(["true"], waitable=True)
    bad = jobs.submit(["sh", "-c", "exit 3"], waitable=True)
    assert job.wait(flux_handle, ok) == JobWaitResult(ok, True, WaitErrorString(""))
    status = job.wait_async(flux_handle, bad).get_status()
    assert status == JobWaitResult(bad, False, WaitErrorString("task(s) exited with exit code 3"))
    # A job is waited for once.
    with pytest.raises(ChildProcessError) as again:
        job.wait(flux_handle, ok)
    assert again.value.errno == errno.ECHILD
    assert again.value.strerror == "invalid job id, or job may be inactive and not waitable"


def test_wait_any_then_echild(flux_handle: Flux, jobs: Jobs) -> None:
    drain_waitable(flux_handle)
    first = jobs.submit(["true"], waitable=True)
    second = jobs.submit(["sh", "-c", "exit 1"], waitable=True)
    got = {job.wait(flux_handle).jobid for _ in range(2)}
    assert got == {first, second}
    with pytest.raises(ChildProcessError) as info:
        job.wait(flux_handle, FLUX_JOBID_ANY)
    assert info.value.errno == errno.ECHILD
    assert info.value.strerror == "there are no more waitable jobs"


def test_wait_echild_cases(flux_handle: Flux, jobs: Jobs) -> None:
    plain = jobs.submit(["true"])
    job.result(flux_handle, plain)
    running = jobs.running("sh", "-c", "echo up; sleep 30")
    cases = {
        UNKNOWN: "invalid job id, or job may be inactive and not waitable",
        plain: "invalid job id, or job may be inactive and not waitable",
        running: "job was not submitted with FLUX_JOB_WAITABLE",
    }
    for jobid, message in cases.items():
        with pytest.raises(ChildProcessError) as info:
            job.wait(flux_handle, jobid)
        assert (info.value.errno, info.value.strerror) == (errno.ECHILD, message)


def test_wait_for_a_canceled_pending_job_and_with_then(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"], urgency=0, waitable=True)
    job.cancel(flux_handle, jobid, "reason here")
    statuses: list[JobWaitResult] = []
    job.wait_async(flux_handle, jobid).then(lambda f: statuses.append(f.get_status()))
    flux_handle.reactor_run()
    assert statuses == [
        JobWaitResult(jobid, False, WaitErrorString("Fatal exception type=cancel reason here"))
    ]


def test_wait_errstr_decodes_like_flux_bytes(flux_handle: Flux, jobs: Jobs) -> None:
    """flux.job gives bytes; flux scripts call .decode(), which works on fluxsdk's text too."""
    jobid = jobs.submit(["sh", "-c", "exit 3"], waitable=True)
    errstr = job.wait(flux_handle, jobid).errstr
    assert errstr == "task(s) exited with exit code 3"
    assert errstr.decode() == "task(s) exited with exit code 3"


# =====================================================================================
# kill, cancel, raise, urgency
# =====================================================================================


def test_kill_defaults_to_sigterm(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.running("sh", "-c", "echo up; sleep 30")
    job.kill(flux_handle, jobid)
    assert result_of(job.result(flux_handle, jobid)) == ("FAILED", 143, 36608, NO_EXC)


def test_kill_einval_cases(flux_handle: Flux, jobs: Jobs) -> None:
    pending = jobs.held()
    done = jobs.submit(["true"])
    job.result(flux_handle, done)
    cases: list[tuple[int, int | None, str]] = [
        (UNKNOWN, None, "unknown job id"),
        (pending, None, "job is not running"),
        (done, None, "job is inactive"),
        (pending, 99, "Invalid signal number"),
    ]
    for jobid, signum, message in cases:
        with pytest.raises(OSError) as info:
            job.kill(flux_handle, jobid, signum)
        assert (info.value.errno, info.value.strerror) == (errno.EINVAL, message)
    with pytest.raises(OSError) as negative:
        job.kill(flux_handle, pending, -1)  # refused before any RPC
    assert negative.value.errno == errno.EINVAL


def test_cancel_and_raise_errors(flux_handle: Flux, jobs: Jobs) -> None:
    done = jobs.submit(["true"])
    job.result(flux_handle, done)
    with pytest.raises(FileNotFoundError) as unknown:
        job.cancel(flux_handle, UNKNOWN)
    assert unknown.value.strerror == "unknown job id"
    with pytest.raises(FileNotFoundError) as inactive:
        job.cancel(flux_handle, done)
    assert inactive.value.strerror == "job is inactive"
    pending = jobs.held()
    for exc_type, severity, message in (
        ("bad type", 0, "invalid exception type"),
        ("x", 8, "invalid exception severity"),
    ):
        with pytest.raises(OSError) as info:
            job.job_raise(flux_handle, pending, exc_type, severity)
        assert (info.value.errno, info.value.strerror) == (errno.EPROTO, message)


def test_nonfatal_exception_does_not_end_the_job(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.running("sh", "-c", "echo up; sleep 30")
    job.job_raise(flux_handle, jobid, "test", 3, "hello")
    event = job.event_wait(flux_handle, jobid, "exception")
    assert event.context == {"type": "test", "severity": 3, "note": "hello", "userid": UID}
    time.sleep(0.2)
    info = job.get_job(flux_handle, jobid)
    assert info is not None and info["state"] == "RUN"
    job.cancel(flux_handle, jobid)
    # libjob's rule: the later fatal exception replaces the non-fatal one.
    assert result_of(job.result(flux_handle, jobid)) == (
        "CANCELED",
        143,
        36608,
        (True, "cancel", 0, ""),
    )
    exceptions = [e.context for e in job.event_watch(flux_handle, jobid) if e.name == "exception"]
    assert [(c["type"], c["severity"]) for c in exceptions] == [("test", 3), ("cancel", 0)]


def test_set_urgency_hold_then_release(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.held()
    pending = job.get_job(flux_handle, jobid)
    assert pending is not None
    assert (pending["state"], pending["urgency"], pending["priority"]) == ("SCHED", 0, 0)
    assert job.set_urgency(flux_handle, jobid, 16) == 0
    assert job.result(flux_handle, jobid).result == "COMPLETED"
    events = list(job.event_watch(flux_handle, jobid))
    assert names(events) == [*MAIN_OK[:4], "urgency", "priority", *MAIN_OK[4:], *MAIN_END]
    ctx = contexts(events)
    assert ctx["urgency"] == [{"userid": UID, "urgency": 16}]
    assert ctx["priority"] == [{"priority": 0}, {"priority": 16}]
    expedited = jobs.held()
    assert job.set_urgency_async(flux_handle, expedited, 31).get_old_urgency() == 0
    job.result(flux_handle, expedited)
    priorities = [
        e.context for e in job.event_watch(flux_handle, expedited) if e.name == "priority"
    ]
    assert priorities == [{"priority": 0}, {"priority": 4294967295}]


def test_set_urgency_errors(flux_handle: Flux, jobs: Jobs) -> None:
    pending = jobs.held()
    running = jobs.running("sh", "-c", "echo up; sleep 30")
    cases = [
        (UNKNOWN, 5, "unknown job"),
        (pending, 32, "urgency value is out of range"),
        (running, 5, "urgency cannot be changed once resources are allocated"),
    ]
    for jobid, urgency, message in cases:
        with pytest.raises(OSError) as info:
            job.set_urgency(flux_handle, jobid, urgency)
        assert (info.value.errno, info.value.strerror) == (errno.EINVAL, message)


# =====================================================================================
# output
# =====================================================================================


def test_job_output_stdout_and_stderr(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["sh", "-c", "echo out1; echo err1 >&2; printf nonl"])
    assert job.job_output(flux_handle, jobid) == out.JobOutput("out1\nnonl", "err1\n", "")
    labelled = job.job_output(flux_handle, jobid, labelio=True)
    assert labelled == out.JobOutput("0: out1\n0: nonl\n", "0: err1\n", "")
    events = list(job.event_watch(flux_handle, jobid, "guest.output"))
    assert events[0].context == {
        "version": 1,
        "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
        "count": {"stdout": 1, "stderr": 1},
        "options": {},
    }
    eofs = sorted(e.context["stream"] for e in events if e.context.get("eof"))
    assert eofs == ["stderr", "stdout"]
    assert {"stream": "stdout", "rank": "0", "data": "nonl"} in [e.context for e in events]


def test_job_output_two_tasks_labelio_and_tasks_filter(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(jobs.spec("sh", "-c", "echo hi; echo err >&2", num_tasks=2))
    assert job.job_output(flux_handle, jobid) == out.JobOutput("hi\nhi\n", "err\nerr\n", "")
    labelled = job.job_output(flux_handle, jobid, labelio=True)
    assert sorted(labelled.stdout.splitlines(keepends=True)) == ["0: hi\n", "1: hi\n"]
    assert sorted(labelled.stderr.splitlines(keepends=True)) == ["0: err\n", "1: err\n"]
    assert job.job_output(flux_handle, jobid, tasks="1") == out.JobOutput("hi\n", "err\n", "")
    only0 = job.job_output(flux_handle, jobid, tasks="0", labelio=True)
    assert only0 == out.JobOutput("0: hi\n", "0: err\n", "")
    header = job.event_wait(flux_handle, jobid, "header", eventlog="guest.output")
    assert header.context["count"] == {"stdout": 2, "stderr": 2}
    lines = sorted(job.output_watch_lines(flux_handle, jobid, labelio=True))
    assert lines == [
        ("stderr", "0: err"),
        ("stderr", "1: err"),
        ("stdout", "0: hi"),
        ("stdout", "1: hi"),
    ]


def test_job_output_nowait_before_and_after_start(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["sh", "-c", "echo started; sleep 30"], urgency=0)
    with pytest.raises(FileNotFoundError) as info:
        job.job_output(flux_handle, jobid, nowait=True)
    assert str(info.value.strerror) == f"job {jobid} does not exist or output not ready"
    job.set_urgency(flux_handle, jobid, 16)
    lines = job.output_watch_lines(flux_handle, jobid)
    # output_watch_lines yields lines while the job still runs.
    assert next(lines) == ("stdout", "started")
    info2 = job.get_job(flux_handle, jobid)
    assert info2 is not None and info2["state"] == "RUN"
    now = job.job_output(flux_handle, jobid, nowait=True)
    assert now == out.JobOutput("started\n", "", "")
    job.cancel(flux_handle, jobid, "stop it")
    assert list(lines) == [("stderr", "job.exception: type=cancel severity=0 stop it")]
    assert job.job_output(flux_handle, jobid) == out.JobOutput("started\n", "", "")


def test_output_non_utf8_bytes_use_surrogateescape(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["sh", "-c", r"printf 'a\377\376b\n'; printf '\303(\n' >&2"])
    output = job.job_output(flux_handle, jobid)
    assert output == out.JobOutput("a\udcff\udcfeb\n", "\udcc3(\n", "")
    assert output.stdout.encode("utf-8", errors="surrogateescape") == b"a\xff\xfeb\n"
    assert sorted(job.output_watch(flux_handle, jobid)) == [
        ("stderr", "\udcc3(\n"),
        ("stdout", "a\udcff\udcfeb\n"),
    ]
    assert sorted(job.output_watch_lines(flux_handle, jobid)) == [
        ("stderr", "\udcc3("),
        ("stdout", "a\udcff\udcfeb"),
    ]
    raw = [e.context for e in job.event_watch(flux_handle, jobid, "guest.output")]
    assert {"stream": "stdout", "rank": "0", "encoding": "base64", "data": "Yf/+Ygo="} in raw


def test_job_output_log_stderr_level(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit([NOT_FOUND])
    fatal = f"flux-shell[0]: FATAL: {NOT_FOUND_NOTE}\n"
    assert job.job_output(flux_handle, jobid) == out.JobOutput("", fatal, "")
    assert job.job_output(flux_handle, jobid, log_stderr_level=out.LOG_FATAL) == out.JobOutput(
        "", fatal, ""
    )
    assert job.job_output(flux_handle, jobid, log_stderr_level=out.LOG_QUIET) == out.JobOutput(
        "", "", fatal
    )
    # The exec exception from the main eventlog comes on stderr too (in no fixed
    # order with the output eventlog's entries).
    chunks = list(job.output_watch(flux_handle, jobid, log_stderr_level=out.LOG_QUIET))
    assert sorted(chunks) == [
        ("log", fatal),
        ("stderr", f"job.exception: type=exec severity=0 {NOT_FOUND_NOTE}\n"),
    ]
    logs = [e for e in job.output_event_watch(flux_handle, jobid) if isinstance(e, out.LogEvent)]
    assert [(e.level, e.message, str(e.rank)) for e in logs] == [(0, NOT_FOUND_NOTE, "0")]


def test_output_of_a_job_that_never_started(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.held()
    job.cancel(flux_handle, jobid, "never ran")
    notice = ("stderr", "job.exception: type=cancel severity=0 never ran\n")
    watch = job.output_watch(flux_handle, jobid)
    with contextlib.closing(watch):
        assert next(watch) == notice
        with pytest.raises(OSError) as info:
            next(watch)
    assert (info.value.errno, info.value.strerror) == (errno.EIO, f"job {jobid} never started")
    for generator in (job.output_watch_lines, job.output_event_watch):
        with pytest.raises(OSError) as again:
            list(generator(flux_handle, jobid))
        assert again.value.errno == errno.EIO
    with pytest.raises(job.JobException) as exc:
        job.job_output(flux_handle, jobid)
    assert (exc.value.type, exc.value.note) == ("cancel", "never ran")


def test_output_of_an_unknown_job(flux_handle: Flux) -> None:
    with pytest.raises(FileNotFoundError):
        job.job_output(flux_handle, UNKNOWN)
    with pytest.raises(FileNotFoundError) as nowait:
        job.job_output(flux_handle, UNKNOWN, nowait=True)
    assert str(nowait.value.strerror) == "job ƒ4fr does not exist or output not ready"
    for generator in (job.output_watch, job.output_watch_lines, job.output_event_watch):
        with pytest.raises(FileNotFoundError) as info:
            list(generator(flux_handle, UNKNOWN))
        assert info.value.strerror == "job ƒ4fr not found"


def test_output_event_watch_kinds(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["sh", "-c", "echo x"])
    events = list(job.output_event_watch(flux_handle, jobid))
    assert type(events[0]) is out.OutputHeaderEvent
    data = [(e.stream, e.data, e.eof) for e in events if isinstance(e, out.OutputEvent)]
    assert sorted(data, key=repr) == sorted(
        [("stdout", "x\n", False), ("stdout", None, True), ("stderr", None, True)], key=repr
    )


# =====================================================================================
# listing
# =====================================================================================

GET_JOB_KEYS = [
    "t_depend",
    "t_priority",
    "t_sched",
    "t_run",
    "t_cleanup",
    "t_inactive",
    "duration",
    "expiration",
    "name",
    "cwd",
    "queue",
    "project",
    "bank",
    "ntasks",
    "ncores",
    "nnodes",
    "priority",
    "ranks",
    "nodelist",
    "success",
    "result",
    "waitstatus",
    "id",
    "t_submit",
    "t_remaining",
    "state",
    "username",
    "userid",
    "urgency",
    "runtime",
    "status",
    "returncode",
    "dependencies",
    "jobid",
    "annotations",
    "exception",
]


class Trio:
    """Three jobs sharing a unique name: done (completed), running, held (pending)."""

    def __init__(self, jobs: Jobs) -> None:
        self.name = unique_name()
        self.done = jobs.submit(jobs.spec("true", name=self.name))
        job.result(jobs.h, self.done)
        self.running = jobs.running("sh", "-c", "echo up; sleep 30", name=self.name)
        self.held = jobs.submit(jobs.spec("true", name=self.name), urgency=0)


def listed(rpc: Any) -> list[int]:
    return [j["id"] for j in rpc.get_jobs()]


def test_job_list_filters(flux_handle: Flux, jobs: Jobs) -> None:
    trio = Trio(jobs)
    h, name = flux_handle, trio.name
    # Pending first, then running, then inactive (newest first).
    assert listed(job.job_list(h, name=name)) == [trio.held, trio.running, trio.done]
    assert listed(job.job_list(h, name=name, states=inf.FLUX_JOB_STATE_PENDING)) == [trio.held]
    assert listed(job.job_list(h, name=name, states=inf.FLUX_JOB_STATE_RUNNING)) == [trio.running]
    assert listed(job.job_list(h, name=name, states=inf.FLUX_JOB_STATE_INACTIVE)) == [trio.done]
    assert listed(job.job_list(h, name=name, results=inf.FLUX_JOB_RESULT_COMPLETED)) == [trio.done]
    assert listed(job.job_list(h, name=name, results=inf.FLUX_JOB_RESULT_FAILED)) == []
    assert listed(job.job_list(h, name=name, max_entries=1)) == [trio.held]
    assert listed(job.job_list(h, name=name, userid=UID + 1)) == []
    assert listed(job.job_list(h, name=name, userid=job.list.FLUX_USERID_UNKNOWN)) == [
        trio.held,
        trio.running,
        trio.done,
    ]
    first = job.job_list(h, name=name).get()
    assert first["version"] == 1 and len(first["jobs"]) == 1
    slim = job.job_list(h, name=name, attrs=["state", "result"]).get_jobs()
    assert slim == [
        {"id": trio.held, "state": inf.FLUX_JOB_STATE_SCHED},
        {"id": trio.running, "state": inf.FLUX_JOB_STATE_RUN},
        {"id": trio.done, "state": inf.FLUX_JOB_STATE_INACTIVE, "result": 1},
    ]
    assert listed(job.job_list_inactive(h, name=name)) == [trio.done]
    assert listed(job.job_list_inactive(h, name=name, since=time.time() + 3600)) == []


def test_job_list_id_and_get_job(flux_handle: Flux, jobs: Jobs) -> None:
    trio = Trio(jobs)
    h = flux_handle
    assert job.job_list_id(h, trio.held, attrs=["state", "result"]).get() == {
        "job": {"id": trio.held, "state": inf.FLUX_JOB_STATE_SCHED}
    }
    assert job.job_list_id(h, trio.held, attrs=[]).get() == {"job": {"id": trio.held}}
    raw = job.job_list_id(h, trio.running).get_job()
    assert (raw["state"], raw["name"], raw["ntasks"], raw["ncores"]) == (16, trio.name, 1, 1)
    assert job.job_list_id(h, trio.done).get_jobinfo().result == "COMPLETED"
    with pytest.raises(FileNotFoundError):
        job.job_list_id(h, UNKNOWN).get()
    assert job.get_job(h, UNKNOWN) is None

    done = job.get_job(h, trio.done)
    assert done is not None and list(done) == GET_JOB_KEYS
    expected_done = {
        "state": "INACTIVE",
        "status": "COMPLETED",
        "result": "COMPLETED",
        "returncode": 0,
        "waitstatus": 0,
        "success": True,
        "name": trio.name,
        "id": trio.done,
        "jobid": trio.done.f58,
        "userid": UID,
        "urgency": 16,
        "priority": 16,
        "ntasks": 1,
        "ncores": 1,
        "ranks": "0",
        "nodelist": HOST,
        "dependencies": [],
        "exception": {"occurred": False, "severity": "", "type": "", "note": ""},
    }
    assert {key: done[key] for key in expected_done} == expected_done
    pending = job.get_job(h, trio.held)
    assert pending is not None and list(pending) == GET_JOB_KEYS
    expected_pending = {
        "state": "SCHED",
        "status": "SCHED",
        "result": "",
        "returncode": "",
        "waitstatus": "",
        "success": "",
        "urgency": 0,
        "priority": 0,
        "ranks": "",
        "nodelist": "",
        "nnodes": "",
        "t_run": 0.0,
        "annotations": {},
    }
    assert {key: pending[key] for key in expected_pending} == expected_pending
    running = job.get_job(h, trio.running)
    assert running is not None
    assert (running["state"], running["result"], running["returncode"]) == ("RUN", "", "")


def test_get_job_state_times_as_in_flux(flux_handle: Flux, jobs: Jobs) -> None:
    jobid = jobs.submit(["true"])
    job.result(flux_handle, jobid)
    events = {e.name: e.timestamp for e in job.event_watch(flux_handle, jobid)}
    info = job.get_job(flux_handle, jobid)
    assert info is not None
    assert info["t_cleanup"] == events["finish"]
    assert info["t_inactive"] == events["clean"]
    assert info["t_depend"] == events["validate"]
    assert info["t_priority"] == events["depend"]
    assert info["t_sched"] == events["priority"]
    assert info["t_run"] == events["alloc"]


def test_job_list_attributes_of_a_running_job_as_in_flux(flux_handle: Flux, jobs: Jobs) -> None:
    running = jobs.running("sh", "-c", "echo up; sleep 30")
    raw = job.job_list_id(flux_handle, running).get_job()
    assert "exception_occurred" not in raw
    assert (raw.get("nnodes"), raw.get("expiration")) == (1, 0.0)
    info = job.get_job(flux_handle, running)
    assert info is not None
    assert info["exception"] == {"occurred": "", "severity": "", "type": "", "note": ""}


def test_job_list_class(flux_handle: Flux, jobs: Jobs) -> None:
    trio = Trio(jobs)
    h, name = flux_handle, trio.name

    def ids(job_list: job.JobList) -> list[int]:
        return [int(info.id) for info in job_list.jobs()]

    assert ids(job.JobList(h, name=name)) == [trio.held, trio.running, trio.done]
    assert ids(job.JobList(h, name=name, filters=["pending"])) == [trio.held]
    assert ids(job.JobList(h, name=name, filters=["running", "completed"])) == [
        trio.running,
        trio.done,
    ]
    assert ids(job.JobList(h, name=name, filters=["sched,inactive"])) == [trio.held, trio.done]
    assert ids(job.JobList(h, name=name, user="all")) == [trio.held, trio.running, trio.done]
    by_ids = job.JobList(h, ids=[trio.done, UNKNOWN, trio.held])
    infos = by_ids.jobs()
    assert [int(i.id) for i in infos] == [trio.done, trio.held]
    assert by_ids.errors == [f"JobID {UNKNOWN} unknown"]
    assert [i.state for i in infos] == ["INACTIVE", "SCHED"]
    with pytest.raises(ValueError, match="Invalid filter"):
        job.JobList(h, filters=["bogus"])


# =====================================================================================
# sync / async parity
# =====================================================================================


def run_async(h: Flux, future: Any, getter: Callable[[Any], Any], until: Any = None) -> list[Any]:
    """Collect ``getter(future)`` from a then() callback until it returns ``until``."""
    got: list[Any] = []

    def callback(fut: Any) -> None:
        value = getter(fut)
        got.append(value)
        if value == until:
            fut.stop()

    future.then(callback)
    h.reactor_run()
    return got


def test_parity_of_read_only_pairs(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    jobid = jobs.submit(jobs.spec("sh", "-c", "echo a; echo b >&2; exit 2", num_tasks=2))
    sync_events = list(job.event_watch(h, jobid))
    async_events = run_async(h, job.event_watch_async(h, jobid), lambda f: f.get_event())
    assert async_events[-1] is None
    key = [(e.timestamp, e.name, e.context) for e in sync_events]
    assert [(e.timestamp, e.name, e.context) for e in async_events[:-1]] == key

    sync_result = job.result(h, jobid)
    async_result = run_async(h, job.result_async(h, jobid), lambda f: f.get_info())
    assert async_result[0].to_dict() == sync_result.to_dict()
    assert job.result_async(h, jobid).get_info().to_dict() == sync_result.to_dict()

    chunks = list(job.output_watch(h, jobid, labelio=True))
    async_chunks = run_async(
        h, job.output_watch_async(h, jobid, labelio=True), lambda f: f.get_output(), (None, None)
    )
    assert async_chunks == [*chunks, (None, None)]

    lines = list(job.output_watch_lines(h, jobid, keepends=True))
    async_lines = run_async(
        h,
        job.output_watch_lines_async(h, jobid, keepends=True),
        lambda f: f.getline(),
        (None, None),
    )
    assert async_lines == [*lines, (None, None)]

    kinds = [(type(e).__name__, e.timestamp) for e in job.output_event_watch(h, jobid)]
    async_kinds = run_async(h, job.output_event_watch_async(h, jobid), lambda f: f.get_event())
    assert async_kinds[-1] is None
    assert [(type(e).__name__, e.timestamp) for e in async_kinds[:-1]] == kinds

    assert (
        job.job_list_id(h, jobid).get_job()
        == run_async(h, job.job_list_id(h, jobid), lambda f: f.get_job())[0]
    )


def test_parity_of_submit_wait_and_urgency(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle
    spec = jobs.spec("sh", "-c", "exit 4")
    first = jobs.submit(spec, waitable=True)
    second = jobs.track(
        run_async(h, job.submit_async(h, spec, waitable=True), job.submit_get_id)[0]
    )
    assert isinstance(second, JobID) and second != first
    sync_status = job.wait(h, first)
    async_status = run_async(h, job.wait_async(h, second), lambda f: f.get_status())[0]
    assert sync_status._replace(jobid=0) == async_status._replace(jobid=0)
    assert sync_status == (first, False, "task(s) exited with exit code 4")

    held_a, held_b = jobs.held(), jobs.held()
    assert job.set_urgency(h, held_a, 3) == 0
    assert run_async(h, job.set_urgency_async(h, held_b, 3), lambda f: f.get_old_urgency()) == [0]
    assert [job.get_job(h, j)["urgency"] for j in (held_a, held_b)] == [3, 3]  # type: ignore[index]


def test_parity_of_cancel_raise_and_kill(flux_handle: Flux, jobs: Jobs) -> None:
    h = flux_handle

    def ending(jobid: JobID) -> tuple[Any, ...]:
        return result_of(job.result(h, jobid))

    held_a, held_b = jobs.held(), jobs.held()
    job.cancel(h, held_a, "why")
    assert run_async(h, job.cancel_async(h, held_b, "why"), lambda f: f.get()) == [None]
    assert ending(held_a) == ending(held_b) == ("CANCELED", -128, "", (True, "cancel", 0, "why"))

    held_c, held_d = jobs.held(), jobs.held()
    job.job_raise(h, held_c, "mine", 0, "boom")
    assert run_async(h, job.job_raise_async(h, held_d, "mine", 0, "boom"), lambda f: f.get()) == [
        None
    ]
    assert ending(held_c) == ending(held_d) == ("FAILED", 1, "", (True, "mine", 0, "boom"))

    run_a = jobs.running("sh", "-c", "echo up; sleep 30")
    run_b = jobs.running("sh", "-c", "echo up; sleep 30")
    job.kill(h, run_a, signal.SIGUSR1)
    assert run_async(h, job.kill_async(h, run_b, signal.SIGUSR1), lambda f: f.get()) == [None]
    assert ending(run_a) == ending(run_b) == ("FAILED", 138, 35328, NO_EXC)
