"""FluxExecutor and FluxExecutorFuture: each member, against a real embedded instance.

The first group drives FluxExecutorFuture directly (no instance), as flux's own
unit tests do; the others run real jobs on an instance of this module with 8
cores, so that a thousand ``/bin/true`` jobs take a couple of seconds.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import errno
import gc
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fluxsdk
from fluxsdk import job
from fluxsdk.core import Future, TimerWatcher
from fluxsdk.core._reactor import Timer
from fluxsdk.errors import JobIDOverflowError
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobException, JobID, JobspecV1
from fluxsdk.job.executor import (
    FluxExecutor,
    FluxExecutorFuture,
    JobIDAlreadySetError,
    _AttachPackage,
    _exit_code,
    _FluxExecutorThread,
    _SubmitPackage,
)
from fluxsdk.testing import instance_running
from tests.core_server import watchdog
from tests.docs_support import python_blocks

TRUE = JobspecV1.from_command(["/bin/true"])
FALSE = JobspecV1.from_command(["/bin/false"])
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with watchdog(90):
        yield


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An instance of this module's own, with cores enough for bulk tests."""
    with instance_running(tmp_path_factory.mktemp("executor"), cores=8) as instance_uri:
        yield instance_uri


@pytest.fixture
def executor(uri: str) -> Iterator[FluxExecutor]:
    with FluxExecutor(handle_args=(uri,)) as ex:
        yield ex


@pytest.fixture
def h(uri: str) -> Iterator[fluxsdk.Flux]:
    with fluxsdk.Flux(uri) as handle:
        yield handle


def entry(name: str, **context: object) -> EventLogEvent:
    return EventLogEvent({"name": name, "timestamp": 1.0, "context": context})


def blocked(executor: FluxExecutor) -> tuple[FluxExecutorFuture, threading.Event]:
    """A job whose jobid callback holds the (single) worker until the event is set:
    whatever is submitted meanwhile stays queued."""
    release, holding = threading.Event(), threading.Event()

    def hold(_: FluxExecutorFuture) -> None:
        holding.set()
        release.wait(30)

    first = executor.submit(TRUE).add_jobid_callback(hold)
    assert holding.wait(30)
    return first, release


# -- FluxExecutorFuture alone ---------------------------------------------------------


def test_future_jobid_set_once_and_timeout() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    with pytest.raises(cf.TimeoutError):
        fut.jobid(timeout=0)
    fut._set_jobid(JobID(21))
    assert fut.jobid(timeout=0) == 21
    with pytest.raises(cf.InvalidStateError) as info:
        fut._set_jobid(JobID(22))
    assert isinstance(info.value, JobIDAlreadySetError) and isinstance(info.value, RuntimeError)


def test_future_jobid_unavailable_after_error_or_cancel() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    fut.set_exception(ValueError("foobar"))
    with pytest.raises(RuntimeError, match=r"job could not be submitted due to ValueError"):
        fut.jobid()
    fut = FluxExecutorFuture(threading.get_ident())
    assert fut.cancel() and fut.cancel()
    with pytest.raises(cf.CancelledError):
        fut.jobid()
    # A job ID known before the cancel stays readable.
    fut = FluxExecutorFuture(threading.get_ident())
    fut._set_jobid(JobID(10))
    fut.cancel()
    assert fut.jobid(0) == 10


def test_future_jobid_wakes_a_waiting_thread() -> None:
    fut = FluxExecutorFuture(-1)
    got: list[JobID] = []
    waiter = threading.Thread(target=lambda: got.append(fut.jobid(timeout=10)))
    waiter.start()
    time.sleep(0.05)
    fut._set_jobid(JobID(5))
    waiter.join()
    assert got == [5]


def test_future_jobid_callbacks_before_and_after() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    calls: list[str] = []
    fut.add_jobid_callback(lambda f: calls.append("early"))
    assert calls == []
    fut._set_jobid(JobID(5))
    assert fut.add_jobid_callback(lambda f: calls.append(f"late {int(f.jobid())}")) is fut
    assert calls == ["early", "late 5"]


def test_future_event_callbacks_replay_and_multiple_occurrences() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    first, second = itertools.count(), itertools.count()
    fut.add_event_callback("urgency", lambda f, e: next(first))
    for _ in range(5):
        fut._set_event(entry("urgency", urgency=1))
    fut.add_event_callback("urgency", lambda f, e: next(second))  # replays all five
    fut._set_event(entry("urgency", urgency=2))
    assert next(first) == 6 and next(second) == 6


