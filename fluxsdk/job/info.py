"""Job information objects, as ``flux.job.info``.

:class:`JobInfo` wraps one job's attribute dictionary, as returned by the
``job-list`` service (``job-list.list`` / ``job-list.list-id``) or built by
:func:`fluxsdk.job.result` from a job's eventlog, and computes the derived
values tools show: state and result names, run time, the job's return code,
a reason for how it ended, and so on. Values that are missing from the
dictionary read as an empty string (or ``0.0`` for timestamps), as in flux.

Also here: the state and result constants and their string forms
(:func:`statetostr`, :func:`resulttostr`), and :func:`job_fields_to_attrs`,
which maps output-format field names to the ``job-list`` attributes they need.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, ClassVar, Final

from fluxsdk.constants import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_RESULT_TIMEOUT,
    FLUX_JOB_STATE_ACTIVE,
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_DEPEND,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_NEW,
    FLUX_JOB_STATE_PENDING,
    FLUX_JOB_STATE_PRIORITY,
    FLUX_JOB_STATE_RUN,
    FLUX_JOB_STATE_RUNNING,
    FLUX_JOB_STATE_SCHED,
)
from fluxsdk.job._jobid import JobID
from fluxsdk.util import fsd

__all__ = [
    "FLUX_JOB_RESULT_CANCELED",
    "FLUX_JOB_RESULT_COMPLETED",
    "FLUX_JOB_RESULT_FAILED",
    "FLUX_JOB_RESULT_TIMEOUT",
    "FLUX_JOB_STATE_ACTIVE",
    "FLUX_JOB_STATE_CLEANUP",
    "FLUX_JOB_STATE_DEPEND",
    "FLUX_JOB_STATE_INACTIVE",
    "FLUX_JOB_STATE_NEW",
    "FLUX_JOB_STATE_PENDING",
    "FLUX_JOB_STATE_PRIORITY",
    "FLUX_JOB_STATE_RUN",
    "FLUX_JOB_STATE_RUNNING",
    "FLUX_JOB_STATE_SCHED",
    "AnnotationsInfo",
    "DependencyList",
    "EmptyObject",
    "ExceptionInfo",
    "InfoList",
    "JobInfo",
    "get_username",
    "job_fields_to_attrs",
    "resulttoemoji",
    "resulttostr",
    "statetoemoji",
    "statetostr",
    "statustoemoji",
    "statustostr",
]


# value -> (long upper, long lower, short upper, short lower), as libjob's tables.
_STATE_NAMES: Final[dict[int, tuple[str, str, str, str]]] = {
    FLUX_JOB_STATE_NEW: ("NEW", "new", "N", "n"),
    FLUX_JOB_STATE_DEPEND: ("DEPEND", "depend", "D", "d"),
    FLUX_JOB_STATE_PRIORITY: ("PRIORITY", "priority", "P", "p"),
    FLUX_JOB_STATE_SCHED: ("SCHED", "sched", "S", "s"),
    FLUX_JOB_STATE_RUN: ("RUN", "run", "R", "r"),
    FLUX_JOB_STATE_CLEANUP: ("CLEANUP", "cleanup", "C", "c"),
    FLUX_JOB_STATE_INACTIVE: ("INACTIVE", "inactive", "I", "i"),
    FLUX_JOB_STATE_PENDING: ("PENDING", "pending", "PD", "pd"),
    FLUX_JOB_STATE_RUNNING: ("RUNNING", "running", "RU", "ru"),
    FLUX_JOB_STATE_ACTIVE: ("ACTIVE", "active", "A", "a"),
}
_RESULT_NAMES: Final[dict[int, tuple[str, str, str, str]]] = {
    FLUX_JOB_RESULT_COMPLETED: ("COMPLETED", "completed", "CD", "cd"),
    FLUX_JOB_RESULT_FAILED: ("FAILED", "failed", "F", "f"),
    FLUX_JOB_RESULT_CANCELED: ("CANCELED", "canceled", "CA", "ca"),
    FLUX_JOB_RESULT_TIMEOUT: ("TIMEOUT", "timeout", "TO", "to"),
}
_UNKNOWN_NAMES: Final = ("(unknown)", "(unknown)", "?", "?")
# The format letter picks a column; anything else means long upper case, as in libjob.
_FORMAT_COLUMN: Final = {"L": 0, "l": 1, "S": 2, "s": 3}

# One emoji per state (by short name) and per result.
_STATE_EMOJI: Final = {
    "N": "\U0001f381",  # wrapped gift
    "D": "\U0001f6d1",  # stop sign
    "P": "\U0001f6a6",  # vertical traffic light
    "S": "\U0001f4c5",  # calendar
    "R": "\U0001f3c3",  # person running
    "C": "\U0001f5d1",  # wastebasket
    "I": "\U0001f480",  # skull
}
# result short name -> (emoji, ASCII fallback)
_RESULT_EMOJI: Final = {
    "CD": ("\U0001f600", ":-)"),
    "F": ("\U0001f4a9", ":'-("),
    "CA": ("\U0001f4a5", "%-|"),
    "TO": ("\u231b", "(-_-)"),
}


def _lookup_name(table: Mapping[int, tuple[str, str, str, str]], value: int, fmt: str) -> str:
    names = table.get(value, _UNKNOWN_NAMES)
    return names[_FORMAT_COLUMN.get(fmt[:1], 0)]


def _stdout_can_encode(text: str) -> bool:
    """True if ``text`` can be written to the current stdout."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def statetostr(stateid: int, fmt: str = "L") -> str:
    """Return the name of job state ``stateid``.

    ``fmt`` picks the form: ``"L"`` long upper case (``"SCHED"``, the
    default), ``"l"`` long lower case, ``"S"`` short upper case (``"S"``),
    ``"s"`` short lower case. An unknown state is ``"(unknown)"`` (``"?"``
    in short form).
    """
    return _lookup_name(_STATE_NAMES, stateid, fmt)


