"""The ``singleton`` dependency scheme, as flux's dependency-singleton plugin has it.

Jobs of one user that share an explicit job name (``attributes.system.job.name``)
run one at a time: a job submitted with ``singleton`` while another active job
of that user and name exists waits (dependency ``singleton``); when every
active job of the pair is such a waiting one, the first submitted is released.
A singleton job without an explicit name is refused. :class:`Singletons`
keeps the counts and the waiting lists; the job manager posts the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DESCRIPTION", "Singletons", "explicit_name"]

#: The dependency's description in ``dependency-add`` / ``dependency-remove``.
DESCRIPTION = "singleton"


def explicit_name(jobspec: Mapping[str, Any]) -> str | None:
    """The job name the jobspec gives (None when it gives none)."""
    name = jobspec.get("attributes", {}).get("system", {}).get("job", {}).get("name")
    return name if isinstance(name, str) else None


class Singletons:
    """Active-job counts and waiting singleton jobs per (user, job name)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str], int] = {}
        self._waiting: dict[tuple[int, str], list[int]] = {}

    def must_wait(self, userid: int, name: str) -> bool:
        """A new singleton job of ``userid`` named ``name`` waits (others are active)."""
        return self._counts.get((userid, name), 0) > 0

    def add(self, jobid: int, userid: int, name: str | None, waiting: bool) -> int | None:
        """A job became active (``waiting`` on its singleton dependency);
        returns a waiting job to release, if any."""
        if name is None:
            return None
        key = (userid, name)
        if waiting:
            self._waiting.setdefault(key, []).append(jobid)
        return self._update(key, 1)

    def remove(self, jobid: int, userid: int, name: str | None) -> int | None:
        """A job became inactive; returns a waiting job to release, if any."""
        if name is None:
            return None
        key = (userid, name)
        waiting = self._waiting.get(key)
        if waiting and jobid in waiting:
            waiting.remove(jobid)
        return self._update(key, -1)

    def _update(self, key: tuple[int, str], delta: int) -> int | None:
        count = self._counts.get(key, 0) + delta
        waiting = self._waiting.get(key, [])
        released = None
        if waiting and count == len(waiting):
            # Every active job of the pair waits: the first submitted goes.
            released = waiting.pop(0)
        if not waiting:
            self._waiting.pop(key, None)
        if count > 0:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)
        return released
