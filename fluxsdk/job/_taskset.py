"""Sets of task ranks that may also mean "all tasks", as in ``flux.job.output.Taskset``.

RFC 24 output events carry a ``rank`` that is either an RFC 22 idset of task
ranks or ``"all"``; :class:`Taskset` represents either, so callers can ask
whether an event concerns the tasks they watch without knowing how many tasks
the job has.
"""

from __future__ import annotations

from typing import Union

from fluxsdk.idset import IDset, IDsetLike

__all__ = ["Taskset", "TasksetLike"]

# Spellings of "every task": "all" in RFC 24 events, "*" on command lines.
_ALL_SPELLINGS = ("all", "*")

#: Anything :class:`Taskset` accepts: a Taskset, ``"all"``/``"*"``, or anything
#: :class:`~fluxsdk.idset.IDset` accepts.
TasksetLike = Union["Taskset", IDsetLike]


class Taskset:
    """A set of task ranks, or all tasks.

    ``Taskset("all")`` and ``Taskset("*")`` mean every task of the job (the
    job's size need not be known); anything else is read as an idset of task
    ranks (``"0-3,7"``, an :class:`~fluxsdk.idset.IDset`, an iterable of
    ints...). Another Taskset is copied.

    >>> str(Taskset("*").intersect("0-1"))
    '0-1'
    >>> bool(Taskset("0-3").intersect("4-5"))
    False

    Attributes:
        all: True if this Taskset stands for all tasks.
        ids: the task ranks when :attr:`all` is False, else ``None``.

    Raises:
        InvalidIdsetError: (a ``ValueError``) ``tasks`` is a string that is
            neither ``"all"``/``"*"`` nor a valid idset.
        TypeError: ``tasks`` is of an unsupported type.
    """

    __slots__ = ("all", "ids")

    def __init__(self, tasks: TasksetLike) -> None:
        self.all: bool = False
        self.ids: IDset | None = None
        if isinstance(tasks, Taskset):
            self.all = tasks.all
            self.ids = None if tasks.ids is None else tasks.ids.copy()
        elif isinstance(tasks, str) and tasks in _ALL_SPELLINGS:
            self.all = True
        else:
            # IDset() copies an IDset argument, so ids is never shared.
            self.ids = IDset(tasks)

    def intersect(self, tasks: TasksetLike) -> Taskset:
        """Return the tasks present both here and in ``tasks``.

        ``tasks`` may be anything the constructor accepts. "All" intersected
        with a set is that set; "all" with "all" is "all".
        """
        other = tasks if isinstance(tasks, Taskset) else Taskset(tasks)
        if self.all:
            return Taskset(other)
        if other.all or other.ids is None:
            return Taskset(self)
        assert self.ids is not None  # not "all", so the constructor set ids
        return Taskset(self.ids.intersect(other.ids))

    def __contains__(self, rank: object) -> bool:
        """``rank in taskset``: True for every non-negative int when "all"."""
        if self.all:
            return isinstance(rank, int) and not isinstance(rank, bool) and rank >= 0
        return self.ids is not None and rank in self.ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taskset):
            return NotImplemented
        return self.all == other.all and self.ids == other.ids

    # Mutable (ids may change), so not hashable, like IDset.
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        """True if this is "all" or holds at least one rank."""
        return self.all or (self.ids is not None and len(self.ids) > 0)

    def __str__(self) -> str:
        """``"all"``, or the ranks in ranged idset form, e.g. ``"0-3,7"``."""
        if self.all or self.ids is None:
            return "all"
        return str(self.ids)

    def __repr__(self) -> str:
        return f"Taskset('{self}')"
