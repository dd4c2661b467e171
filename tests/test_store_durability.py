"""What the store acknowledges is on disk: seen from a second connection, and after a crash.

These read the database file the way a restarted instance would, so a commit that forgets
rows it queued fails here even if a later read through the same store would have written them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from fluxsdk.core import Flux
from fluxsdk.instance import start_detached
from fluxsdk.instance._store import Store
from fluxsdk.job import JobspecV1, event_wait, event_watch
from fluxsdk.job import submit as job_submit
from fluxsdk.testing import instance_running


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows read through a fresh connection of its own, as a restarted instance reads them."""
    with sqlite3.connect(path) as other:
        return list(other.execute(sql))


def test_commit_writes_every_queued_row(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(str(db))
    big = (1 << 64) - 2  # the largest job ID: stored signed, read back unsigned
    for jobid in (1, big):
        store.job_add(jobid, 1000, "J", "{}")
        store.append(jobid, "eventlog", '{"timestamp":1.0,"name":"submit"}\n')
        store.append(jobid, "guest.output", '{"timestamp":1.0,"name":"header"}\n')
        store.job_set_R(jobid, '{"version":1}')
        store.task_add(jobid, 4242, 77)
    store.meta_set("next", 3)
    store.commit()
    try:
        assert _rows(db, "SELECT id, userid, R FROM jobs ORDER BY id") == [
            (big - (1 << 64), 1000, '{"version":1}'),
            (1, 1000, '{"version":1}'),
        ]
        assert len(_rows(db, "SELECT * FROM eventlogs")) == 4
        assert _rows(db, "SELECT pid, starttime FROM tasks") == [(4242, 77)] * 2
        assert _rows(db, "SELECT value FROM meta WHERE key = 'next'") == [("3",)]
    finally:
        store.close()


def test_rows_queued_after_a_commit_wait_for_the_next(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(str(db))
    store.job_add(7, 0, "J", "{}")
    store.commit()
    store.append(7, "eventlog", '{"timestamp":1.0,"name":"submit"}\n')
    try:
        assert _rows(db, "SELECT COUNT(*) FROM eventlogs") == [(0,)]
        store.commit()
        assert _rows(db, "SELECT COUNT(*) FROM eventlogs") == [(1,)]
    finally:
        store.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_crash_right_after_clean_keeps_the_whole_eventlog(tmp_path: Path) -> None:
    """Once a watcher has seen `clean`, a kill -9 of the instance loses none of the job."""
    statedir = tmp_path / "inst"
    with instance_running(statedir, cores=1) as uri:
        with Flux(uri) as h:
            jobid = job_submit(h, JobspecV1.from_command(["echo", "durable"]))
            event_wait(h, jobid, "clean")
            before = [(e.name, e.context) for e in event_watch(h, jobid)]
            broker = int(h.rpc("broker.getattr", {"name": "broker.pid"}).get()["value"])
        os.kill(broker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(broker):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        start_detached(statedir, cores=1)  # the block's exit stops it
        with Flux(uri) as h:
            after = [(e.name, e.context) for e in event_watch(h, jobid)]
            output = [e.context.get("data") for e in event_watch(h, jobid, eventlog="guest.output")]
    assert after == before and after[-1][0] == "clean"
    assert "durable\n" in output


def test_writes_nobody_waits_for_ask_for_a_lazy_commit(tmp_path: Path) -> None:
    """An unwatched append asks for a commit some time soon; a watched one, an
    after-commit callback or a watcher of pending entries asks for one now."""
    store = Store(str(tmp_path / "state.db"))
    asked: list[str] = []
    store.on_write = lambda: asked.append("later")
    store.on_wanted = lambda: asked.append("now")
    store.job_add(7, 0, "J", "{}")
    try:
        store.append(7, "guest.output", '{"timestamp":1.0,"name":"header"}\n')
        seen = [(asked[-1], store.wanted)]
        store.watch(7, "guest.output", lambda entry: None)  # waits for the pending header
        seen.append((asked[-1], store.wanted))
        store.commit()
        seen.append(("committed", store.wanted or store.dirty))
        store.append(7, "guest.output", '{"timestamp":2.0,"name":"data"}\n')  # watched
        seen.append((asked[-1], store.wanted))
        store.commit()
        store.after_commit(lambda: None)
        seen.append((asked[-1], store.wanted))
        assert seen == [
            ("later", False),
            ("now", True),
            ("committed", False),
            ("now", True),
            ("now", True),
        ]
    finally:
        store.close()


def test_events_nobody_waits_for_reach_the_disk_soon(tmp_path: Path) -> None:
    """A running job's `start` is on disk without any request asking for a commit."""
    statedir = tmp_path / "inst"
    with instance_running(statedir, cores=1) as uri, Flux(uri) as h:
        jobid = int(job_submit(h, JobspecV1.from_command(["sleep", "30"])))
        sql_id = jobid - (1 << 64) if jobid >= 1 << 63 else jobid
        query = f"SELECT entry FROM eventlogs WHERE jobid = {sql_id} AND path = 'eventlog'"
        deadline = time.monotonic() + 10
        while not any(
            '"name":"start"' in str(row[0]) for row in _rows(statedir / "state.db", query)
        ):
            assert time.monotonic() < deadline, "start never committed"
            time.sleep(0.01)
        h.rpc("job-manager.kill", {"id": jobid, "signum": 9}).get()
