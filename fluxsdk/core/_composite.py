"""Composite futures: futures fulfilled by code that reacts to child futures.

This is the part flux's ``FutureExt`` plays in the Flux bindings: a job's
result is computed from the entries of an eventlog watch, an output watch
follows the main eventlog and then the output eventlog, and so on. A
:class:`CompositeFuture` subclass implements :meth:`~CompositeFuture._start`,
which opens the first children with :meth:`~CompositeFuture._follow`, and
handlers that read a child's current result and fulfil the composite.

Both ways of consuming a future work, with the same rules as for any future:

* with :meth:`~fluxsdk.core.Future.then`, every child gets a continuation
  and the handlers run from ``reactor_run()``;
* a blocking :meth:`~fluxsdk.core.Future.get` / ``wait_for`` runs the
  handlers of children that are ready, and otherwise blocks in the handle
  until *any* child of the whole tree has a result (no polling, no user
  continuation run).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from fluxsdk.core._future import Future

if TYPE_CHECKING:
    from fluxsdk.core._handle import Flux

__all__ = ["CompositeFuture"]

_CF = TypeVar("_CF", bound="CompositeFuture")


@runtime_checkable
class _Cancellable(Protocol):
    """A child that runs something to stop when it is no longer followed (a watch)."""

    def cancel(self) -> None: ...


class _Link:
    """One child a composite follows, and the handler of its results."""

    __slots__ = ("child", "handler", "then_set")

    def __init__(self, child: Future, handler: Callable[[Any], None]) -> None:
        self.child = child
        self.handler = handler
        self.then_set = False


class CompositeFuture(Future):
    """A future fulfilled by Python code reacting to the results of child futures.

    Subclasses use this API (underscored: it is for subclasses, not callers):

    * :meth:`_start` (override): open the first children; called once, on
      the first ``get()``, ``wait_for()`` or ``then()``.
    * :meth:`_follow` ``(child, handler)``: call ``handler(child)`` for each
      result of ``child`` (a future of the same handle, possibly another
      composite). The handler reads the result, calls :meth:`fulfill` or
      :meth:`fulfill_error` on the composite as it sees fit, and then either
      resets the child (streams) or :meth:`_unfollow` s it.
    * :meth:`_unfollow` ``(child)``: stop following ``child``; a child with a
      ``cancel()`` method (a watch, another composite) is cancelled.
    * :meth:`_fail` ``(exc)``: fail the composite with ``exc``'s errno and
      message and drop every child.
    * :meth:`_children`: the children followed now; ``_started`` tells
      whether :meth:`_start` has run.

    A handler that raises ``ValueError``, ``KeyError`` or ``TypeError`` (a
    malformed response) fails the composite with ``EPROTO``.
    """

    def __init__(self, flux_handle: Flux) -> None:
        super().__init__(flux_handle)
        self._links: dict[Future, _Link] = {}
        self._started = False
        self._async = False

    # -- for subclasses --------------------------------------------------------

    def _start(self) -> None:
        """Open the first child futures (called once, on first use)."""

    def _follow(self, child: Future, handler: Callable[[Any], None]) -> None:
        """Call ``handler(child)`` for each result of ``child``."""
        if child.get_flux() is not self.get_flux():
            raise ValueError("a composite future's children must belong to its handle")
        if child in self._links:
            raise ValueError(f"{child!r} is already followed")
        link = _Link(child, handler)
        self._links[child] = link
        if self._async:
            self._set_then(link)

    def _unfollow(self, child: Future) -> None:
        """Stop reacting to ``child``, and cancel what it still runs."""
        link = self._links.pop(child, None)
        if link is not None and link.then_set:
            child.stop()
        if isinstance(child, _Cancellable):
            child.cancel()

    def _children(self) -> list[Future]:
        """The children followed now, oldest first."""
        return list(self._links)

    def _fail(self, exc: OSError) -> None:
        """Fail with ``exc``'s errno and message, and drop every child."""
        self.cancel()
        self.fulfill_error(exc.errno or errno.EIO, exc.strerror or str(exc))

    # -- public ----------------------------------------------------------------

    def cancel(self, stop: bool = False) -> None:
        """Drop every child, cancelling their watches: nothing more will be produced.

        Results already produced can still be read. With ``stop``, the
        :meth:`then` continuation is not called again either.
        """
        for child in list(self._links):
            self._unfollow(child)
        if stop:
            self.stop()

    def then(
        self: _CF,
        callback: Callable[..., object],
        *args: Any,
        timeout: float = -1.0,
        **kwargs: Any,
    ) -> _CF:
        """Call ``callback(self, *args, **kwargs)`` from the reactor once fulfilled."""
        super().then(callback, *args, timeout=timeout, **kwargs)
        self._async = True
        self._ensure_started()
        for link in list(self._links.values()):
            self._set_then(link)
        return self

    def wait_for(self: _CF, timeout: float = -1.0) -> _CF:
        """Block until fulfilled; ``timeout`` < 0 waits forever.

        Raises ``OSError(ETIMEDOUT)`` if ``timeout`` seconds pass first, and
        ``OSError(EDEADLOCK)`` if nothing is left that could fulfil it.
        """
        self._drive()
        if not self.is_ready():
            self.get_flux()._wait_any((self,), timeout)
        return self

    # -- driving ---------------------------------------------------------------

    def _ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self._start()

    def _drive(self) -> None:
        # Blocking waits: run the handlers of ready children (deepest first)
        # until this future has a result or no child has one.
        self._ensure_started()
        progressed = True
        while progressed and self._result is None:
            progressed = False
            for link in list(self._links.values()):
                if self._links.get(link.child) is not link:
                    continue  # dropped by an earlier handler
                link.child._drive()
                if link.child.is_ready():
                    self._dispatch(link)
                    progressed = True
                    if self.is_ready():  # (a handler may have fulfilled it)
                        break

    def _may_progress(self) -> bool:
        return any(child.is_ready() or child._may_progress() for child in self._links)

    def _set_then(self, link: _Link) -> None:
        if not link.then_set:
            link.then_set = True
            link.child.then(self._child_ready, link)

    def _child_ready(self, child: Future, link: _Link) -> None:
        if self._links.get(child) is link and child.is_ready():
            self._dispatch(link)

    def _dispatch(self, link: _Link) -> None:
        try:
            link.handler(link.child)
        except (ValueError, KeyError, TypeError) as exc:
            # A malformed response: fail this future, not the reactor.
            self._fail(OSError(errno.EPROTO, f"malformed response: {exc}"))
