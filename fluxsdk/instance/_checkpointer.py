"""WAL checkpoints off the event loop.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses its
threshold: it copies the write-ahead log into the database file and syncs it,
on the event loop's thread, while every request waits. The store turns it off
and asks this thread instead, which checkpoints through a connection of its
own (SQLite lets a checkpoint run beside the writer; Python's sqlite3 releases
the GIL while it works). Durability is unchanged: a commit is on disk once
its log frames are synced, before any checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["Checkpointer"]

log = logging.getLogger("fluxsdk.instance")


class Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` when asked."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Checkpoints made (for tests and statistics).
        self.count = 0

    def request(self) -> None:
        """Ask for a checkpoint soon (the thread starts on the first request)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="fluxsdk-wal-checkpoint", daemon=True
            )
            self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping = True
        self._wanted.set()
        thread.join()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.count += 1
                except sqlite3.Error as exc:  # the next request tries again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            db.close()
