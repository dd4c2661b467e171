"""Counts of jobs by state and outcome, as ``flux.job.stats``.

:class:`JobStats` asks the instance's ``job-list.job-stats`` service how many
jobs are in each state and how the inactive ones ended, overall or for some
queues. Its counts are ``-1`` until the first :meth:`~JobStats.update_sync`
or :meth:`~JobStats.update`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from fluxsdk.core import RPC, Flux
from fluxsdk.errors import InvalidInputError

__all__ = ["JobStats"]


class JobStats:
    """Job counts from ``job-list.job-stats``.

    Each count is ``-1`` until updated:

    - ``depend``, ``priority``, ``sched``, ``run``, ``cleanup``, ``inactive``:
      jobs in each state;
    - ``total``: every job the instance knows (past NEW);
    - ``successful``: inactive jobs that completed with exit code 0;
    - ``failed``: inactive jobs that did not succeed, *including* the canceled
      and timed-out ones (as flux reports it);
    - ``timeout``, ``canceled``: inactive jobs that timed out / were canceled;
    - ``inactive_purged``: inactive jobs purged so far;
    - ``pending``, ``running``, ``active``: depend+priority+sched, run+cleanup,
      and every job not inactive.

    Args:
        handle: a :class:`~fluxsdk.core.Flux` handle.
        queue: count only the jobs of this queue, or of these queues.
    """

    states: ClassVar[tuple[str, ...]] = (
        "depend",
        "priority",
        "sched",
        "run",
        "cleanup",
        "inactive",
        "total",
    )
    stats: ClassVar[tuple[str, ...]] = (
        "successful",
        "failed",
        "timeout",
        "canceled",
        "inactive_purged",
    )
    derived_stats: ClassVar[tuple[str, ...]] = ("pending", "running", "active")

    def __init__(self, handle: Flux, queue: str | Iterable[str] | None = None) -> None:
        self.handle = handle
        self.queues: list[str] = []
        if queue is not None:
            self.queues.extend([queue] if isinstance(queue, str) else queue)
        self.callback: Callable[..., object] | None = None
        self.cb_kwargs: dict[str, Any] = {}
        self.depend = self.priority = self.sched = self.run = self.cleanup = -1
        self.inactive = self.total = -1
        self.successful = self.failed = self.timeout = self.canceled = -1
        self.inactive_purged = -1
        self.pending = self.running = self.active = -1

    def _apply(self, response: Mapping[str, Any]) -> None:
        counts = dict.fromkeys(self.states + self.stats, 0)
        if self.queues:
            by_name = {q.get("name"): q for q in response.get("queues", [])}
            for name in self.queues:
                if name not in by_name:
                    raise InvalidInputError(f"no stats available for queue {name}")
                _add(counts, by_name[name])
        else:
            _add(counts, response)
        for name, value in counts.items():
            setattr(self, name, value)
        self.pending = self.depend + self.priority + self.sched
        self.running = self.run + self.cleanup
        self.active = self.total - self.inactive
        # flux's JobStats folds timeouts and cancels into "failed".
        self.failed += self.timeout + self.canceled

    def _update_cb(self, rpc: RPC) -> None:
        self._apply(rpc.get())
        if self.callback is not None:
            self.callback(self, **self.cb_kwargs)

    def _query(self) -> RPC:
        return self.handle.rpc("job-list.job-stats", {})

    def update(self, callback: Callable[..., object] | None = None, **kwargs: Any) -> None:
        """Fetch the counts in the background (the reactor must run), then call
        ``callback(self, **kwargs)`` if given."""
        self.callback = callback
        self.cb_kwargs = kwargs
        self._query().then(self._update_cb)

    def update_sync(self) -> JobStats:
        """Fetch the counts now, blocking, and return self."""
        self._apply(self._query().get())
        return self


def _add(counts: dict[str, int], stats: Mapping[str, Any]) -> None:
    for name in JobStats.states:
        counts[name] += int(stats["job_states"][name])
    for name in JobStats.stats:
        counts[name] += int(stats.get(name, 0))
