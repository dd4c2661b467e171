"""Typed contexts of the job events of RFC 21.

An :class:`~fluxsdk.eventlog.EventLogEvent`'s ``context`` is a plain
``dict[str, Any]``, as in flux. :func:`event_context` gives it the type its
event name implies, checked, so type checkers see the keys RFC 21 defines::

    from fluxsdk import job
    from fluxsdk.job.contexts import event_context

    for event in job.event_watch(h, jobid):
        if event.name == "finish":
            status: int = event_context(event, "finish")["status"]
        elif event.name == "exception":
            ctx = event_context(event, "exception")
            print(ctx["type"], ctx["severity"], ctx["note"])

Keys RFC 21 makes optional are ``NotRequired`` (read them with ``.get``);
events may carry more keys than RFC 21 lists, for plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, overload

from fluxsdk.errors import InvalidEventlogError, InvalidInputError
from fluxsdk.eventlog import EventLogEvent

if TYPE_CHECKING:  # at run time the annotations stay text (Python 3.10 has no NotRequired)
    from typing_extensions import NotRequired

__all__ = [
    "AllocContext",
    "DependencyContext",
    "EmptyContext",
    "ExceptionContext",
    "FinishContext",
    "JobEventName",
    "PriorityContext",
    "ReleaseContext",
    "ResourceUpdateContext",
    "ScriptFinishContext",
    "ScriptStartContext",
    "SetFlagsContext",
    "SubmitContext",
    "UrgencyContext",
    "event_context",
]

JobEventName = Literal[
    "submit",
    "validate",
    "invalidate",
    "set-flags",
    "jobspec-update",
    "resource-update",
    "dependency-add",
    "dependency-remove",
    "depend",
    "priority",
    "flux-restart",
    "urgency",
    "alloc",
    "prolog-start",
    "prolog-finish",
    "epilog-start",
    "epilog-finish",
    "free",
    "start",
    "release",
    "finish",
    "clean",
    "exception",
    "memo",
]
"""The names of the job events RFC 21 defines (``debug.*`` events have no fixed context)."""


class EmptyContext(TypedDict):
    """The context of an event RFC 21 gives none: ``validate``, ``invalidate``,
    ``depend``, ``flux-restart``, ``free``, ``start``, ``clean``."""


class SubmitContext(TypedDict):
    """``submit``: the job was submitted (always its first event)."""

    urgency: int  #: Initial urgency, 0-31.
    userid: int  #: The submitter's user ID.
    flags: int  #: Flags mask (1 = debug).
    version: int  #: Eventlog format version (1).


class SetFlagsContext(TypedDict):
    """``set-flags``: flags were set on the job."""

    flags: list[str]  #: The flag names, e.g. ``["debug"]``.


class ResourceUpdateContext(TypedDict):
    """``resource-update``: the allocation's expiration changed."""

    expiration: float  #: The new expiration (seconds since the epoch).


class DependencyContext(TypedDict):
    """``dependency-add`` / ``dependency-remove``: a dependency came or went."""

    description: str  #: The dependency, e.g. ``"begin-time=1552594348"``.


class PriorityContext(TypedDict):
    """``priority``: the job's priority was assigned."""

    priority: int  #: 0-4294967295.


class UrgencyContext(TypedDict):
    """``urgency``: the job's urgency changed."""

    urgency: int  #: The new urgency, 0-31.
    userid: int  #: Who changed it.


class AllocContext(TypedDict):
    """``alloc``: the scheduler allocated resources."""

    annotations: NotRequired[dict[str, Any]]  #: Scheduler annotations (RFC 27).


class ScriptStartContext(TypedDict):
    """``prolog-start`` / ``epilog-start``: a prolog or epilog action started."""

    description: str  #: Its name or description.


class ScriptFinishContext(TypedDict):
    """``prolog-finish`` / ``epilog-finish``: a prolog or epilog action ended."""

    description: str  #: Its name or description.
    status: int  #: Its completion status (0 is success).


class ReleaseContext(TypedDict):
    """``release``: resources were released."""

    ranks: str  #: An RFC 22 idset of broker ranks, or ``"all"``.
    final: bool  #: True once all of the job's resources are released.