def test_future_unknown_event_is_a_value_error() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    with pytest.raises(ValueError, match="not a job event"):
        fut.add_event_callback("not an event", lambda f, e: None)
    with pytest.raises(ValueError):
        fut._set_event(entry("not an event"))
    assert FluxExecutorFuture.EVENTS == FluxExecutor.EVENTS == job.MAIN_EVENTS


def test_future_callback_added_from_a_callback_runs_after_it() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    calls: list[str] = []

    def outer(f: FluxExecutorFuture, e: EventLogEvent) -> None:
        f.add_event_callback("start", lambda f, e: calls.append("inner"))
        calls.append("outer")

    fut.add_event_callback("start", outer)
    fut._set_event(entry("start"))
    assert calls == ["outer", "inner"]


def test_future_raising_callback_is_logged_and_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    calls: list[str] = []

    def boom(f: FluxExecutorFuture, e: EventLogEvent) -> None:
        raise ArithmeticError("boom")

    fut.add_event_callback("start", boom)
    fut.add_event_callback("start", lambda f, e: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="fluxsdk.job.executor"):
        fut._set_event(entry("start"))
    assert calls == ["after"]
    assert "exception calling callback" in caplog.text and "ArithmeticError: boom" in caplog.text


def test_future_waiting_in_the_owners_callback_raises_instead_of_hanging() -> None:
    # The future "belongs" to this thread, as executor futures belong to their worker.
    fut = FluxExecutorFuture(threading.get_ident())
    errors: list[str] = []

    def wait_in_callback(f: FluxExecutorFuture, *_: object) -> None:
        for wait in (f.result, f.exception):
            try:
                wait()
            except RuntimeError as exc:
                errors.append(str(exc))

    fut.add_jobid_callback(wait_in_callback)
    fut._set_jobid(JobID(5))
    fut.add_event_callback("debug", wait_in_callback)
    fut._set_event(entry("debug"))
    assert len(errors) == 4 and "from one of the executor's callbacks" in errors[0]
    # Once done, waiting is fine.
    fut.set_result(21)
    assert fut.add_done_callback(lambda f: errors.append(str(f.result()))) is fut
    assert errors[-1] == "21"


def test_future_cancel_notifies_done_callbacks_once() -> None:
    fut = FluxExecutorFuture(threading.get_ident())
    calls = itertools.count()
    fut.add_done_callback(lambda _: next(calls))
    assert all(fut.cancel() for _ in range(3))
    assert next(calls) == 1


def test_exit_code_of_wait_statuses() -> None:
    assert [_exit_code(s) for s in (0, 1 << 8, 255 << 8, 9, 15)] == [0, 1, 255, -9, -15]
    with pytest.raises(ValueError):
        _exit_code(0x137F)  # stopped, neither exited nor signaled


# -- FluxExecutor: construction and lifetime ------------------------------------------------


def test_bad_arguments_to_the_executor(uri: str) -> None:
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="at least 1"):
        FluxExecutor(threads=0, handle_args=(uri,))
    with pytest.raises(OSError, match="cannot connect"):
        FluxExecutor(threads=2, handle_args=("fluxsdk:///nonexistent/instance",))
    assert set(threading.enumerate()) == before  # no worker left behind


def test_thread_names_and_handle_kwargs(uri: str) -> None:
    with FluxExecutor(threads=2, thread_name_prefix="foobar", handle_kwargs={"uri": uri}) as ex:
        names = {t.name for t in threading.enumerate()}
        assert {"foobar-0", "foobar-1"} <= names
        assert ex.submit(TRUE).result() == 0
    assert not {"foobar-0", "foobar-1"} & {t.name for t in threading.enumerate()}


def test_shutdown_then_submit_or_attach_raises(uri: str) -> None:
    executor = FluxExecutor(handle_args=(uri,))
    executor.shutdown(wait=True)
    executor.shutdown()  # again: harmless
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(TRUE)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.attach(5)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.attach("garbage")


def test_context_manager_waits_for_every_job(uri: str) -> None:
    with FluxExecutor(handle_args=(uri,)) as ex:
        futures = [ex.submit(JobspecV1.from_command(["sleep", "0.2"])) for _ in range(3)]
    assert all(f.done() and f.result() == 0 for f in futures)
    assert ex._idle()


