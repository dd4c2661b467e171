"""Durable state of the embedded instance, in SQLite (WAL).

Everything the instance knows about a job is its jobspec, its signed request
and its eventlogs (main and output); everything else is derived from them.
Writes go into one open transaction; :meth:`Store.commit` ends it (with a
full fsync of the WAL) and only then delivers the appended entries to
watchers and runs the after-commit callbacks. The broker calls ``commit``
once per loop iteration, before it writes any reply, so an event is on disk
before anyone hears of it, and one fsync serves a whole batch.

No write can poison the transaction: an entry that could not be stored is
refused when it is appended (``ValueError``, so its requester gets an error),
and a statement that fails anyway rolls the transaction back and replays its
other writes one by one, dropping (and logging) only the failing one. Each
watcher and after-commit callback runs on its own: one that raises is logged
and the others still run.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Store"]

log = logging.getLogger("fluxsdk.instance")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    userid INTEGER NOT NULL,
    J TEXT NOT NULL,
    jobspec TEXT NOT NULL,
    R TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    jobid INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    starttime INTEGER NOT NULL,
    PRIMARY KEY (jobid, pid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS eventlogs (
    jobid INTEGER NOT NULL,
    path TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (jobid, path, seq)
) WITHOUT ROWID;
"""

_SIGN_BIT = 1 << 63
# The eventlogs a job may get (main, output, the shell's exec eventlog): a new
# job's are known to be empty, so appending to them never asks the database.
_JOB_EVENTLOGS = ("eventlog", "guest.output", "guest.exec.eventlog")

Watcher = Callable[[str], None]


def _sql_id(jobid: int) -> int:
    """Job IDs are unsigned 64-bit; SQLite integers are signed."""
    return jobid - (1 << 64) if jobid >= _SIGN_BIT else jobid


