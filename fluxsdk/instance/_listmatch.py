"""job-list constraints (RFC 31), with flux-core's operators, rules and error messages.

A constraint is a JSON object with one operator: ``and``/``or``/``not`` over
constraints, or a test on jobs: ``userid``, ``name``, ``queue``, ``states``,
``results`` (only inactive jobs have one), ``hostlist``, ``ranks``, and
``t_submit`` ... ``t_inactive`` (one ``">=T"``, ``"<=T"``, ``">T"`` or
``"<T"`` comparison). An invalid constraint is ``EPROTO`` with flux's message.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Any, Final

from fluxsdk.idset import IDset
from fluxsdk.instance._broker import RequestError
from fluxsdk.instance._job import Job, State

__all__ = ["compile_constraint", "invalid"]

Test = Callable[[Job], bool]

FLUX_USERID_UNKNOWN: Final = 0xFFFFFFFF
# name -> bits, in each spelling libjob accepts (long/short, upper/lower).
_STATES: Final = {
    name: bits
    for bits, names in (
        (State.NEW, ("NEW", "new", "N", "n")),
        (State.DEPEND, ("DEPEND", "depend", "D", "d")),
        (State.PRIORITY, ("PRIORITY", "priority", "P", "p")),
        (State.SCHED, ("SCHED", "sched", "S", "s")),
        (State.RUN, ("RUN", "run", "R", "r")),
        (State.CLEANUP, ("CLEANUP", "cleanup", "C", "c")),
        (State.INACTIVE, ("INACTIVE", "inactive", "I", "i")),
        (State.PENDING, ("PENDING", "pending", "PD", "pd")),
        (State.RUNNING, ("RUNNING", "running", "RU", "ru")),
        (State.ACTIVE, ("ACTIVE", "active", "A", "a")),
    )
    for name in names
}
_VALID_STATES: Final = State.NEW | State.PENDING | State.RUNNING | State.INACTIVE
_RESULTS: Final = {
    name: bits
    for bits, names in (
        (1, ("COMPLETED", "completed", "CD", "cd")),
        (2, ("FAILED", "failed", "F", "f")),
        (4, ("CANCELED", "canceled", "CA", "ca")),
        (8, ("TIMEOUT", "timeout", "TO", "to")),
    )
    for name in names
}
_VALID_RESULTS: Final = 1 | 2 | 4 | 8
_TIMESTAMPS: Final = (
    "t_submit",
    "t_depend",
    "t_priority",
    "t_sched",
    "t_run",
    "t_cleanup",
    "t_inactive",
)
_COMPARISONS: Final[tuple[tuple[str, Callable[[float, float], bool]], ...]] = (
    (">=", lambda t, v: t >= v),
    ("<=", lambda t, v: t <= v),
    (">", lambda t, v: t > v),
    ("<", lambda t, v: t < v),
)


def invalid(message: str) -> RequestError:
    """The error flux's job-list answers for a bad constraint."""
    return RequestError(errno.EPROTO, f"invalid payload: constraint object invalid: {message}")