def test_forgotten_executor_still_completes_its_jobs(uri: str) -> None:
    ex = FluxExecutor(handle_args=(uri,), thread_name_prefix="forgotten")
    future = ex.submit(JobspecV1.from_command(["sleep", "0.1"]))
    del ex
    gc.collect()
    assert future.result(timeout=30) == 0
    for thread in [t for t in threading.enumerate() if t.name.startswith("forgotten")]:
        thread.join(timeout=30)
        assert not thread.is_alive()


# -- submit ------------------------------------------------------------------------------


def test_submit_result_jobid_and_states(executor: FluxExecutor) -> None:
    called = threading.Event()
    future = executor.submit(TRUE, urgency=16, waitable=False)
    future.add_jobid_callback(lambda f: called.set())
    jobid = future.jobid()
    assert isinstance(jobid, JobID) and jobid > 0
    assert called.wait(10)
    assert future.result() == 0 and future.exception() is None
    assert future.done() and not future.cancelled() and not future.cancel()


def test_exit_status_is_the_result(executor: FluxExecutor) -> None:
    statuses = [executor.submit(JobspecV1.from_command(["sh", "-c", f"exit {n}"])) for n in (0, 3)]
    assert [f.result() for f in statuses] == [0, 3]
    assert executor.submit(FALSE).result() == 1


def test_fatal_exceptions_set_job_exception(executor: FluxExecutor, h: fluxsdk.Flux) -> None:
    not_found = executor.submit(JobspecV1.from_command(["/not/a/real/app"]))
    error = not_found.exception()
    assert isinstance(error, JobException) and error.type == "exec"
    running = executor.submit(JobspecV1.from_command(["sleep", "30"]))
    job.event_wait(h, running.jobid(), "start")
    job.cancel(h, running.jobid(), "enough")
    with pytest.raises(JobException, match="type=cancel: enough"):
        running.result()


def test_invalid_jobspec_sets_oserror(executor: FluxExecutor) -> None:
    for spec in (None, '{"version": 1}'):
        future = executor.submit(spec)  # type: ignore[arg-type]
        assert isinstance(future.exception(), OSError)
        with pytest.raises(RuntimeError, match="job could not be submitted"):
            future.jobid()


def test_bad_submit_arguments_set_type_error(executor: FluxExecutor) -> None:
    future = executor.submit(TRUE, not_an_arg=42)  # type: ignore[call-arg]
    assert isinstance(future.exception(), TypeError)
    assert isinstance(executor.submit(42).exception(), TypeError)  # type: ignore[arg-type]
    assert executor.submit(TRUE).result() == 0  # the executor is fine


def test_jobspec_is_taken_when_submitted(executor: FluxExecutor, h: fluxsdk.Flux) -> None:
    spec = JobspecV1.from_command(["/bin/true"])
    spec.setattr("system.job.name", "before")
    first, release = blocked(executor)
    queued = executor.submit(spec)  # waits in the queue...
    spec.setattr("system.job.name", "after")  # ...while the jobspec changes
    release.set()
    assert queued.result() == 0 and first.result() == 0
    listed = job.get_job(h, queued.jobid())
    assert listed is not None and listed["name"] == "before"


def test_concurrent_futures_wait_with_several_threads(uri: str) -> None:
    with FluxExecutor(threads=3, handle_args=(uri,)) as ex:
        futures = [ex.submit(FALSE) for _ in range(6)]
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        assert done and all(f.result(timeout=0) == 1 for f in done)
        done, not_done = cf.wait(futures)
        assert not not_done and all(f.result(timeout=0) == 1 for f in done)


def test_submissions_from_many_threads(uri: str) -> None:
    with FluxExecutor(threads=2, handle_args=(uri,)) as ex:
        with cf.ThreadPoolExecutor(4) as pool:
            batches = list(pool.map(lambda _: [ex.submit(TRUE) for _ in range(25)], range(4)))
        futures = [f for batch in batches for f in batch]
        assert [f.result() for f in futures] == [0] * 100
        assert len({f.jobid() for f in futures}) == 100


def test_a_thousand_jobs_through_as_completed(executor: FluxExecutor) -> None:
    futures = [executor.submit(TRUE) for _ in range(1000)]
    results = [f.result(timeout=0) for f in cf.as_completed(futures, timeout=60)]
    assert results == [0] * 1000
    assert len({f.jobid() for f in futures}) == 1000


# -- attach ------------------------------------------------------------------------------


