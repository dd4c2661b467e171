"""The exceptions of the object model, in the spirit of Qarnot's SDK.

Every one derives from :class:`fluxsdk.errors.FluxSDKError` (unlike Qarnot's,
where some bypass the root), and from the built-in exception that code ported
from ``flux.job`` already catches for the same failure::

    FluxSDKError
    ├── MissingObjectException (FileNotFoundError, errno ENOENT)
    │   ├── MissingJobException      no such job (deleted, expired, or never existed)
    │   ├── MissingTaskException     no such task
    │   └── MissingPoolException     no such pool
    ├── UnauthorizedException (PermissionError, errno EPERM/EACCES)
    │                                another user's instance or job, or an operation
    │                                the object's state forbids (abort a finished task)
    ├── MaxJobException              the connection's limit on jobs is reached
    ├── PoolNotReadyException (TimeoutError)
    │                                a pool's nested instance did not come up in time
    └── BulkSubmitError              some tasks of submit_tasks() were refused
                                     (``report`` says which, and why)
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fluxsdk.errors import FluxSDKError

if TYPE_CHECKING:
    from fluxsdk.model._bulk import SubmitReport

__all__ = [
    "BulkSubmitError",
    "MaxJobException",
    "MissingJobException",
    "MissingObjectException",
    "MissingPoolException",
    "MissingTaskException",
    "PoolNotReadyException",
    "UnauthorizedException",
]


class MissingObjectException(FluxSDKError, FileNotFoundError):
    """An object the instance does not hold (any more); ``errno`` is ENOENT."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOENT, message)

    def __str__(self) -> str:
        return str(self.strerror)


class MissingJobException(MissingObjectException):
    """No job with this uuid: it was deleted, expired (``completion_ttl``) or never existed."""


class MissingTaskException(MissingObjectException):
    """No task with this uuid: it was deleted (maybe with its job) or never existed."""


class MissingPoolException(MissingObjectException):
    """No pool with this uuid: it was deleted or never existed."""


class UnauthorizedException(FluxSDKError, PermissionError):
    """The operation is not allowed: another user's instance or job, or the
    object's state forbids it (the message says which, and what to do)."""

    def __init__(self, message: str, errnum: int = errno.EPERM) -> None:
        super().__init__(errnum, message)

    def __str__(self) -> str:
        return str(self.strerror)


class MaxJobException(FluxSDKError):
    """Submitting another job would exceed the connection's ``max_jobs`` limit."""


class PoolNotReadyException(FluxSDKError, TimeoutError):
    """A pool's nested instance did not start taking tasks within the time allowed
    (``Connection(pool_ready_timeout=...)``); ``errno`` is ETIMEDOUT."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ETIMEDOUT, message)

    def __str__(self) -> str:
        return str(self.strerror)


class BulkSubmitError(FluxSDKError):
    """Some tasks given to :meth:`Connection.submit_tasks` were refused.

    The others were submitted. :attr:`report` lists both.
    """

    def __init__(self, report: SubmitReport) -> None:
        self.report = report
        lines = [f"{len(report.failed)} of {report.total} tasks were not submitted:"]
        lines += [f"  {failure.task.name!r}: {failure.error}" for failure in report.failed]
        super().__init__("\n".join(lines))


def not_found(kind: str, uuid: object, hint: str = "") -> MissingObjectException:
    """The Missing*Exception of ``kind`` ("job", "task" or "pool") for ``uuid``."""
    classes: dict[str, type[MissingObjectException]] = {
        "job": MissingJobException,
        "task": MissingTaskException,
        "pool": MissingPoolException,
    }
    listing = {"job": "jobs()", "task": "tasks()", "pool": "pools()"}[kind]
    message = (
        f"no {kind} {uuid} on this instance: it was deleted, or never existed "
        f"(Connection.{listing} lists the {kind}s that exist)"
    )
    return classes[kind](f"{message}; {hint}" if hint else message)


def translate(exc: OSError, kind: str, uuid: object, action: str) -> Exception:
    """The model exception for an instance's error answer to ``action`` on an object.

    ENOENT becomes a Missing*Exception, EPERM/EACCES an UnauthorizedException;
    anything else is returned unchanged.
    """
    if isinstance(exc, FluxSDKError):
        return exc
    if exc.errno == errno.ENOENT:
        return not_found(kind, uuid)
    if exc.errno in (errno.EPERM, errno.EACCES):
        return UnauthorizedException(
            f"cannot {action} {kind} {uuid}: {exc.strerror} (it belongs to another user, "
            "or its instance is not yours)",
            exc.errno,
        )
    return exc


def join_names(names: Sequence[str]) -> str:
    """``a, b and c`` for messages."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