def resulttostr(resultid: int | str, fmt: str = "L") -> str:
    """Return the name of job result ``resultid`` (``""`` stays ``""``).

    ``fmt`` is as for :func:`statetostr`; e.g. ``"COMPLETED"`` or ``"CD"``.
    """
    if resultid == "":
        return ""
    if not isinstance(resultid, int):
        return _UNKNOWN_NAMES[_FORMAT_COLUMN.get(fmt[:1], 0)]
    return _lookup_name(_RESULT_NAMES, resultid, fmt)


def statetoemoji(stateid: int) -> str:
    """Return an emoji for job state ``stateid``, or its short name if stdout can't show it."""
    short = statetostr(stateid, "S")
    emoji = _STATE_EMOJI.get(short)
    if emoji is None or not _stdout_can_encode(emoji):
        return short
    return emoji


def resulttoemoji(resultid: int | str) -> str:
    """Return an emoji for job result ``resultid``, or an ASCII face if stdout can't show it.

    An empty result (the job is still active) gives an ideographic space
    (or ``""``).
    """
    emoji, alt = "\u3000", ""
    if resultid != "":
        emoji, alt = _RESULT_EMOJI.get(resulttostr(resultid, "S"), ("?", "?"))
    return emoji if _stdout_can_encode(emoji) else alt


def _is_active(stateid: int) -> bool:
    return bool(stateid & FLUX_JOB_STATE_PENDING or stateid & FLUX_JOB_STATE_RUNNING)


def statustostr(stateid: int, resultid: int | str, fmt: str = "L") -> str:
    """Return the job's state name while it is active, its result name once inactive."""
    if _is_active(stateid):
        return statetostr(stateid, fmt)
    return resulttostr(resultid, fmt)


def statustoemoji(stateid: int, resultid: int | str) -> str:
    """Emoji form of :func:`statustostr`."""
    if _is_active(stateid):
        return statetoemoji(stateid)
    return resulttoemoji(resultid)


def get_username(userid: int) -> str:
    """Return the user name of ``userid``, or the id as a string if it has none."""
    try:
        return pwd.getpwuid(userid).pw_name
    except KeyError:
        return str(userid)


def _strsignal(signum: int) -> str:
    """Describe signal ``signum`` as strsignal(3) does (ValueError when out of range)."""
    desc = signal.strsignal(signum)
    if desc is None:
        raise ValueError(f"invalid signal number {signum}")
    return desc