def test_attach_to_finished_and_running_jobs(executor: FluxExecutor, h: fluxsdk.Flux) -> None:
    finished = job.submit(h, FALSE)
    job.result(h, finished)
    attached = executor.attach(finished)
    assert attached.jobid(timeout=0) == finished
    assert attached.result() == 1
    names: list[str] = []
    attached.add_event_callback("finish", lambda f, e: names.append(e.name))
    assert names == ["finish"]  # already happened: called at once

    running = job.submit(h, JobspecV1.from_command(["sleep", "0.3"]))
    assert executor.attach(str(running.f58)).result() == 0
    not_found = executor.attach(executor.submit(JobspecV1.from_command(["/nope"])).jobid())
    assert isinstance(not_found.exception(), JobException)


def test_attach_to_an_unknown_job_sets_an_exception(executor: FluxExecutor) -> None:
    futures = [executor.attach(12345) for _ in range(3)] + [executor.attach(0)]
    for future in futures:
        with pytest.raises(ValueError, match="does not match any job"):
            future.result()
    assert futures[0].jobid() == 12345
    assert executor.submit(TRUE).result() == 0  # the executor is unharmed


def test_attach_to_something_that_is_no_job_id(executor: FluxExecutor) -> None:
    # As flux: the future fails with the job ID's error and reports the value as given.
    none = executor.attach(None)  # type: ignore[arg-type]
    assert isinstance(none.exception(), TypeError) and none.jobid() is None
    negative = executor.attach(-1)
    error = negative.exception()
    assert isinstance(error, OverflowError) and isinstance(error, ValueError)
    assert negative.jobid() == -1
    garbage = executor.attach("garbage")
    assert isinstance(garbage.exception(), ValueError)
    assert garbage.jobid() == "garbage"  # type: ignore[comparison-overlap]
    # Valid IDs in any RFC 19 form are reported as JobIDs.
    encoded = executor.attach(JobID(12345).f58)
    assert isinstance(encoded.jobid(), JobID) and encoded.jobid() == 12345
    with pytest.raises(ValueError, match="does not match any job"):
        encoded.result()


# -- callbacks ---------------------------------------------------------------------------


def test_events_reach_callbacks_in_rfc21_order(executor: FluxExecutor, h: fluxsdk.Flux) -> None:
    seen: list[EventLogEvent] = []

    def on_jobid(future: FluxExecutorFuture) -> None:
        for name in sorted(future.EVENTS):
            future.add_event_callback(name, lambda f, e: seen.append(e))

    future = executor.submit(TRUE).add_jobid_callback(on_jobid)
    assert future.result() == 0
    expected = [e for e in job.event_watch(h, future.jobid()) if e.name in future.EVENTS]
    deadline = time.monotonic() + 10  # events go on after the result (release, free, clean)
    while len(seen) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.name for e in seen] == [e.name for e in expected]
    assert [e.name for e in seen] == [
        "submit", "depend", "priority", "alloc", "start", "finish", "release", "free", "clean",
    ]  # fmt: skip
    assert [e.timestamp for e in seen] == [e.timestamp for e in expected]


def test_event_callbacks_for_repeated_events(executor: FluxExecutor, h: fluxsdk.Flux) -> None:
    urgencies: list[int] = []
    held = executor.submit(TRUE, urgency=0)
    held.add_event_callback("urgency", lambda f, e: urgencies.append(e.context["urgency"]))
    job.set_urgency(h, held.jobid(), 0)  # still held
    job.set_urgency(h, held.jobid(), 16)
    assert held.result() == 0
    assert urgencies == [0, 16]


def test_raising_callbacks_do_not_break_the_executor(
    executor: FluxExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_: object) -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="fluxsdk.job.executor"):
        futures = [executor.submit(TRUE).add_jobid_callback(boom) for _ in range(3)]
        for future in futures:
            future.add_event_callback("start", boom)
        assert [f.result() for f in futures] == [0, 0, 0]
    assert caplog.text.count("ValueError: boom") >= 3
    assert executor.submit(TRUE).result() == 0


def test_waiting_from_a_callback_is_an_error_not_a_hang(executor: FluxExecutor) -> None:
    errors: list[BaseException] = []

    def wait_for_it(future: FluxExecutorFuture, *_: object) -> None:
        try:
            future.result(timeout=5)
        except RuntimeError as exc:
            errors.append(exc)

    future = executor.submit(TRUE).add_jobid_callback(wait_for_it)
    future.add_event_callback("start", wait_for_it)
    assert future.result() == 0
    assert len(errors) >= 1 and "thread that would complete the future" in str(errors[0])


