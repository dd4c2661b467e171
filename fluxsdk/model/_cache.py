"""The snapshot of Task, Job and Pool, and Qarnot's auto-update rules, written once.

Each object owns a :class:`LiveCache` of its latest snapshot (an immutable
value). While the instance streams its job journal, the connection's
:class:`~fluxsdk.model._watcher.Watcher` pushes new snapshots into it
(:meth:`LiveCache.put`) and the refresh rules below are not used. Where no
stream can be had, Qarnot's rules apply (its SDK copies this code into its
task, job and pool classes), and the snapshot comes from the watcher's shared
listing, not from a request per object:

* with ``auto_update`` on (the default), reading a property refreshes the
  snapshot once it is older than ``update_cache_time`` seconds (default 5);
* with it off, properties keep the cached value until :meth:`LiveCache.update`;
* ``update(flushcache=True)`` refreshes now; ``update()`` only when stale;
* a local edit (a property set after submission, e.g. tags before
  ``commit()``) is kept apart and never overwritten by a refresh;
* a snapshot never replaces one of higher rank: states do not move backwards.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import attrs

__all__ = ["DEFAULT_UPDATE_CACHE_TIME", "LiveCache", "Snapshot"]

DEFAULT_UPDATE_CACHE_TIME = 5.0
"""Seconds a snapshot is served before a property read refreshes it (Qarnot's default)."""


class Snapshot(Protocol):
    """An immutable picture of an object, with the rank of its state."""

    @property
    def rank(self) -> int:
        """The lifecycle rank of the state this snapshot shows."""


S = TypeVar("S", bound=Snapshot)

Fetch = Callable[[float], tuple[S, float]]
"""``fetch(max_age)``: a snapshot from data at most ``max_age`` seconds old, and
the ``time.monotonic()`` at which that data was current."""


@attrs.define
class LiveCache(Generic[S]):
    """The cached snapshot of one live object and the rules for refreshing it."""

    _fetch: Fetch[S]
    _snapshot: S
    auto_update: bool = True
    """Refresh on property reads once the snapshot is stale (else: only on update())."""
    update_cache_time: float = DEFAULT_UPDATE_CACHE_TIME
    """Seconds before a snapshot counts as stale."""
    _as_of: float = -math.inf
    _edits: dict[str, Any] = attrs.field(factory=dict)
    _changed: bool = False  # this object changed the remote state: refetch from the source

    @property
    def snapshot(self) -> S:
        """The snapshot, refreshed first if ``auto_update`` is on and it is stale."""
        if self.auto_update:
            self.update()
        return self._snapshot

    def peek(self) -> S:
        """The cached snapshot, never refreshed."""
        return self._snapshot

    @property
    def age(self) -> float:
        """Seconds since the cached snapshot's data was current."""
        return time.monotonic() - self._as_of

    def update(self, flushcache: bool = False) -> None:
        """Refresh the snapshot if it is stale, or now with ``flushcache``."""
        if not flushcache and self.age < self.update_cache_time:
            return
        fresh = flushcache or self._changed
        snapshot, as_of = self._fetch(0.0 if fresh else self.update_cache_time)
        self._changed = False
        self.put(snapshot, as_of)

    def put(self, snapshot: S, as_of: float | None = None) -> None:
        """Take ``snapshot`` unless it shows an earlier state than the cached one."""
        if snapshot.rank >= self._snapshot.rank:
            self._snapshot = snapshot
        self._as_of = time.monotonic() if as_of is None else max(self._as_of, as_of)

    def expire(self) -> None:
        """Make the next read refresh from the instance itself (after this object
        changed the remote state, which shared data may not show yet)."""
        self._as_of = -math.inf
        self._changed = True

    # -- local edits ---------------------------------------------------------------

    def edit(self, name: str, value: Any) -> None:
        """Record a local edit of ``name``; refreshes leave it alone."""
        self._edits[name] = value

    def edited(self, name: str, default: Any) -> Any:
        """The local edit of ``name``, or ``default`` (the snapshot's value)."""
        return self._edits.get(name, default)

    def has_edit(self, name: str) -> bool:
        """Whether ``name`` was edited locally and not committed."""
        return name in self._edits

    def drop_edit(self, name: str) -> None:
        """Forget the local edit of ``name`` (it was committed, or abandoned)."""
        self._edits.pop(name, None)