def compile_constraint(constraint: Any) -> Test:
    """A job test for ``constraint`` (None or ``{}`` matches every job).

    Raises:
        RequestError: EPROTO, with flux's message, for an invalid constraint.
    """
    if constraint is None:
        return lambda job: True
    if not isinstance(constraint, dict):
        raise invalid("constraint must be JSON object")
    if len(constraint) > 1:
        raise invalid("constraint must only contain 1 element")
    if not constraint:
        return lambda job: True
    ((op, values),) = constraint.items()
    if not isinstance(values, list):
        raise invalid(f"operator {op} values not an array")
    if op in ("and", "or", "not"):
        tests = [compile_constraint(value) for value in values]
        if op == "and":
            return lambda job: all(test(job) for test in tests)
        if op == "or":
            return lambda job: any(test(job) for test in tests)
        return lambda job: not all(test(job) for test in tests)
    if op == "userid":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise invalid("userid value must be an integer")
        users = set(values)
        return lambda job: FLUX_USERID_UNKNOWN in users or job.userid in users
    if op in ("name", "queue"):
        if not all(isinstance(v, str) for v in values):
            raise invalid(f"{op} value must be a string")
        names = set(values)
        if op == "name":
            return lambda job: job.name in names
        return lambda job: job.queue in names
    if op == "states":
        states = _bitmask(values, "states", _STATES, _VALID_STATES)
        return lambda job: bool(job.state & states)
    if op == "results":
        results = _bitmask(values, "results", _RESULTS, _VALID_RESULTS)
        return lambda job: job.state == State.INACTIVE and bool(job.result & results)
    if op == "hostlist":
        hosts = _hosts(values)
        return lambda job: bool(hosts & set(_expand_hostlist(job.nodelist)))
    if op == "ranks":
        ranks = _ranks(values)
        return lambda job: bool(job.ranks) and bool(ranks & set(IDset(job.ranks)))
    if op in _TIMESTAMPS:
        return _timestamp_test(op, values)
    raise invalid(f"unknown constraint operator: {op}")


def _bitmask(values: list[Any], what: str, names: dict[str, int], valid: int) -> int:
    bits = 0
    for value in values:
        if isinstance(value, str):
            if value not in names:
                raise invalid(f"invalid {what} value '{value}' specified")
            bits |= names[value]
        elif isinstance(value, int) and not isinstance(value, bool):
            if value & ~valid:
                raise invalid(f"invalid {what} value '{value:X}h' specified")
            bits |= value
        else:
            raise invalid(f"{what} value invalid type")
    return bits


def _hosts(values: list[Any]) -> set[str]:
    hosts: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise invalid("host value must be a string")
        expanded = _expand_hostlist(value)
        if not expanded:
            raise invalid("host value not in valid Hostlist format")
        hosts.update(expanded)
    return hosts


def _ranks(values: list[Any]) -> set[int]:
    ranks: set[int] = set()
    for value in values:
        if not isinstance(value, str):
            raise invalid("ranks value must be a string")
        try:
            ranks.update(IDset(value))
        except ValueError:
            raise invalid("ranks value not in valid idset format") from None
    return ranks


_HOSTLIST_PART = re.compile(r"[^,\[]+(?:\[[^\]]*\][^,\[]*)*")


def _expand_hostlist(text: str) -> list[str]:
    """The hosts of an RFC 29 hostlist (``node[0-3,7],login``); [] if malformed."""
    hosts: list[str] = []
    for part in _HOSTLIST_PART.findall(text):
        match = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", part)
        if match is None:
            hosts.append(part)
            continue
        prefix, ranges, suffix = match.groups()
        try:
            ids = IDset(ranges)
        except ValueError:
            return []
        width = max((len(r.split("-")[0]) for r in ranges.split(",")), default=0)
        hosts.extend(f"{prefix}{i:0{width}d}{suffix}" for i in ids)
    return hosts


def _timestamp_test(op: str, values: list[Any]) -> Test:
    if not values:
        raise invalid("timestamp value not specified")
    text = values[0]
    if not isinstance(text, str):
        raise invalid(f"{op} value must be a string")
    for prefix, compare in _COMPARISONS:
        if text.startswith(prefix):
            try:
                limit = float(text[len(prefix) :])
            except ValueError:
                raise invalid("Invalid timestamp value specified") from None
            if limit < 0.0:
                raise invalid("timestamp value must be >= 0.0")

            return _compare_time(op, compare, limit)
    raise invalid("timestamp comparison operator not specified")


def _compare_time(op: str, compare: Callable[[float, float], bool], limit: float) -> Test:
    """A test of timestamp ``op`` against ``limit``; jobs not yet there never match."""

    def test(job: Job) -> bool:
        value = getattr(job, op)
        return value is not None and compare(value, limit)

    return test