def test_shutdown_from_a_callback(uri: str) -> None:
    ex = FluxExecutor(handle_args=(uri,))
    future = ex.submit(TRUE).add_done_callback(lambda f: ex.shutdown(wait=True))
    assert future.result() == 0
    ex.shutdown()


# -- cancelling --------------------------------------------------------------------------


def test_cancel_a_queued_future(executor: FluxExecutor) -> None:
    first, release = blocked(executor)
    queued = executor.submit(TRUE)
    assert queued.cancel() and queued.cancelled() and not queued.running()
    with pytest.raises(cf.CancelledError):
        queued.jobid()
    release.set()
    assert first.result() == 0
    done, _ = cf.wait([queued, first], timeout=10)
    assert queued in done


def test_shutdown_cancel_futures(uri: str) -> None:
    ex = FluxExecutor(handle_args=(uri,))
    first, release = blocked(ex)
    queued = [ex.submit(TRUE) for _ in range(20)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    _, not_done = cf.wait(queued, timeout=10)  # cancelled futures count as done
    assert not not_done
    release.set()
    ex.shutdown(wait=True)
    assert first.result(timeout=0) == 0
    with pytest.raises(cf.CancelledError):
        queued[0].jobid()


# -- failures and leaks ------------------------------------------------------------------


def test_lost_instance_fails_futures_and_breaks_the_executor(tmp_path: Path) -> None:
    with instance_running(tmp_path / "doomed") as doomed_uri:
        ex = FluxExecutor(handle_args=(doomed_uri,))
        held = ex.submit(TRUE, urgency=0)  # stays pending through the shutdown
        held.jobid()
    # The instance is gone: the job's future fails, and the executor refuses work.
    with pytest.raises(ConnectionError):
        held.result(timeout=30)
    with pytest.raises(RuntimeError, match="broken"):
        ex.submit(TRUE)
    ex.shutdown(wait=True)


def _tracked() -> dict[str, int]:
    """Live objects of the kinds a leaking executor would pile up."""
    gc.collect()
    kinds = (FluxExecutorFuture, Future, TimerWatcher, Timer, EventLogEvent, cf.Future)
    counts = dict.fromkeys((k.__name__ for k in kinds), 0)
    for obj in gc.get_objects():
        for kind in kinds:
            if isinstance(obj, kind):
                counts[kind.__name__] += 1
    return counts


def test_no_futures_watches_or_timers_left_after_many_jobs(executor: FluxExecutor) -> None:
    def run(count: int) -> None:
        futures = [executor.submit(TRUE) for _ in range(count)]
        assert all(f.result() == 0 for f in futures)
        deadline = time.monotonic() + 30
        while not executor._idle() and time.monotonic() < deadline:
            time.sleep(0.01)  # each eventlog is followed to "clean"
        assert executor._idle()

    run(100)
    before = _tracked()
    run(600)
    assert _tracked() == before


# -- the worker threads -------------------------------------------------------------------


def _worker(
    uri: str, queue: collections.deque[_SubmitPackage | _AttachPackage]
) -> tuple[_FluxExecutorThread, threading.Event, threading.Event]:
    broken, exit_event = threading.Event(), threading.Event()
    return _FluxExecutorThread(broken, exit_event, queue, 0.5, (uri,), {}), broken, exit_event


def test_a_worker_run_in_this_thread_handles_its_queue_and_returns(uri: str) -> None:
    queue: collections.deque[_SubmitPackage | _AttachPackage] = collections.deque()
    worker, broken, exit_event = _worker(uri, queue)
    exit_event.set()  # shut down already: run() returns once the queue is done
    jobs = [FluxExecutorFuture(threading.get_ident()) for _ in range(3)]
    queue.extend(_SubmitPackage((JobspecV1.from_command(["sh", "-c", f"exit {n}"]),), {}, f)
                 for n, f in enumerate(jobs))  # fmt: skip
    refused = FluxExecutorFuture(threading.get_ident())
    queue.append(_SubmitPackage((TRUE,), {"urgency": 99}, refused))
    worker.run()
    assert [f.result(timeout=0) for f in jobs] == [0, 1, 2]
    assert isinstance(refused.exception(timeout=0), OSError)
    assert worker.idle() and not queue and not broken.is_set()
    # The handle stays open for another run(): attach to the jobs just run.
    followers = [FluxExecutorFuture(threading.get_ident()) for _ in jobs]
    queue.extend(_AttachPackage(f.jobid(), g) for f, g in zip(jobs, followers, strict=True))
    assert [g.jobid(timeout=0) for g in followers] == [f.jobid() for f in jobs]  # set at once
    worker.run()
    assert [g.result(timeout=0) for g in followers] == [0, 1, 2]
    worker.close()


def test_a_worker_whose_loop_fails_fails_everything_it_holds(
    uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue: collections.deque[_SubmitPackage | _AttachPackage] = collections.deque()
    worker, broken, _ = _worker(uri, queue)
    submitted = [FluxExecutorFuture(threading.get_ident()) for _ in range(2)]
    queue.extend(_SubmitPackage((TRUE,), {}, f) for f in submitted)
    handle = worker._FluxExecutorThread__flux_handle  # type: ignore[attr-defined]

    def failing_reactor_run(*_: object) -> int:
        queue.append(_SubmitPackage((TRUE,), {}, late))  # queued while the loop runs
        raise OSError(errno.EIO, "the reactor broke")

    late = FluxExecutorFuture(threading.get_ident())
    handle.reactor_run = failing_reactor_run
    with (
        caplog.at_level(logging.ERROR, logger="fluxsdk.job.executor"),
        pytest.raises(OSError, match="the reactor broke"),
    ):
        worker.run()
    assert "FluxExecutor worker" in caplog.text
    assert broken.is_set() and worker.idle() and isinstance(worker.failure, OSError)
    for future in [*submitted, late]:
        with pytest.raises(OSError, match="the reactor broke"):
            future.result(timeout=0)
        with pytest.raises(RuntimeError, match="could not be submitted due to OSError"):
            future.jobid(timeout=0)
    worker.close()


def test_a_broken_executor_refuses_work_and_says_why(uri: str) -> None:
    with FluxExecutor(handle_args=(uri,)) as ex:
        ex._broken_event.set()
        with pytest.raises(RuntimeError, match=r"^Executor is broken"):
            ex.submit(TRUE)
        with pytest.raises(RuntimeError, match=r"^Executor is broken"):
            ex.attach(1)


def test_jobid_returns_in_other_threads_after_the_jobid_callbacks() -> None:
    fut = FluxExecutorFuture(-1)
    in_callback, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_callback(f: FluxExecutorFuture) -> None:
        order.append("callback start")
        in_callback.set()
        release.wait(30)
        order.append("callback end")

    fut.add_jobid_callback(slow_callback)
    waiter = threading.Thread(target=lambda: order.append(f"jobid {int(fut.jobid(30))}"))
    waiter.start()
    setter = threading.Thread(target=fut._set_jobid, args=(JobID(7),))
    setter.start()
    assert in_callback.wait(30)
    assert fut.jobid(timeout=0) == 7  # known already: no wait for the callbacks
    waiter.join(timeout=0.2)
    assert waiter.is_alive()  # still waiting for the callback to finish
    release.set()
    setter.join()
    waiter.join()
    assert order == ["callback start", "callback end", "jobid 7"]


def test_out_of_range_job_ids_are_overflow_errors(h: fluxsdk.Flux) -> None:
    for value in (-1, 2**64):
        with pytest.raises(JobIDOverflowError) as info:
            job.event_watch_async(h, value)
        assert isinstance(info.value, OverflowError) and isinstance(info.value, ValueError)
        with pytest.raises(OverflowError, match=r"0\.\.18446744073709551615"):
            JobID(value)


# -- the example -------------------------------------------------------------------------


def test_executor_example(uri: str) -> None:
    env = dict(os.environ, FLUX_URI=uri)
    proc = subprocess.run([sys.executable, "examples/executor.py"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "5 jobs: results [0, 0, 0, 1, 2]" in lines
    assert any(line.startswith("events of ") and line.endswith("start, finish") for line in lines)
    assert "sleep 30: JobException type=cancel" in lines


@pytest.mark.parametrize("index", range(len(python_blocks(ROOT / "docs/executor.md"))))
def test_executor_docs_examples_run(uri: str, index: int) -> None:
    code = python_blocks(ROOT / "docs/executor.md")[index]
    env = dict(os.environ, FLUX_URI=uri)
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
