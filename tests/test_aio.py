"""fluxsdk.job.aio and the asyncio bridge of fluxsdk.core, against a real instance.

Every test is a plain ``asyncio.run()`` program (no pytest plugin): that is
how users run it. The instance is this module's own, with 8 cores, so that a
thousand jobs take a couple of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fluxsdk import job
from fluxsdk.core import ConnectionLostError, Flux, HandleThreadError
from fluxsdk.job import JobException, JobID, JobspecV1, aio
from fluxsdk.testing import instance_running
from tests.core_server import watchdog
from tests.docs_support import python_blocks

T = TypeVar("T")
TRUE = JobspecV1.from_command(["/bin/true"])
SLEEP = JobspecV1.from_command(["sleep", "30"])
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with watchdog(90):
        yield


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instance_running(tmp_path_factory.mktemp("aio"), cores=8) as instance_uri:
        yield instance_uri


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    """Let the loop run until ``predicate()`` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# -- the common path ------------------------------------------------------------------


def test_gather_a_thousand_jobs_with_their_output(uri: str) -> None:
    async def one(h: Flux, index: int) -> tuple[int, list[tuple[str, str]], int | str]:
        spec = JobspecV1.from_command(["sh", "-c", f"echo out {index}; echo err {index} >&2"])
        jobid = await aio.asubmit(h, spec)
        lines = [pair async for pair in aio.aoutput_watch_lines(h, jobid)]
        info = await aio.aresult(h, jobid)
        return index, lines, info.returncode

    async def main() -> list[tuple[int, list[tuple[str, str]], int | str]]:
        with Flux(uri) as h:
            results = await asyncio.gather(*(one(h, i) for i in range(1000)))
            assert h._pending_count() == 0  # every watch has ended
            return results

    for index, lines, returncode in run(main()):
        assert returncode == 0
        assert sorted(lines) == [("stderr", f"err {index}"), ("stdout", f"out {index}")]


