"""Futures, as ``flux.future``.

* :class:`Future`: a result that arrives later (see :mod:`fluxsdk.core`).
* :class:`WaitAllFuture`: a future fulfilled once every child future pushed
  into it is; the children keep their own results.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from fluxsdk.core import CompositeFuture, Future

if TYPE_CHECKING:
    from fluxsdk.core import Flux

__all__ = ["Future", "WaitAllFuture"]


class WaitAllFuture(CompositeFuture):
    """A future fulfilled (with None) once all of its children are fulfilled.

    As in flux, the handle is the first child's when none is given. Read the
    children's results from :attr:`children` once this future is ready.

    Args:
        children: futures to wait for (more can be added with :meth:`push`).
        flux_handle: the handle, if there may be no child.
    """

    def __init__(
        self, children: Iterable[Future] | None = None, flux_handle: Flux | None = None
    ) -> None:
        pending = list(children or ())
        if flux_handle is None and pending:
            flux_handle = pending[0].get_flux()
        # Without a handle yet, the first pushed child gives it.
        super().__init__(cast("Flux", flux_handle))
        self._flux: Flux | None = flux_handle  # type: ignore[assignment]
        self.children: list[Any] = []
        for child in pending:
            self.push(child)

    def get_flux(self) -> Flux:
        """The handle (the first child's unless one was given)."""
        if self._flux is None:
            raise OSError(errno.EINVAL, "a WaitAllFuture has no handle until a child is pushed")
        return self._flux

    def push(self, child: Future, name: str | None = None) -> None:
        """Also wait for ``child`` (``name`` is accepted for flux's signature)."""
        if self._flux is None:
            self._flux = child.get_flux()
        self.children.append(child)
        if self._started:
            self._follow(child, self._on_child)

    def _start(self) -> None:
        for child in self.children:
            self._follow(child, self._on_child)
        self._check_done()

    def _on_child(self, child: Future) -> None:
        self._unfollow(child)
        self._check_done()

    def _check_done(self) -> None:
        if not self._children() and not self.is_ready():
            self.fulfill(None)
