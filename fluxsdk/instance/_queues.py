"""The instance's queues and their state, as flux's job manager keeps them.

An instance has either named queues (RFC 33; the first is the default) or
one anonymous queue. Each queue is *enabled* (it takes submissions) or
disabled with a reason, and *started* (its jobs are scheduled) or stopped,
with an optional reason. As in Flux, the anonymous queue begins started and
named queues begin stopped (an administrator starts them: ``flux queue start
--all``, or the ``job-manager.queue-start`` request); the started state is
kept across restarts. :class:`Queues` answers flux's four queue requests
(``job-manager.queue-list``, ``-status``, ``-enable``, ``-start``) with
flux's payloads, errnos and messages.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from fluxsdk.instance._broker import Broker, Request, RequestError
from fluxsdk.instance._store import Store

__all__ = ["Queue", "Queues"]

#: The store's metadata key for the queues' started state.
_META_KEY: Final = "queues.started"


@attrs.define
class Queue:
    """One queue's state (``name`` None for the anonymous queue)."""

    name: str | None
    enabled: bool = True
    started: bool = False
    disable_reason: str | None = None
    stop_reason: str | None = None
    #: the started state kept across restarts (changes made with ``nocheckpoint`` are not)
    sticky: bool = False

    def status(self) -> dict[str, Any]:
        """``job-manager.queue-status``'s answer for this queue."""
        out: dict[str, Any] = {"enable": self.enabled, "start": self.started}
        if not self.enabled and self.disable_reason:
            out["disable_reason"] = self.disable_reason
        if not self.started and self.stop_reason:
            out["stop_reason"] = self.stop_reason
        return out


class Queues:
    """The queues of one instance, and the requests that manage them.

    Args:
        broker: where the queue requests are served.
        store: keeps the started state across restarts.
        names: the named queues (none: one anonymous queue).
        on_start: called with a queue's name (None: every queue) when it starts,
            so its pending jobs are scheduled.
        on_stop: likewise when it stops, so its pending jobs are withdrawn.
    """

    def __init__(
        self,
        broker: Broker,
        store: Store,
        names: Sequence[str],
        *,
        on_start: Callable[[str | None], None],
        on_stop: Callable[[str | None], None],
    ) -> None:
        self._store = store
        self._on_start = on_start
        self._on_stop = on_stop
        self.named: dict[str, Queue] = {name: Queue(name) for name in names}
        self.anonymous = None if names else Queue(None, started=True, sticky=True)
        saved = store.meta_get(_META_KEY)
        if isinstance(saved, dict):
            for name, started in saved.items():
                if name in self.named and isinstance(started, bool):
                    self.named[name].started = self.named[name].sticky = started
        for topic, handler in (
            ("job-manager.queue-list", self._list),
            ("job-manager.queue-status", self._status),
            ("job-manager.queue-enable", self._enable),
            ("job-manager.queue-start", self._start),
        ):
            broker.register(topic, handler)

    # -- what the job manager asks --------------------------------------------------

    def lookup(self, name: str | None) -> Queue:
        """The queue ``name`` (None: the anonymous one); EINVAL with flux's message."""
        if name is not None:
            queue = self.named.get(name)
            if queue is None:
                raise RequestError(errno.EINVAL, f"'{name}' is not a valid queue")
            return queue
        if self.anonymous is None:
            raise RequestError(errno.EINVAL, "a named queue is required")
        return self.anonymous

    def check_submit(self, name: str | None) -> None:
        """Refuse a submission to a queue that does not exist or is disabled."""
        queue = self.lookup(name)
        if not queue.enabled:
            where = f" to {name}" if name is not None else ""
            raise RequestError(
                errno.EINVAL, f"job submission{where} is disabled: {queue.disable_reason}"
            )

    def started(self, name: str | None) -> bool:
        """Whether jobs of queue ``name`` may be scheduled (an unknown one: no)."""
        queue = self.anonymous if name is None else self.named.get(name)
        return queue is not None and queue.started

    # -- requests -------------------------------------------------------------------

    def _targets(self, request: Request) -> list[Queue]:
        name = request.payload_get("name", str, None)
        every = request.payload_get("all", bool)
        if name is None and self.named and not every:
            raise RequestError(errno.EINVAL, "Use --all to apply this command to all queues")
        if name is None and self.named:
            return list(self.named.values())
        return [self.lookup(name)]

    def _list(self, request: Request) -> None:
        request.respond({"queues": list(self.named)})

    def _status(self, request: Request) -> None:
        name = request.payload_get("name", str, None)
        request.respond(self.lookup(name).status())

    def _enable(self, request: Request) -> None:
        enable = request.payload_get("enable", bool)
        reason = request.payload_get("reason", str, None)
        if not enable and reason is None:
            raise RequestError(errno.EINVAL, "reason is required for disable")
        for queue in self._targets(request):
            queue.enabled = enable
            queue.disable_reason = None if enable else reason
        request.respond()

    def _start(self, request: Request) -> None:
        start = request.payload_get("start", bool)
        reason = request.payload_get("reason", str, None)
        nocheckpoint = request.payload_get("nocheckpoint", bool, False)
        targets = self._targets(request)
        for queue in targets:
            queue.started = start
            queue.stop_reason = None if start else reason
            if not nocheckpoint:
                queue.sticky = start
        if self.named:
            self._store.meta_set(_META_KEY, {q.name: q.sticky for q in self.named.values()})
        for queue in targets:
            (self._on_start if start else self._on_stop)(queue.name)
        request.respond()