def test_submit_result_and_events(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            jobid = await aio.asubmit(h, JobspecV1.from_command(["sh", "-c", "exit 3"]))
            assert isinstance(jobid, JobID)
            start = await aio.aevent_wait(h, jobid, "start")
            assert start.name == "start"
            info = await aio.aresult(h, jobid)
            assert (info.returncode, info.result) == (3, "FAILED")
            names = [event.name async for event in aio.aevent_watch(h, jobid)]
            assert names == ["submit", "validate", "depend", "priority", "alloc", "start",
                             "finish", "release", "free", "clean"]  # fmt: skip
            output = await aio.ajob_output(h, jobid)
            assert output == job.output.JobOutput("", "", "")

    run(main())


def test_errors_are_those_of_the_sync_api(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            with pytest.raises(FileNotFoundError):
                await aio.aresult(h, 12345)
            with pytest.raises(FileNotFoundError):
                async for _ in aio.aevent_watch(h, 12345):
                    pass
            with pytest.raises(PermissionError, match="missing required key"):
                await aio.asubmit(h, '{"version": 1}')
            failed = await aio.asubmit(h, JobspecV1.from_command(["/not/a/real/app"]))
            with pytest.raises(JobException, match="type=exec"):
                await aio.aevent_wait(h, failed, "finish")
            with pytest.raises(OSError) as info:
                await aio.aevent_wait(h, failed, "no-such-event", raiseJobException=False)
            assert info.value.errno == errno.ENODATA

    run(main())


# -- cancellation ---------------------------------------------------------------------


def test_cancelling_the_awaiting_task_cancels_the_watch_not_the_job(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            jobid = await aio.asubmit(h, SLEEP)
            await aio.aevent_wait(h, jobid, "start")
            await until(lambda: h._pending_count() == 0)  # aevent_wait's watch has ended
            for waiting in (lambda: aio.aresult(h, jobid), lambda: aio.aevent_wait(h, jobid, "x")):
                task = asyncio.create_task(waiting())
                await until(lambda: h._pending_count() == 1)  # its watch is open
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await until(lambda: h._pending_count() == 0)  # and closed again
            listed = job.get_job(h, jobid)
            assert listed is not None and listed["state"] == "RUN"
            with pytest.raises(asyncio.TimeoutError):  # asyncio's own deadlines work
                await asyncio.wait_for(aio.aevent_wait(h, jobid, "finish"), 0.2)
            await aio.acancel(h, jobid)
            assert (await aio.aresult(h, jobid)).result == "CANCELED"

    run(main())


def test_leaving_an_async_for_early_cancels_the_watch(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            jobid = await aio.asubmit(h, SLEEP)
            async for event in aio.aevent_watch(h, jobid):
                if event.name == "start":
                    break
            await until(lambda: h._pending_count() == 0)
            async with aio.aevent_watch(h, jobid) as events:
                assert (await anext(events)).name == "submit"
            assert events.closed
            await until(lambda: h._pending_count() == 0)
            await aio.acancel(h, jobid)
            await aio.aresult(h, jobid)

    run(main())


# -- the loop and the handle ------------------------------------------------------------


def test_blocking_calls_in_between_do_not_starve_awaiting_tasks(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            jobid = job.submit(h, TRUE)
            task = asyncio.create_task(aio.aresult(h, jobid))
            await asyncio.sleep(0)  # the task opens its watch
            # This blocking call reads the task's responses too, off the socket...
            assert job.result(h, jobid).returncode == 0
            # ...and the task still learns about them.
            info = await asyncio.wait_for(task, 10)
            assert info.returncode == 0

    run(main())


def test_a_handle_serves_one_asyncio_run_after_another(uri: str) -> None:
    with Flux(uri) as h:
        first = run(aio.asubmit(h, TRUE))
        second = run(aio.asubmit(h, TRUE))
        assert run(aio.aresult(h, first)).returncode == 0
        assert job.result(h, second).returncode == 0  # and blocking use still works
        assert run(aio.aresult(h, second)).returncode == 0


def test_closing_the_handle_fails_awaiting_tasks(uri: str) -> None:
    async def main() -> None:
        h = Flux(uri)
        jobid = await aio.asubmit(h, SLEEP)
        # A composite future (the result) and a plain one (the eventlog watch).
        tasks = [asyncio.create_task(aio.aresult(h, jobid)),
                 asyncio.create_task(aio.aevent_wait(h, jobid, "clean"))]  # fmt: skip
        await asyncio.sleep(0.05)
        h.close()
        for task in tasks:
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(task, 10)
        with Flux(uri) as other:  # the same file descriptor number, most likely
            await aio.acancel(other, jobid)
            await aio.aresult(other, jobid)

    run(main())


def test_a_handle_dropped_without_close_leaves_the_loop(uri: str) -> None:
    async def main() -> None:
        h = Flux(uri)
        jobid = await aio.asubmit(h, TRUE)
        fd = h._fd
        del h  # as flux scripts do: the socket closes when the handle goes
        gc.collect()
        with Flux(uri) as other:
            # A new socket, most likely with the same number, is watched afresh.
            assert other._fd == fd
            info = await asyncio.wait_for(aio.aresult(other, jobid), 10)
            assert info.returncode == 0

    run(main())


def test_losing_the_instance_fails_awaiting_tasks(tmp_path: Path) -> None:
    async def main(instance: contextlib.ExitStack, doomed: str) -> None:
        with Flux(doomed) as h:
            held = await aio.asubmit(h, TRUE, urgency=0)
            waiting = asyncio.create_task(aio.aresult(h, held))
            await asyncio.sleep(0.05)
            await asyncio.to_thread(instance.close)  # the instance shuts down
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(waiting, 20)
            with pytest.raises(ConnectionLostError):
                await aio.asubmit(h, TRUE)

    with contextlib.ExitStack() as instance:
        run(main(instance, instance.enter_context(instance_running(tmp_path / "doomed"))))


def test_handle_of_another_thread_is_refused(uri: str) -> None:
    handles: list[Flux] = []
    opener = threading.Thread(target=lambda: handles.append(Flux(uri)))
    opener.start()
    opener.join()

    async def main() -> None:
        with pytest.raises(HandleThreadError):
            await aio.asubmit(handles[0], TRUE)

    try:
        run(main())
    finally:
        handles[0]._conn.close()  # (close() itself checks the thread)


def test_aget_and_aready_on_raw_futures(uri: str) -> None:
    async def main() -> None:
        with Flux(uri) as h:
            reply = await aio.aget(h.rpc("broker.getattr", {"name": "rank"}))
            assert reply == {"value": "0"}
            with pytest.raises(OSError):
                await aio.aget(h.rpc("no-such.service"))
            future = h.rpc("broker.getattr", {"name": "rank"}).then(lambda f: None)
            with pytest.raises(OSError) as info:
                await aio.aready(future)
            assert info.value.errno == errno.EEXIST
            h.reactor_run()  # let its own continuation run

    run(main())


def test_many_submissions_at_once_fill_the_socket(uri: str) -> None:
    # A thousand submissions sent at once exceed the socket's buffer: the loop
    # must also watch for writability.
    async def main() -> list[JobID]:
        with Flux(uri) as h:
            # Usually more than the socket buffer holds (whether it filled depends
            # on how fast the instance reads, so it is not asserted).
            futures = [job.submit_async(h, TRUE, urgency=0) for _ in range(1000)]
            ids = [JobID(reply["id"]) for reply in await asyncio.gather(*map(aio.aget, futures))]
            await asyncio.gather(*(aio.acancel(h, jobid) for jobid in ids))
            return ids

    assert len(set(run(main()))) == 1000


def test_asyncio_example(uri: str) -> None:
    env = dict(os.environ, FLUX_URI=uri)
    proc = subprocess.run([sys.executable, "examples/asyncio_jobs.py"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "task 0: stdout: hello from task 0" in lines
    assert "10 jobs, returncodes {0}" in lines
    assert "sleep 30: watch cancelled, job still RUN" in lines


@pytest.mark.parametrize("index", range(len(python_blocks(ROOT / "docs/asyncio.md"))))
def test_asyncio_docs_examples_run(uri: str, index: int) -> None:
    code = python_blocks(ROOT / "docs/asyncio.md")[index]
    env = dict(os.environ, FLUX_URI=uri)
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
