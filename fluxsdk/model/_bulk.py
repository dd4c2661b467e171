"""The report of :meth:`Connection.submit_tasks`: what was submitted, what was not, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from fluxsdk.model._errors import BulkSubmitError

if TYPE_CHECKING:
    from fluxsdk.model._task import Task

__all__ = ["SubmitFailure", "SubmitReport"]


@attrs.frozen
class SubmitFailure:
    """A task that was not submitted, and the exception that says why."""

    task: Task
    error: Exception


@attrs.frozen
class SubmitReport:
    """The outcome of a bulk submission: one bad task does not sink the others."""

    submitted: tuple[Task, ...]
    """The tasks that are submitted now (in the order given)."""
    failed: tuple[SubmitFailure, ...]
    """The tasks that were not, each with its error."""

    @property
    def total(self) -> int:
        """How many tasks were given."""
        return len(self.submitted) + len(self.failed)

    @property
    def ok(self) -> bool:
        """True when every task was submitted."""
        return not self.failed

    def raise_on_error(self) -> None:
        """Raise :class:`BulkSubmitError` if any task was not submitted."""
        if self.failed:
            raise BulkSubmitError(self)
