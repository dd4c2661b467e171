"""An append-only JSON-lines file that survives load, crashes and restarts.

Each record is one ``write(2)`` of one whole line to a file opened with
``O_APPEND``: lines never interleave, even with other writers, and a crash
can at worst leave the last line unfinished. Reopening after such a crash
ends that line first, so the next record starts on a line of its own;
:func:`read_records` skips a torn line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "read_records"]


class AuditLog:
    """One open audit file."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as reader:
            reader.seek(size - 1)
            last = reader.read(1)
        if last != b"\n":
            self._write(b"\n")

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one JSON line."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._write(line.encode("utf-8", errors="surrogateescape"))
        if self.fsync:
            os.fsync(self._fd)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # a regular file takes it whole unless the disk is full
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Each record of an audit file, in order; a torn line (from a crash) is skipped."""
    with open(path, encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            if not line.endswith("\n"):
                continue  # still being written, or torn
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record