def _py_id(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class Store:
    """The instance's SQLite database plus eventlog watchers."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._in_txn = False
        # Every write of the open transaction, to replay if one of them fails.
        self._journal: list[tuple[str, list[tuple[Any, ...]]]] = []
        # Eventlog rows not yet written: executemany at commit is far cheaper
        # than one INSERT per event.
        self._rows: list[tuple[int, str, int, str]] = []
        self._new_jobs: list[tuple[int, int, str, str]] = []
        self._new_R: list[tuple[str | None, int]] = []
        self._new_tasks: list[tuple[int, int, int]] = []
        self._seq: dict[tuple[int, str], int] = {}
        self._unpublished: list[tuple[int, str, str]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._watchers: dict[tuple[int, str], list[Watcher]] = defaultdict(list)
        # Called on every write, so the owner can schedule a durability point:
        # on_wanted when someone waits for it (an after-commit callback, a watcher
        # of the eventlog written), on_write otherwise (it may come a little later).
        self.on_write: Callable[[], None] = lambda: None
        self.on_wanted: Callable[[], None] = lambda: None
        self._wanted = False

    # -- transactions --------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_txn:
            self._db.execute("BEGIN")
            self._in_txn = True

    def _run(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Execute a write in the open transaction (replayed without it if it fails)."""
        self._begin()
        self._journal.append((sql, rows))
        try:
            self._db.executemany(sql, rows)
        except Exception as exc:  # sqlite3.Error, or a value SQLite cannot bind
            log.error("store write failed (%s): replaying the transaction write by write", exc)
            self._replay()

    def _replay(self) -> None:
        """Roll back, then redo the journal one row at a time, dropping rows that fail."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.execute("BEGIN")
        self._in_txn = True
        journal, self._journal = self._journal, []
        for sql, rows in journal:
            kept = []
            for row in rows:
                self._db.execute("SAVEPOINT one")
                try:
                    self._db.execute(sql, row)
                except Exception as exc:
                    self._db.execute("ROLLBACK TO one")
                    log.error("store write dropped: %s: %.200r", exc, row)
                else:
                    kept.append(row)
                self._db.execute("RELEASE one")
            if kept:
                self._journal.append((sql, kept))

    def _write_rows(self) -> None:
        """Write the batched rows into the open transaction (jobs before their events)."""
        for attr, sql in (
            ("_new_jobs", "INSERT INTO jobs (id, userid, J, jobspec) VALUES (?, ?, ?, ?)"),
            ("_rows", "INSERT INTO eventlogs (jobid, path, seq, entry) VALUES (?, ?, ?, ?)"),
            ("_new_R", "UPDATE jobs SET R = ? WHERE id = ?"),
            ("_new_tasks", "INSERT OR REPLACE INTO tasks (jobid, pid, starttime) VALUES (?, ?, ?)"),
        ):
            rows = getattr(self, attr)
            if rows:
                # Taken out first: a failing write is never attempted twice.
                setattr(self, attr, [])
                self._run(sql, rows)

    def commit(self) -> None:
        """Make every write durable, then tell watchers and run after-commit work."""
        self._write_rows()
        if self._in_txn:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                log.error("store commit failed (%s): replaying write by write", exc)
                self._replay()
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as again:
                    lost = sum(len(rows) for _, rows in self._journal)
                    log.error("store commit failed again, %d writes lost: %s", lost, again)
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
            self._in_txn = False
            self._journal.clear()
        self._wanted = False
        unpublished, self._unpublished = self._unpublished, []
        for jobid, path, entry in unpublished:
            for watcher in list(self._watchers.get((jobid, path), ())):
                _isolated(watcher, entry)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            _isolated(callback)
        # What the callbacks wrote waits for the next durability point (see
        # on_write and on_wanted): one commit per loop turn, never two.

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the writes made so far are durable."""
        self._after_commit.append(callback)
        self._want()

    def _want(self) -> None:
        self._wanted = True
        self.on_wanted()

    @property
    def wanted(self) -> bool:
        """Somebody waits for the next commit (see :attr:`on_wanted`)."""
        return self._wanted

    @property
    def dirty(self) -> bool:
        return self._in_txn or bool(
            self._rows
            or self._new_jobs
            or self._new_R
            or self._new_tasks
            or self._unpublished
            or self._after_commit
        )

    def close(self) -> None:
        # After-commit work may write again; a few rounds settle it.
        for _ in range(10):
            self.commit()
            if not self.dirty:
                break
        self._db.close()

    # -- instance metadata ---------------------------------------------------------

    def meta_get(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def meta_set(self, key: str, value: Any) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(key, json.dumps(value))],
        )

    # -- jobs ----------------------------------------------------------------------

    def job_add(self, jobid: int, userid: int, signed: str, jobspec: str) -> None:
        self._new_jobs.append((_sql_id(jobid), userid, signed, jobspec))
        self.on_write()
        # A new job's eventlogs are empty: no need to ask the database later.
        for path in _JOB_EVENTLOGS:
            self._seq[(jobid, path)] = 0

    def job_set_R(self, jobid: int, R: str | None) -> None:
        self._new_R.append((R, _sql_id(jobid)))
        self.on_write()

    def task_add(self, jobid: int, pid: int, starttime: int) -> None:
        """Remember a task's process (its start time tells it from a reused pid)."""
        self._new_tasks.append((_sql_id(jobid), pid, starttime))
        self.on_write()

    def tasks(self, jobid: int) -> list[tuple[int, int]]:
        """The ``(pid, starttime)`` of every task a job started."""
        self._write_rows()
        rows = self._db.execute(
            "SELECT pid, starttime FROM tasks WHERE jobid = ?", (_sql_id(jobid),)
        ).fetchall()
        return [(int(pid), int(start)) for pid, start in rows]

    def job_purge(self, jobid: int) -> None:
        """Remove a job and everything stored about it."""
        self._write_rows()
        for table, column in (("eventlogs", "jobid"), ("tasks", "jobid"), ("jobs", "id")):
            self._run(f"DELETE FROM {table} WHERE {column} = ?", [(_sql_id(jobid),)])
        self.forget(jobid)
        self.on_write()

    def last_jobid(self) -> int | None:
        """The largest job ID ever stored (IDs never repeat after a restart)."""
        self._write_rows()
        row = self._db.execute("SELECT id FROM jobs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else _py_id(row[0])

    def job_get(self, jobid: int, column: str) -> str | None:
        """One of the stored documents of a job: ``J``, ``jobspec`` or ``R``."""
        if column not in ("J", "jobspec", "R"):
            raise ValueError(f"no such job document {column!r}")
        self._write_rows()
        row = self._db.execute(
            f"SELECT {column} FROM jobs WHERE id = ?", (_sql_id(jobid),)
        ).fetchone()
        if row is None:
            raise KeyError(jobid)
        value: str | None = row[0]
        return value

    def job_ids(self) -> Iterator[tuple[int, int]]:
        """Every stored job as ``(jobid, userid)``, in ID order."""
        self._write_rows()
        for jobid, userid in self._db.execute("SELECT id, userid FROM jobs ORDER BY id"):
            yield _py_id(jobid), userid

    # -- eventlogs -----------------------------------------------------------------

    def append(self, jobid: int, path: str, entry: str) -> None:
        """Append one RFC 18 entry (a line ending in newline) to an eventlog.

        Raises:
            ValueError: the entry is not text UTF-8 can hold (a lone surrogate);
                nothing is appended.
        """
        if not entry.isascii():
            try:
                entry.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"eventlog entry cannot be stored: not UTF-8 text ({exc.reason})"
                ) from None
        key = (jobid, path)
        seq = self._seq.get(key)
        if seq is None:
            seq = self._last_seq(jobid, path)
        seq += 1
        self._seq[key] = seq
        self._rows.append((_sql_id(jobid), path, seq, entry))
        self._unpublished.append((jobid, path, entry))
        if key in self._watchers:
            self._want()
        else:
            self.on_write()

    def _last_seq(self, jobid: int, path: str) -> int:
        self._write_rows()
        row = self._db.execute(
            "SELECT MAX(seq) FROM eventlogs WHERE jobid = ? AND path = ?", (_sql_id(jobid), path)
        ).fetchone()
        return int(row[0] or 0)

    def eventlog(self, jobid: int, path: str) -> list[str]:
        """Every committed or pending entry of an eventlog, in order."""
        self._write_rows()
        return [
            row[0]
            for row in self._db.execute(
                "SELECT entry FROM eventlogs WHERE jobid = ? AND path = ? ORDER BY seq",
                (_sql_id(jobid), path),
            )
        ]

    def eventlog_exists(self, jobid: int, path: str) -> bool:
        key = (jobid, path)
        seq = self._seq.get(key)
        return (seq if seq is not None else self._last_seq(jobid, path)) > 0

    def forget(self, jobid: int) -> None:
        """Drop the in-memory sequence cache of a finished job (the rows stay)."""
        for path in _JOB_EVENTLOGS:
            self._seq.pop((jobid, path), None)

    # -- watchers ------------------------------------------------------------------

    def watch(self, jobid: int, path: str, watcher: Watcher) -> list[str]:
        """Return the entries so far and call ``watcher`` with each later one.

        The snapshot and the subscription are taken together, so no entry is
        missed or seen twice. Entries not yet committed are left out of the
        snapshot: the watcher hears of them after the commit, like everyone.
        """
        committed = self.eventlog(jobid, path)
        pending = sum(1 for j, p, _ in self._unpublished if j == jobid and p == path)
        if pending:
            committed = committed[:-pending]
            self._want()
        self._watchers[(jobid, path)].append(watcher)
        return committed

    def unwatch(self, jobid: int, path: str, watcher: Watcher) -> None:
        watchers = self._watchers.get((jobid, path))
        if watchers and watcher in watchers:
            watchers.remove(watcher)
            if not watchers:
                del self._watchers[(jobid, path)]


def _isolated(callback: Callable[..., None], *args: Any) -> None:
    """Run one watcher or after-commit callback; its failure is logged, not raised."""
    try:
        callback(*args)
    except Exception as exc:
        log.error(
            "store callback %s failed: %s: %s",
            getattr(callback, "__qualname__", callback),
            type(exc).__name__,
            exc,
        )