class FinishContext(TypedDict):
    """``finish``: the job shells ended."""

    status: int  #: The largest job shell wait status, as wait(2) gives it.


class ExceptionContext(TypedDict):
    """``exception``: an exception was raised on the job."""

    type: str  #: The exception type, e.g. ``"cancel"``, ``"timeout"``, ``"exec"``.
    severity: int  #: 0 (fatal) to 7.
    note: str  #: A human-readable explanation (may be empty).
    userid: NotRequired[int]  #: Who raised it, if not the instance owner.
    wait_status: NotRequired[int]  #: The wait status of the task that caused it.


# name -> the keys RFC 21 requires, with the JSON types they must have.
_REQUIRED: Final[Mapping[str, Mapping[str, type | tuple[type, ...]]]] = {
    "submit": {"urgency": int, "userid": int, "flags": int, "version": int},
    "set-flags": {"flags": list},
    "resource-update": {"expiration": (int, float)},
    "dependency-add": {"description": str},
    "dependency-remove": {"description": str},
    "priority": {"priority": int},
    "urgency": {"urgency": int, "userid": int},
    "prolog-start": {"description": str},
    "epilog-start": {"description": str},
    "prolog-finish": {"description": str, "status": int},
    "epilog-finish": {"description": str, "status": int},
    "release": {"ranks": str, "final": bool},
    "finish": {"status": int},
    "exception": {"type": str, "severity": int, "note": str},
}
_OPTIONAL: Final[Mapping[str, Mapping[str, type | tuple[type, ...]]]] = {
    "alloc": {"annotations": dict},
    "exception": {"userid": int, "wait_status": int},
}


@overload
def event_context(event: EventLogEvent, name: Literal["submit"]) -> SubmitContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["set-flags"]) -> SetFlagsContext: ...
@overload
def event_context(
    event: EventLogEvent, name: Literal["resource-update"]
) -> ResourceUpdateContext: ...
@overload
def event_context(
    event: EventLogEvent, name: Literal["dependency-add", "dependency-remove"]
) -> DependencyContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["priority"]) -> PriorityContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["urgency"]) -> UrgencyContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["alloc"]) -> AllocContext: ...
@overload
def event_context(
    event: EventLogEvent, name: Literal["prolog-start", "epilog-start"]
) -> ScriptStartContext: ...
@overload
def event_context(
    event: EventLogEvent, name: Literal["prolog-finish", "epilog-finish"]
) -> ScriptFinishContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["release"]) -> ReleaseContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["finish"]) -> FinishContext: ...
@overload
def event_context(event: EventLogEvent, name: Literal["exception"]) -> ExceptionContext: ...
@overload
def event_context(
    event: EventLogEvent,
    name: Literal["validate", "invalidate", "depend", "flux-restart", "free", "start", "clean"],
) -> EmptyContext: ...
@overload
def event_context(event: EventLogEvent, name: str) -> Mapping[str, Any]: ...
def event_context(event: EventLogEvent, name: str) -> Mapping[str, Any]:
    """Return ``event``'s context, typed as RFC 21 defines it for the event ``name``.

    The context itself is returned (not a copy). For a name without a
    defined context (``memo``, ``jobspec-update``, ``debug.*``, a plugin's
    event) it is typed ``Mapping[str, Any]``.

    Raises:
        InvalidInputError: ``event`` is not a ``name`` event (also a ValueError).
        InvalidEventlogError: the context lacks a key RFC 21 requires for it,
            or has one of the wrong JSON type (also a ValueError).
    """
    if event.name != name:
        raise InvalidInputError(f"the event is {event.name!r}, not {name!r}")
    context = event.context
    for key, kind in _REQUIRED.get(name, {}).items():
        if key not in context:
            raise InvalidEventlogError(f"{name} event: context has no {key!r} (RFC 21)")
        _check_type(name, key, context[key], kind)
    for key, kind in _OPTIONAL.get(name, {}).items():
        if key in context:
            _check_type(name, key, context[key], kind)
    return context


def _check_type(name: str, key: str, value: object, kind: type | tuple[type, ...]) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true/false decode as bool, which Python counts as an int: not a number here.
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InvalidEventlogError(
            f"{name} event: context {key!r} must be {names}, not {type(value).__name__}"
        )
