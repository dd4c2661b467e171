"""RFC 22 idsets: compact sets of non-negative integer ids, such as ``0-3,7``.

:class:`IDset` mirrors ``flux.idset.IDset`` (same methods, operators, flags
and sentinel values) but is pure Python. It stores a sorted list of disjoint,
non-adjacent ranges rather than every member, so ``IDset("0-1000000")`` costs
one range, and set operations run in time proportional to the number of
ranges.

Parsing follows libidset exactly where RFC 22 leaves room: ids are decimal
without leading zeroes, ranges ``lo-hi`` need ``hi > lo``, elements must
ascend without overlap, one pair of enclosing brackets is allowed, and the
largest id is ``2**31 - 1`` (libidset's universe limit). Unlike libidset, an
empty element (``1,,2``, ``,1``, ``1,``) is rejected, as RFC 22's
comma-delimited grammar does not allow it.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import SupportsIndex, Union, cast

from fluxsdk.errors import InvalidIdsetError

__all__ = [
    "IDSET_FLAG_BRACKETS",
    "IDSET_FLAG_RANGE",
    "IDSET_INVALID_ID",
    "IDset",
    "IDsetLike",
    "decode",
]

#: Encode a set of more than one id inside square brackets: ``[0-3]``.
IDSET_FLAG_BRACKETS = 2
#: Encode runs of consecutive ids as ranges: ``0-3`` rather than ``0,1,2,3``.
IDSET_FLAG_RANGE = 4
#: Returned by :meth:`IDset.first`, :meth:`IDset.last` and :meth:`IDset.next`
#: when there is no such id (the value of libidset's ``IDSET_INVALID_ID``).
IDSET_INVALID_ID = 2**32 - 2

# libidset cannot hold a universe larger than INT_MAX + 1 ids, so no idset
# string with a larger id is usable by Flux; refuse such ids everywhere.
_MAX_ID = 2**31 - 1

_VALID_FLAGS = IDSET_FLAG_BRACKETS | IDSET_FLAG_RANGE

# One element: an id or an ascending range, decimal, no leading zeroes.
_ELEMENT_RE = re.compile(r"(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?")

_EXPECTED = (
    "expected ascending comma-separated ids or ranges of non-negative decimal "
    "integers without leading zeroes, optionally in brackets, e.g. '0-3,7' or '[1,4-5]'"
)

#: Anything :class:`IDset` and its set operations accept as an operand: an
#: idset string, another :class:`IDset`, a single id, or an iterable of ids.
IDsetLike = Union["IDset", str, int, Iterable[int], None]


def _parse(text: str) -> tuple[list[int], list[int]]:
    """Parse an idset string into parallel lists of range bounds."""
    body = text
    if len(body) >= 2 and body[0] == "[" and body[-1] == "]":
        body = body[1:-1]
    if "[" in body or "]" in body:
        raise InvalidIdsetError(
            f"invalid idset {text!r}: mismatched or nested brackets; {_EXPECTED}"
        )
    los: list[int] = []
    his: list[int] = []
    if body == "":
        return los, his
    prev = -1
    for element in body.split(","):
        match = _ELEMENT_RE.fullmatch(element)
        if match is None:
            what = "empty element" if element == "" else f"cannot parse element {element!r}"
            raise InvalidIdsetError(f"invalid idset {text!r}: {what}; {_EXPECTED}")
        lo = int(match[1])
        hi = lo if match[2] is None else int(match[2])
        if hi <= lo and match[2] is not None:
            raise InvalidIdsetError(
                f"invalid idset {text!r}: range {element!r} does not ascend; "
                "expected lo-hi with hi greater than lo"
            )
        if lo <= prev:
            raise InvalidIdsetError(
                f"invalid idset {text!r}: element {element!r} is out of order; "
                "expected each id or range to be greater than the one before"
            )
        if hi > _MAX_ID:
            raise InvalidIdsetError(
                f"invalid idset {text!r}: id {hi} exceeds the maximum id {_MAX_ID}"
            )
        prev = hi
        # "1-3,4" is one run internally: keep ranges non-adjacent.
        if his and his[-1] + 1 == lo:
            his[-1] = hi
        else:
            los.append(lo)
            his.append(hi)
    return los, his


def _as_int(value: object, name: str) -> int:
    """Return ``value`` as a Python int (any integer type but bool), or raise TypeError."""
    if not isinstance(value, bool):
        try:
            # operator.index() admits int and integer-like types (e.g. numpy
            # integers) but not floats or strings, matching numbers.Integral.
            return operator.index(cast(SupportsIndex, value))
        except TypeError:
            pass
    raise TypeError(f"IDset.{name}() expects an integer id, not {type(value).__name__}")


def _check_id(value: object, name: str) -> int:
    """Return ``value`` as an id, or raise naming the method it was passed to."""
    i = _as_int(value, name)
    if i < 0:
        raise InvalidIdsetError(f"IDset.{name}(): id {i} is negative; ids must be >= 0")
    if i > _MAX_ID:
        raise InvalidIdsetError(f"IDset.{name}(): id {i} exceeds the maximum id {_MAX_ID}")
    return i


class IDset:
    """A set of non-negative integer ids with RFC 22 string encoding.

    Create one from an idset string (``"0-3,7"``, ``"[1-2]"``, ``""``), from
    another :class:`IDset` (a copy), from a single id, from any iterable of
    non-negative ints, or from ``None`` (empty)::

        >>> IDset("0-3") == IDset([0, 1, 2, 3]) == IDset(range(4))
        True
        >>> str(IDset([7, 0, 1, 2, 3]))
        '0-3,7'

    Iteration yields ids in ascending order. ``str()`` encodes with the
    instance's default flags (:data:`IDSET_FLAG_RANGE` unless ``flags`` says
    otherwise). Operators: ``|`` and ``+`` (union), ``&`` (intersection),
    ``-`` (difference), and in place ``+=`` and ``-=``; their operands may be
    anything the constructor accepts. IDsets are mutable and so unhashable.

    Args:
        arg: the initial members (see above).
        flags: default encoding flags for ``str()`` and :meth:`encode`.

    Raises:
        InvalidIdsetError: (a ``ValueError``) ``arg`` is a malformed idset
            string or holds a negative or too-large id.
        TypeError: ``arg`` is of an unsupported type or holds a non-integer.
    """

    __slots__ = ("_count", "_his", "_los", "default_flags")

    # Declared here (not just via __eq__) so type checkers see it unhashable.
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, arg: IDsetLike = "", flags: int = IDSET_FLAG_RANGE) -> None:
        self.default_flags: int = _check_flags(flags)
        self._los: list[int]
        self._his: list[int]
        if arg is None:
            self._los, self._his = [], []
        elif isinstance(arg, IDset):
            self._los, self._his = list(arg._los), list(arg._his)
        elif isinstance(arg, str):
            self._los, self._his = _parse(arg)
        elif isinstance(arg, int) and not isinstance(arg, bool):
            i = _check_id(arg, "__init__")
            self._los, self._his = [i], [i]
        elif isinstance(arg, range) and arg.step == 1:
            # Contiguous ranges need no per-id work: IDset(range(10**9)) is cheap.
            self._los, self._his = [], []
            if len(arg) > 0:
                lo = _check_id(arg.start, "__init__")
                hi = _check_id(arg.stop - 1, "__init__")
                self._los, self._his = [lo], [hi]
        elif isinstance(arg, Iterable) and not isinstance(arg, (bytes, bytearray)):
            # bytes iterate as ints, which would silently misread b"0-3".
            self._los, self._his = _ranges_from_ids(arg)
        else:
            raise TypeError(
                "IDset() expects an idset string, an IDset, an int or an iterable "
                f"of ints, not {type(arg).__name__}"
            )
        self._count = sum(self._his) - sum(self._los) + len(self._los)

    @classmethod
    def _from_ranges(cls, los: list[int], his: list[int], flags: int) -> IDset:
        result = cls.__new__(cls)
        result.default_flags = flags
        result._los = los
        result._his = his
        result._count = sum(his) - sum(los) + len(los)
        return result

    # -- encoding -----------------------------------------------------------

    def encode(self, flags: int | None = None) -> str:
        """Return the RFC 22 string form of the set.

        Args:
            flags: a bitwise OR of :data:`IDSET_FLAG_RANGE` (compress runs
                into ``lo-hi``) and :data:`IDSET_FLAG_BRACKETS` (enclose in
                ``[]`` when the set has more than one id); ``None`` uses
                :attr:`default_flags`, ``0`` lists every id.

        Returns:
            The encoded set, ``""`` when empty.

        Raises:
            ValueError: ``flags`` holds a bit other than the two above.
        """
        flags = self.default_flags if flags is None else _check_flags(flags)
        if flags & IDSET_FLAG_RANGE:
            body = ",".join(
                str(lo) if lo == hi else f"{lo}-{hi}"
                for lo, hi in zip(self._los, self._his, strict=True)
            )
        else:
            body = ",".join(map(str, self))
        if flags & IDSET_FLAG_BRACKETS and self._count > 1:
            return f"[{body}]"
        return body

    def set_flags(self, flags: int) -> None:
        """Set the default flags :meth:`encode` and ``str()`` use."""
        self.default_flags = _check_flags(flags)

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"IDset('{self.encode(IDSET_FLAG_RANGE)}')"

    # -- membership and queries --------------------------------------------

    def _index(self, i: int) -> int:
        """Index of the range holding ``i``, or -1."""
        j = bisect_right(self._los, i) - 1
        return j if j >= 0 and self._his[j] >= i else -1

    def test(self, i: int) -> bool:
        """Return True if id ``i`` is in the set.

        Raises:
            TypeError: ``i`` is not an integer.
            InvalidIdsetError: ``i`` is negative.
        """
        k = _as_int(i, "test")
        if k < 0:
            raise InvalidIdsetError(f"IDset.test(): id {k} is negative; ids must be >= 0")
        return self._index(k) >= 0

    def __contains__(self, i: object) -> bool:
        """``i in ids`` is ``ids.test(i)``: a bad id raises rather than answering False.

        Raises:
            TypeError: ``i`` is not an integer (as in ``flux.idset``).
            InvalidIdsetError: ``i`` is negative.
        """
        return self.test(cast(int, i))

    def __getitem__(self, i: int) -> bool:
        """``ids[i]`` is ``ids.test(i)``."""
        return self.test(i)

    def __setitem__(self, i: int, value: bool | int) -> None:
        """``ids[i] = True`` sets id ``i``; ``ids[i] = False`` clears it."""
        if not isinstance(value, int) or value not in (0, 1):
            raise TypeError(f"IDset item value must be a bool or 0/1, not {value!r}")
        if value:
            self.set(i)
        else:
            self.clear(i)

    def count(self) -> int:
        """Return the number of ids in the set."""
        return self._count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self._los, self._his, strict=True):
            yield from range(lo, hi + 1)

    def expand(self) -> list[int]:
        """Return every id in the set as an ascending list."""
        return list(self)

    def first(self) -> int:
        """Return the smallest id, or :data:`IDSET_INVALID_ID` if empty."""
        return self._los[0] if self._los else IDSET_INVALID_ID

    def last(self) -> int:
        """Return the largest id, or :data:`IDSET_INVALID_ID` if empty."""
        return self._his[-1] if self._his else IDSET_INVALID_ID

    def next(self, i: int) -> int:
        """Return the smallest id greater than ``i``, or :data:`IDSET_INVALID_ID`.

        Raises:
            TypeError: ``i`` is not an integer.
            InvalidIdsetError: ``i`` is negative.
        """
        k = _as_int(i, "next")
        if k < 0:
            raise InvalidIdsetError(f"IDset.next(): id {k} is negative; ids must be >= 0")
        k += 1
        j = bisect_right(self._los, k) - 1
        if j >= 0 and self._his[j] >= k:
            return k
        return self._los[j + 1] if j + 1 < len(self._los) else IDSET_INVALID_ID

    def copy(self) -> IDset:
        """Return an independent copy (with the same default flags)."""
        return IDset._from_ranges(list(self._los), list(self._his), self.default_flags)

    def equal(self, idset: IDset) -> bool:
        """Return True if ``idset`` holds exactly the same ids.

        Raises:
            TypeError: ``idset`` is not an :class:`IDset`.
        """
        if not isinstance(idset, IDset):
            raise TypeError(f"IDset.equal() expects an IDset, not {type(idset).__name__}")
        return self._los == idset._los and self._his == idset._his

    def __eq__(self, other: object) -> bool:
        """``a == b`` is ``a.equal(b)``.

        Comparing with anything but an :class:`IDset` raises TypeError, as
        ``flux.idset`` does, rather than quietly answering False.
        """
        return self.equal(cast(IDset, other))

    def __ne__(self, other: object) -> bool:
        return not self.equal(cast(IDset, other))

    # -- mutation -----------------------------------------------------------

    def _range_set(self, lo: int, hi: int) -> None:
        los, his = self._los, self._his
        # Ranges overlapping or touching [lo, hi] all merge into one.
        left = bisect_left(his, lo - 1)
        right = bisect_right(los, hi + 1)
        if left < right:
            removed = sum(his[left:right]) - sum(los[left:right]) + (right - left)
            lo = min(lo, los[left])
            hi = max(hi, his[right - 1])
        else:
            removed = 0
        los[left:right] = [lo]
        his[left:right] = [hi]
        self._count += hi - lo + 1 - removed

    def _range_clear(self, lo: int, hi: int) -> None:
        los, his = self._los, self._his
        left = bisect_left(his, lo)
        right = bisect_right(los, hi)
        if left >= right:
            return
        removed = sum(his[left:right]) - sum(los[left:right]) + (right - left)
        new_los: list[int] = []
        new_his: list[int] = []
        # Keep whatever sticks out on either side of the cleared span.
        if los[left] < lo:
            new_los.append(los[left])
            new_his.append(lo - 1)
        if his[right - 1] > hi:
            new_los.append(hi + 1)
            new_his.append(his[right - 1])
        los[left:right] = new_los
        his[left:right] = new_his
        self._count += sum(new_his) - sum(new_los) + len(new_los) - removed

    def set(self, start: int, end: int | None = None) -> IDset:
        """Add id ``start``, or every id from ``start`` to ``end`` inclusive.

        Returns:
            ``self``, so calls chain: ``IDset().set(0, 3).set(7)``.

        Raises:
            TypeError: an argument is not an integer.
            InvalidIdsetError: an id is negative or too large, or ``end < start``.
        """
        lo = _check_id(start, "set")
        hi = lo if end is None else _check_id(end, "set")
        if hi < lo:
            raise InvalidIdsetError(f"IDset.set(): cannot set range {lo}-{hi}: start > end")
        self._range_set(lo, hi)
        return self

    def clear(self, start: int, end: int | None = None) -> IDset:
        """Remove id ``start``, or every id from ``start`` to ``end`` inclusive.

        Clearing ids that are not members is not an error.

        Returns:
            ``self``, so calls chain.

        Raises:
            TypeError: an argument is not an integer.
            InvalidIdsetError: an id is negative or too large, or ``end < start``.
        """
        lo = _check_id(start, "clear")
        hi = lo if end is None else _check_id(end, "clear")
        if hi < lo:
            raise InvalidIdsetError(f"IDset.clear(): cannot clear range {lo}-{hi}: start > end")
        self._range_clear(lo, hi)
        return self

    def add(self, arg: IDsetLike) -> IDset:
        """Add every id in ``arg`` (anything the constructor accepts) in place.

        Returns:
            ``self``.
        """
        other = _as_idset(arg)
        self._los, self._his = _union(self._los, self._his, other._los, other._his)
        self._count = sum(self._his) - sum(self._los) + len(self._los)
        return self

    def subtract(self, arg: IDsetLike) -> IDset:
        """Remove every id in ``arg`` (anything the constructor accepts) in place.

        Returns:
            ``self``.
        """
        other = _as_idset(arg)
        self._los, self._his = _difference(self._los, self._his, other._los, other._his)
        self._count = sum(self._his) - sum(self._los) + len(self._los)
        return self

    # -- set algebra returning new sets --------------------------------------

    def union(self, *args: IDsetLike) -> IDset:
        """Return a new set holding the ids of this set and of every argument."""
        los, his = self._los, self._his
        for arg in args:
            other = _as_idset(arg)
            los, his = _union(los, his, other._los, other._his)
        return IDset._from_ranges(list(los), list(his), self.default_flags)

    def intersect(self, *args: IDsetLike) -> IDset:
        """Return a new set holding the ids present in this set and every argument."""
        los, his = self._los, self._his
        for arg in args:
            other = _as_idset(arg)
            los, his = _intersect(los, his, other._los, other._his)
        return IDset._from_ranges(list(los), list(his), self.default_flags)

    def difference(self, *args: IDsetLike) -> IDset:
        """Return a new set holding the ids of this set that are in no argument."""
        los, his = self._los, self._his
        for arg in args:
            other = _as_idset(arg)
            los, his = _difference(los, his, other._los, other._his)
        return IDset._from_ranges(list(los), list(his), self.default_flags)

    def __or__(self, arg: IDsetLike) -> IDset:
        return self.union(arg)

    def __add__(self, arg: IDsetLike) -> IDset:
        return self.union(arg)

    def __and__(self, arg: IDsetLike) -> IDset:
        return self.intersect(arg)

    def __sub__(self, arg: IDsetLike) -> IDset:
        return self.difference(arg)

    def __iadd__(self, arg: IDsetLike) -> IDset:
        return self.add(arg)

    def __isub__(self, arg: IDsetLike) -> IDset:
        return self.subtract(arg)


def _check_flags(flags: int) -> int:
    if not isinstance(flags, int) or flags & ~_VALID_FLAGS:
        raise ValueError(
            f"invalid idset encode flags {flags!r}: expected a combination of "
            "IDSET_FLAG_RANGE and IDSET_FLAG_BRACKETS"
        )
    return flags


def _as_idset(arg: IDsetLike) -> IDset:
    return arg if isinstance(arg, IDset) else IDset(arg)


def _ranges_from_ids(ids: Iterable[object]) -> tuple[list[int], list[int]]:
    values = [_check_id(i, "__init__") for i in ids]
    values.sort()
    los: list[int] = []
    his: list[int] = []
    for v in values:
        if his and v <= his[-1] + 1:
            # Duplicates and consecutive ids extend the current run.
            if v > his[-1]:
                his[-1] = v
        else:
            los.append(v)
            his.append(v)
    return los, his


def _union(
    alo: list[int], ahi: list[int], blo: list[int], bhi: list[int]
) -> tuple[list[int], list[int]]:
    los: list[int] = []
    his: list[int] = []
    i = j = 0
    while i < len(alo) or j < len(blo):
        # Take whichever range starts first, then merge it into the output.
        if j >= len(blo) or (i < len(alo) and alo[i] <= blo[j]):
            lo, hi = alo[i], ahi[i]
            i += 1
        else:
            lo, hi = blo[j], bhi[j]
            j += 1
        if his and lo <= his[-1] + 1:
            if hi > his[-1]:
                his[-1] = hi
        else:
            los.append(lo)
            his.append(hi)
    return los, his


def _intersect(
    alo: list[int], ahi: list[int], blo: list[int], bhi: list[int]
) -> tuple[list[int], list[int]]:
    los: list[int] = []
    his: list[int] = []
    i = j = 0
    while i < len(alo) and j < len(blo):
        lo = max(alo[i], blo[j])
        hi = min(ahi[i], bhi[j])
        if lo <= hi:
            los.append(lo)
            his.append(hi)
        # Advance the range that ends first; the other may overlap more.
        if ahi[i] < bhi[j]:
            i += 1
        else:
            j += 1
    return los, his


def _difference(
    alo: list[int], ahi: list[int], blo: list[int], bhi: list[int]
) -> tuple[list[int], list[int]]:
    los: list[int] = []
    his: list[int] = []
    j = 0
    for lo, hi in zip(alo, ahi, strict=True):
        # Skip subtrahend ranges entirely below this range.
        while j < len(blo) and bhi[j] < lo:
            j += 1
        k = j
        cur = lo
        while k < len(blo) and blo[k] <= hi:
            if blo[k] > cur:
                los.append(cur)
                his.append(blo[k] - 1)
            cur = max(cur, bhi[k] + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            los.append(cur)
            his.append(hi)
    return los, his


def decode(string: str) -> IDset:
    """Decode an RFC 22 idset string into a new :class:`IDset`.

    Raises:
        InvalidIdsetError: ``string`` is not a valid idset.
    """
    if not isinstance(string, str):
        raise TypeError(f"decode() expects an idset string, not {type(string).__name__}")
    return IDset(string)