class ExceptionInfo:
    """The most severe exception a job received.

    Attributes:
        occurred: True if the job received an exception (``""`` when unknown).
        severity: its severity; 0 is fatal.
        type: its type, e.g. ``"cancel"`` or ``"timeout"``.
        note: its human-readable note.
    """

    def __init__(self, occurred: bool | str, severity: int | str, _type: str, note: str) -> None:
        self.occurred = occurred
        self.severity = severity
        self.type = _type
        self.note = note

    def __repr__(self) -> str:
        return (
            f"ExceptionInfo(occurred={self.occurred!r}, severity={self.severity!r}, "
            f"type={self.type!r}, note={self.note!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExceptionInfo):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]


class EmptyObject:
    """A stand-in for a missing value that formats as empty text.

    Any attribute of it is another EmptyObject, so ``info.sched.t_estimate``
    works in a format string even when the job has no such annotation.
    """

    def __getattr__(self, attr: str) -> EmptyObject:
        if attr.startswith("__"):
            # Keep copy/pickle protocol lookups from seeing a bogus method.
            raise AttributeError(attr)
        return EmptyObject()

    def __repr__(self) -> str:
        return ""

    def __str__(self) -> str:
        return ""

    def __format__(self, spec: str) -> str:
        # A numeric presentation type (d, f, ...) cannot apply to "", keep the width.
        return "".__format__(spec.rstrip("bcdoxXeEfFgGn%"))


class AnnotationsInfo:
    """Attribute access to a job's annotations (RFC 27), e.g. ``annotations.sched.reason_pending``.

    Nested objects become AnnotationsInfo too; a missing key reads as an
    :class:`EmptyObject`. ``repr()`` is the annotations as JSON, or ``""``
    when there are none.
    """

    def __init__(self, annotationsDict: Mapping[str, Any]) -> None:  # flux's name
        self.annotationsDict: dict[str, Any] = dict(annotationsDict)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr == "annotationsDict":
            raise AttributeError(attr)
        try:
            value = self.annotationsDict[attr]
        except KeyError:
            return EmptyObject()
        return AnnotationsInfo(value) if isinstance(value, dict) else value

    def __repr__(self) -> str:
        return json.dumps(self.annotationsDict) if self.annotationsDict else ""

    def __str__(self) -> str:
        return repr(self)

    def __format__(self, spec: str) -> str:
        return repr(self).__format__(spec)


class InfoList(list[str]):
    """A list of strings shown comma-separated."""

    def __str__(self) -> str:
        return ",".join(self)

    def __format__(self, spec: str) -> str:
        return str(self).__format__(spec)


class DependencyList(InfoList):
    """A job's outstanding dependencies, with ``begin-time=T`` shown as ``begin@HH:MM``."""

    def __init__(self, items: Iterable[str]) -> None:
        super().__init__(self._display(dep) for dep in items)

    @staticmethod
    def _display(dep: str) -> str:
        if not dep.startswith("begin-time="):
            return dep
        _, _, stamp = dep.partition("=")
        when = datetime.fromtimestamp(float(stamp)).astimezone()
        if when.date() == datetime.today().date():
            text = f"begin@{when:%H:%M}"
        else:
            text = f"begin@{when:%b%d-%H:%M}"
        if when.second > 0:
            text += f":{when:%S}"
        return text


class JobInfo:
    """Information about one job, with derived values computed on first use.

    Built from a ``job-list`` response (or the dictionary
    :meth:`fluxsdk.job.wait.JobResultFuture.get_dict` returns). Every key of
    the response is an attribute (``info.name``, ``info.ntasks``...); keys
    the response lacks read as ``""`` (``0.0`` for timestamps and
    ``duration``). The raw ``state`` and ``result`` numbers are
    ``state_id`` and ``result_id``; ``state`` and ``result`` are their names.
    Reading an attribute that is neither raises ``AttributeError``.

    Attributes computed here include :attr:`id` (a :class:`JobID`),
    :attr:`state`, :attr:`state_single`, :attr:`result`, :attr:`runtime`,
    :attr:`returncode`, :attr:`status`, :attr:`exception` (an
    :class:`ExceptionInfo`), :attr:`annotations`, :attr:`dependencies`,
    :attr:`username`, :attr:`t_remaining`, :attr:`inactive_reason`,
    :attr:`contextual_info` and :attr:`contextual_time`.
    """

    #: Values of the keys a response may lack.
    defaults: ClassVar[dict[str, Any]] = {
        "t_depend": 0.0,
        "t_priority": 0.0,
        "t_sched": 0.0,
        "t_run": 0.0,
        "t_cleanup": 0.0,
        "t_inactive": 0.0,
        "duration": 0.0,
        "expiration": 0.0,
        "name": "",
        "cwd": "",
        "queue": "",
        "project": "",
        "bank": "",
        "ntasks": "",
        "ncores": "",
        "nnodes": "",
        "priority": "",
        "ranks": "",
        "nodelist": "",
        "success": "",
        "result": "",
        "waitstatus": "",
    }

    #: Computed or renamed attributes that :meth:`to_dict` also reports.
    properties: ClassVar[tuple[str, ...]] = (
        "id",
        "t_submit",
        "t_remaining",
        "state",
        "result",
        "username",
        "userid",
        "urgency",
        "runtime",
        "status",
        "returncode",
        "dependencies",
    )

    # The job-list attributes, typed. Each is read from the response (through __getattr__);
    # one the response lacks reads as its default above, or raises AttributeError if it has
    # none. ``state`` and ``result`` are renamed ``state_id`` and ``result_id``.
    id: JobID  #: The job's ID.
    userid: int  #: The job owner's user ID.
    urgency: int  #: The job's urgency (0-31; 16 by default).
    priority: int | str  #: The priority the job got (``""`` unknown).
    state_id: int  #: The job state, a ``FLUX_JOB_STATE_*`` bit.
    result_id: int | str  #: The job result, a ``FLUX_JOB_RESULT_*`` value (``""`` active).
    t_submit: float  #: When the job was submitted.
    t_depend: float  #: When it entered DEPEND (``0.0`` if not yet).
    t_priority: float  #: When it entered PRIORITY (``0.0`` if not yet).
    t_sched: float  #: When it entered SCHED (``0.0`` if not yet).
    t_run: float  #: When it entered RUN, i.e. got its resources (``0.0`` if not yet).
    t_cleanup: float  #: When it entered CLEANUP (``0.0`` if not yet).
    t_inactive: float  #: When it became INACTIVE (``0.0`` if not yet).
    duration: float  #: The time limit it asked for in seconds (``0.0`` none).
    expiration: float  #: When its allocation expires (``0.0`` unknown or none).
    name: str  #: The job's name.
    cwd: str  #: The job's working directory.
    queue: str  #: The queue it was submitted to (``""`` none).
    project: str  #: Its project (``""`` none).
    bank: str  #: Its bank (``""`` none).
    ntasks: int | str  #: How many tasks it runs (``""`` unknown).
    ncores: int | str  #: How many cores it uses (``""`` unknown).
    nnodes: int | str  #: How many nodes it uses (``""`` unknown).
    ranks: str  #: The broker ranks it runs on, an RFC 22 idset (``""`` unknown).
    nodelist: str  #: The hosts it runs on, e.g. ``"node[0-3]"`` (``""`` unknown).
    success: bool | str  #: Whether it completed successfully (``""`` while active).
    waitstatus: int | str  #: Its wait status, as wait(2) gives (``""`` none).
    exception_occurred: bool  #: Whether it received an exception.
    exception_type: str  #: The most severe exception's type.
    exception_severity: int  #: The most severe exception's severity (0 is fatal).
    exception_note: str  #: The most severe exception's note.
    exception: ExceptionInfo  #: The exception fields as one object.
    annotations: AnnotationsInfo  #: Its annotations (RFC 27).
    sched: AnnotationsInfo | EmptyObject  #: ``annotations.sched``.
    user: AnnotationsInfo | EmptyObject  #: ``annotations.user``.
    dependencies: DependencyList  #: Its outstanding dependencies.

    def __init__(self, info_resp: Mapping[str, Any]) -> None:
        combined: dict[str, Any] = dict(self.defaults)
        combined.update(info_resp)
        combined["id"] = JobID(combined["id"])
        # The raw numbers keep their own names so that state/result can be names.
        if "state" in combined:
            combined["state_id"] = combined.pop("state")
        if "result" in combined:
            combined["result_id"] = combined.pop("result")
        combined["exception"] = ExceptionInfo(
            combined.get("exception_occurred", ""),
            combined.get("exception_severity", ""),
            combined.get("exception_type", ""),
            combined.get("exception_note", ""),
        )
        annotations = AnnotationsInfo(combined.get("annotations", {}))
        combined["annotations"] = annotations
        combined["sched"] = annotations.sched
        combined["user"] = annotations.user
        combined["dependencies"] = DependencyList(combined.get("dependencies", []))
        # Stored as _key so computed properties can share names with raw keys.
        for key, value in combined.items():
            setattr(self, f"_{key}", value)

    if not TYPE_CHECKING:  # type checkers see the declared attributes above, and no others

        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("_"):
                raise AttributeError(attr)
            try:
                return self.__dict__[f"_{attr}"]
            except KeyError:
                raise AttributeError(f"invalid JobInfo attribute '{attr}'") from None

    def __repr__(self) -> str:
        return f"JobInfo(id={self.id!r})"

    # -- times ---------------------------------------------------------------------

    def get_runtime(self) -> float:
        """Seconds the job has run: cleanup - run once it ended, now - run while running."""
        t_run: float = self.t_run
        t_cleanup: float = self.t_cleanup
        if t_cleanup > 0 and t_run > 0:
            return t_cleanup - t_run
        if t_run > 0:
            return time.time() - t_run
        return 0.0

    def get_remaining_time(self) -> float:
        """Seconds left before a running job's expiration (0.0 when not running or unknown)."""
        try:
            if str(self.status) != "RUN":
                return 0.0
            left = float(self.expiration) - time.time()
        except (KeyError, AttributeError):
            return 0.0
        return max(left, 0.0)

    @property
    def t_remaining(self) -> float:
        """Seconds left before the job's expiration (0.0 unless it is running)."""
        return self.get_remaining_time()

    @functools.cached_property
    def runtime(self) -> float:
        """Seconds the job has run (see :meth:`get_runtime`)."""
        return self.get_runtime()

    # -- state and result ----------------------------------------------------------

    @functools.cached_property
    def state(self) -> str:
        """The job state's name, e.g. ``"RUN"``."""
        return statetostr(self.state_id)

    @functools.cached_property
    def state_single(self) -> str:
        """The job state's one-letter name, e.g. ``"R"``."""
        return statetostr(self.state_id, "S")

    @functools.cached_property
    def state_emoji(self) -> str:
        """An emoji for the job state."""
        return statetoemoji(self.state_id)

    @functools.cached_property
    def result(self) -> str:
        """The job result's name (``"COMPLETED"``, ``"FAILED"``...), ``""`` while active."""
        return resulttostr(self.result_id)

    @functools.cached_property
    def result_abbrev(self) -> str:
        """The job result's short name, e.g. ``"CD"``."""
        return resulttostr(self.result_id, "S")

    @functools.cached_property
    def result_emoji(self) -> str:
        """An emoji for the job result."""
        return resulttoemoji(self.result_id)

    @functools.cached_property
    def status(self) -> str:
        """The state name while active, the result name once inactive."""
        return statustostr(self.state_id, self.result_id)

    @functools.cached_property
    def status_abbrev(self) -> str:
        """Short form of :attr:`status`."""
        return statustostr(self.state_id, self.result_id, "S")

    @functools.cached_property
    def status_emoji(self) -> str:
        """Emoji form of :attr:`status`."""
        return statustoemoji(self.state_id, self.result_id)

    @functools.cached_property
    def username(self) -> str:
        """The name of the job's owner."""
        return get_username(self.userid)

    @functools.cached_property
    def uri(self) -> str | None:
        """The URI of the Flux instance this job runs (``annotations.user.uri``), if any."""
        value = str(self.user.uri)
        return value or None

    @functools.cached_property
    def returncode(self) -> int | str:
        """The job's return code, or ``""`` while it has none.

        It is the largest exit code of the job's tasks, or minus the signal
        number when the job shell was killed by a signal. A job canceled
        before it ran has -128; a job that failed before it ran (a fatal
        exception, no exit status) has 1.
        """
        status = self.waitstatus
        if not isinstance(status, int):
            if self.result_id == FLUX_JOB_RESULT_CANCELED:
                return -128
            if self.result_id == FLUX_JOB_RESULT_FAILED:
                return 1
            return ""
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        return ""

    # -- descriptions --------------------------------------------------------------

    @functools.cached_property
    def contextual_info(self) -> str:
        """What the job is waiting for while pending, or its node list once it ran.

        ``"priority-wait"`` in PRIORITY; ``"depends:<deps>"`` in DEPEND; in
        SCHED ``"eta:<time>"`` when the scheduler estimates a start time,
        ``"held"`` when urgency is 0, ``"priority-hold"`` when priority is 0,
        else ``""``.
        """
        state = str(self.state)
        if state == "PRIORITY":
            return "priority-wait"
        if state == "DEPEND":
            return f"depends:{self.dependencies}"
        if state == "SCHED":
            # A number when the scheduler gave an estimate (an EmptyObject when not).
            estimate: Any = self.sched.t_estimate
            try:
                eta = float(estimate - time.time())
            except TypeError:
                if self.urgency == 0:
                    return "held"
                if self.priority == 0:
                    return "priority-hold"
                return ""
            return f"eta:{'now' if eta < 0 else fsd(eta)}"
        return self.nodelist

    @functools.cached_property
    def contextual_time(self) -> float:
        """The requested duration while pending, the run time afterwards."""
        if str(self.state) in ("PRIORITY", "DEPEND", "SCHED"):
            return float(self.duration)
        return self.runtime

    @functools.cached_property
    def inactive_reason(self) -> str:
        """Why an inactive job ended, e.g. ``"Exit 3"`` or ``"Canceled: <note>"``.

        ``""`` while the job is active.
        """
        if str(self.state) != "INACTIVE":
            return ""
        result = str(self.result)
        exc = self.exception
        if result == "CANCELED":
            if exc.occurred and exc.type == "cancel" and exc.note:
                return f"Canceled: {exc.note}"
            return "Canceled"
        if result == "FAILED":
            # An "exec" exception is explained by the return code instead.
            if exc.occurred and exc.type != "exec" and exc.severity == 0:
                note = f" note={exc.note}" if exc.note else ""
                return f"Exception: type={exc.type}{note}"
            code = self.returncode
            if not isinstance(code, int):
                return f"Exit {code}"
            if code > 128:
                try:
                    return _strsignal(code - 128)
                except ValueError:
                    return f"Signaled {code - 128}"
            if code == 126:
                return "Command invoked cannot execute"
            if code == 127:
                return "command not found"
            if code == 128:
                return "Invalid argument to exit"
            return f"Exit {code}"
        if result == "TIMEOUT":
            return "Timeout"
        return f"Exit {self.returncode}"

    # -- export --------------------------------------------------------------------

    def to_dict(self, filtered: bool = True) -> dict[str, Any]:
        """Return the job's attributes as a dict.

        Keys are those of :attr:`defaults` and :attr:`properties` (with
        ``state``/``result`` as names), plus ``jobid`` (the F58 form, safe for
        JSON parsers that cannot hold 64-bit ints), ``annotations`` and
        ``exception`` as dicts, and ``uri`` when the job is an instance.

        With ``filtered`` (the default) unset values are dropped: empty
        strings, zero timestamps, a zero runtime or expiration, and an
        exception that did not occur becomes ``{"occurred": False}``.
        """
        result: dict[str, Any] = {}
        for attr in chain(self.defaults, self.properties):
            try:
                value = getattr(self, attr)
            except AttributeError:
                continue
            if value is not None:
                result[attr] = value
        result["jobid"] = self.id.f58
        result["annotations"] = dict(self.annotations.annotationsDict)
        result["exception"] = dict(self.exception.__dict__)
        if self.uri is not None:
            result["uri"] = str(self.uri)
        if not filtered:
            return result

        for key in list(result):
            value = result[key]
            zero_is_unset = key.startswith("t_") or key in ("runtime", "expiration")
            if value == "" or (zero_is_unset and value == 0):
                del result[key]
            if key == "exception" and not value["occurred"]:
                result["exception"] = {"occurred": False}

        # The uri is already reported at the top level; don't report it twice.
        if self.uri is not None:
            user = dict(result["annotations"].get("user", {}))
            user.pop("uri", None)
            if user:
                result["annotations"]["user"] = user
            else:
                result["annotations"].pop("user", None)
        return result


# Output-format field -> job-list attributes it needs (flux-jobs(1) field names).
_FIELD_ATTRS: Final[dict[str, tuple[str, ...]]] = {
    "id": (),
    "id.dec": (),
    "id.hex": (),
    "id.f58": (),
    "id.f58plain": (),
    "id.emoji": (),
    "id.kvs": (),
    "id.words": (),
    "id.dothex": (),
    "userid": ("userid",),
    "username": ("userid",),
    "urgency": ("urgency",),
    "priority": ("priority",),
    "state": ("state",),
    "state_single": ("state",),
    "state_emoji": ("state",),
    "name": ("name",),
    "cwd": ("cwd",),
    "queue": ("queue",),
    "project": ("project",),
    "bank": ("bank",),
    "ntasks": ("ntasks",),
    "ncores": ("ncores",),
    "duration": ("duration",),
    "nnodes": ("nnodes",),
    "ranks": ("ranks",),
    "nodelist": ("nodelist",),
    "success": ("success",),
    "waitstatus": ("waitstatus",),
    "returncode": ("waitstatus", "result"),
    "exception.occurred": ("exception_occurred",),
    "exception.severity": ("exception_severity",),
    "exception.type": ("exception_type",),
    "exception.note": ("exception_note",),
    "result": ("result",),
    "result_abbrev": ("result",),
    "result_emoji": ("result",),
    "t_submit": ("t_submit",),
    "t_depend": ("t_depend",),
    "t_priority": ("t_priority",),
    "t_sched": ("t_sched",),
    "t_run": ("t_run",),
    "t_cleanup": ("t_cleanup",),
    "t_inactive": ("t_inactive",),
    "runtime": ("t_run", "t_cleanup"),
    "status": ("state", "result"),
    "status_abbrev": ("state", "result"),
    "status_emoji": ("state", "result"),
    "expiration": ("expiration", "state", "result"),
    "t_remaining": ("expiration", "state", "result"),
    "annotations": ("annotations",),
    "dependencies": ("dependencies",),
    "contextual_info": (
        "state",
        "dependencies",
        "annotations",
        "nodelist",
        "priority",
        "urgency",
    ),
    "contextual_time": ("state", "t_run", "t_cleanup", "duration"),
    "inactive_reason": (
        "state",
        "result",
        "waitstatus",
        "exception_occurred",
        "exception_severity",
        "exception_type",
        "exception_note",
    ),
    "sched": ("annotations",),
    "user": ("annotations",),
    "uri": ("annotations",),
    "uri.local": ("annotations",),
}


def job_fields_to_attrs(fields: Iterable[str]) -> set[str]:
    """Return the ``job-list`` attributes needed to show the output-format ``fields``.

    ``fields`` are flux-jobs(1) format field names (``"id.f58"``,
    ``"runtime"``, ``"annotations.sched.t_estimate"``...). The job id is
    always returned, so it needs no attribute.

    Raises:
        KeyError: a field name is unknown.
    """
    attrs: set[str] = set()
    for field in fields:
        # Annotation keys are free-form, chosen by the scheduler or the user.
        if field.startswith(("annotations.", "sched.", "user.")):
            attrs.update(_FIELD_ATTRS["annotations"])
        elif field.startswith("instance."):
            attrs.update(_FIELD_ATTRS["annotations"])
            attrs.update(_FIELD_ATTRS["status"])
        else:
            attrs.update(_FIELD_ATTRS[field])
    return attrs
