"""Tabular output for command-line tools, as ``flux.util.OutputFormat``.

An :class:`OutputFormat` is a Python format string over the attributes of the
items to print (``"{id:>8} {name:<10.10}"``), checked against a table of
column headings, with flux's extensions:

* conversions ``!d`` (timestamp -> :class:`~fluxsdk._humantime.UtilDatetime`),
  ``!D`` (timestamp -> ISO 8601), ``!F`` (seconds -> RFC 23 duration),
  ``!H`` (seconds -> ``H:MM:SS``), ``!P`` (fraction -> percentage);
* spec suffixes ``h`` (show an empty value as ``-``) and ``+`` (end a
  truncated value with ``+``);
* field prefixes ``?:`` (drop the column when empty for every item), ``+:``
  (widen the column to its widest value) and ``?+:`` (both), applied by
  :meth:`OutputFormat.filter`;
* a ``sort:KEY[,-KEY...]`` prefix naming the sort order of
  :meth:`OutputFormat.sort_items`, where values sort by :class:`DisplayValue`.
"""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping, MutableSequence, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

from fluxsdk._humantime import UtilDatetime
from fluxsdk.errors import InvalidInputError

__all__ = ["AltField", "DisplayValue", "OutputFormat", "UtilFormatter", "empty_outputs"]

_T = TypeVar("_T")
_SENTINELS = ("?+:", "?:", "+:")  # longest first, so "?+:" is not read as "+:"


def empty_outputs() -> tuple[str, ...]:
    """Formatted values that count as empty for the ``?:`` prefix and the ``h`` suffix."""
    epoch = datetime.fromtimestamp(0.0).strftime("%FT%T")
    return ("", "0s", "0.0", "0:00:00", "1970-01-01T00:00:00", epoch)


def _fsd(value: Any) -> str:
    from fluxsdk.util import fsd  # fluxsdk.util re-exports this module

    return fsd(value)


class UtilFormatter(string.Formatter):
    """A :class:`string.Formatter` with flux's conversions and spec suffixes (see module)."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion not in ("d", "D", "F", "H", "P"):
            return super().convert_field(value, conversion)
        if value == "":  # an unset value stays empty under any conversion
            return UtilDatetime.fromtimestamp(0.0) if conversion == "d" else ""
        if conversion == "d":
            return UtilDatetime.fromtimestamp(value)
        if conversion == "D":
            return datetime.fromtimestamp(value).strftime("%FT%T") if value else ""
        if conversion == "F":
            return _fsd(value)
        if conversion == "H":
            return str(timedelta(seconds=round(1 if 0 < value < 1 else value)))
        percent = value * 100
        return f"{percent:.2f}%" if 0 < percent < 1 else f"{percent:.3g}%"

    def format_field(self, value: Any, format_spec: str) -> str:
        mark_truncation = format_spec.endswith("+")
        if mark_truncation:
            format_spec = format_spec[:-1]
        # A UtilDatetime handles "h" itself, after its strftime part.
        if format_spec.endswith("h") and not isinstance(value, UtilDatetime):
            value = "-" if str(value) in empty_outputs() else str(value)
            format_spec = format_spec[:-1] + "s"
        text: str = super().format_field(value, format_spec)
        if mark_truncation and len(text) < len(str(value)):
            text = text[:-1] + "+"
        return text


class AltField:
    """A value with an ASCII alternative: formats as ``default``; ``{x.ascii}`` picks the other."""

    def __init__(self, default: str, ascii: str) -> None:
        self.default = default
        self.ascii = ascii

    def __str__(self) -> str:
        return self.default

    def __format__(self, fmt: str) -> str:
        return format(self.default, fmt)


@functools.total_ordering
class DisplayValue:
    """A sort key for displayed values of mixed types.

    Unset values (None, ``""``, ``"-"``) sort first and equal each other;
    then numbers, including bools and strings that read as numbers
    (``"10"`` equals ``10``); then other strings, alphabetically.
    """

    __slots__ = ("_sort_value", "_type_order", "value")

    EMPTY: ClassVar[int] = 0
    NUMERIC: ClassVar[int] = 1
    STRING: ClassVar[int] = 2

    def __init__(self, value: Any) -> None:
        self.value = value
        self._sort_value: float | str
        if value is None or (isinstance(value, str) and value in ("", "-")):
            self._type_order, self._sort_value = self.EMPTY, 0.0
            return
        try:
            self._type_order, self._sort_value = self.NUMERIC, float(value)
            return
        except (TypeError, ValueError):
            pass
        try:
            self._type_order, self._sort_value = self.NUMERIC, float(str(value))
        except ValueError:
            self._type_order, self._sort_value = self.STRING, str(value)

    def _key(self) -> tuple[int, float | str]:
        return self._type_order, self._sort_value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DisplayValue):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: DisplayValue) -> bool:
        # Within one type order both sort values have the same type.
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"DisplayValue({self.value!r}, type_order={self._type_order}, "
            f"sort_value={self._sort_value!r})"
        )


_SPEC_RE = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[- +])?(?P<pos_zero>z)?(?P<alt>\#)?"
    r"(?P<zero_pad>0)?(?P<width_str>\d+)?(?P<grouping>[_,])?"
    r"(?:(?P<decimal>\.)(?P<precision_str>\d+))?(?P<type>[bcdeEfFgGnosxX%])?"
    r"(?P<hyphen>h)?(?P<truncate>\+)?",
    re.DOTALL,
)


class _Entry:
    """One piece of a parsed format: literal text, then optionally a field."""

    __slots__ = ("conv", "field", "spec", "text")

    def __init__(self, text: str, field: str, spec: str, conv: str) -> None:
        self.text, self.field, self.spec, self.conv = text, field, spec, conv

    def render(
        self, text: str | None = None, field: str | None = None, spec: str | None = None
    ) -> str:
        """The entry as format-string text, with any part replaced."""
        text = self.text if text is None else text
        field = self.field if field is None else field
        spec = self.spec if spec is None else spec
        if not field:
            return text
        conv = f"!{self.conv}" if self.conv else ""
        return f"{text}{{{field}{conv}{':' + spec if spec else ''}}}"


class OutputFormat:
    """A checked output format for items whose attributes are the fields (see module).

    Args:
        fmt: the format, e.g. ``"sort:-t {id:>8} ?:{name}"``.
        headings: field name -> column heading; every field must have one
            (a subclass may set the class attribute instead).
        prepend: prefix added to each field in :meth:`get_format` (the
            default ``"0."`` formats the first positional argument's
            attributes).

    Raises:
        InvalidInputError: a field or sort key has no heading.
    """

    formatter: ClassVar[type[UtilFormatter]] = UtilFormatter
    headings: Mapping[str, str] = {}
    prepend: str = "0."
    _SORT_RE: ClassVar[re.Pattern[str]] = re.compile(r"sort:([^{\s]+)( ?)")

    class HeaderFormatter(UtilFormatter):
        """Formats the header row: a field's value is its heading, looked up by full name."""

        def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
            if field_name in kwargs:
                return kwargs[field_name], None
            return super().get_field(field_name, args, kwargs)

    class FormatSpec:
        """A format spec split into its parts, so a width can be changed.

        Parts: ``fill align sign pos_zero alt zero_pad width_str grouping
        decimal precision_str type`` as in Python, and flux's ``hyphen``
        (``h``) and ``truncate`` (``+``). For a datetime spec
        (``%H:%M::>8``) only the part after ``::`` is read.
        """

        components: ClassVar[tuple[str, ...]] = (
            "fill",
            "align",
            "sign",
            "pos_zero",
            "alt",
            "zero_pad",
            "width_str",
            "grouping",
            "decimal",
            "precision_str",
            "type",
            "hyphen",
            "truncate",
        )

        fill: str
        align: str
        sign: str
        pos_zero: str
        alt: str
        zero_pad: str
        width_str: str
        grouping: str
        decimal: str
        precision_str: str
        type: str
        hyphen: str
        truncate: str

        def __init__(self, spec: str) -> None:
            if "::" in spec:
                spec = spec[spec.index("::") + 2 :]
            match = _SPEC_RE.fullmatch(spec)
            parts = match.groupdict() if match else {}
            for name in self.components:
                setattr(self, name, parts.get(name) or "")

        @property
        def width(self) -> int | str:
            """The minimum width, or ``""`` when none is given."""
            return int(self.width_str) if self.width_str else ""

        @width.setter
        def width(self, value: int) -> None:
            self.width_str = str(value)
            # A string precision narrower than the new width would cut values.
            if self.type in ("", "s") and 0 < self.precision < value:
                self.precision = value

        @property
        def precision(self) -> int:
            """The precision, or 0 when none is given."""
            return int(self.precision_str) if self.precision_str else 0

        @precision.setter
        def precision(self, value: int) -> None:
            self.precision_str = str(value)

        def __str__(self) -> str:
            return "".join(getattr(self, name) for name in self.components)

    def __init__(
        self,
        fmt: str,
        headings: Mapping[str, str] | None = None,
        prepend: str = "0.",
        nullify_expansion_sentinel: bool = False,
    ) -> None:
        if headings is not None:
            self.headings = headings
        self.prepend = prepend
        self.sort_keys: list[tuple[str, bool]] = []
        self._sort_space = True
        match = self._SORT_RE.match(fmt)
        if match:
            self.set_sort_keys(match.group(1))
            self._sort_space = bool(match.group(2))
            fmt = fmt[match.end() :]
        self._entries = [
            _Entry(text or "", field or "", spec or "", conv or "")
            for text, field, spec, conv in string.Formatter().parse(fmt)
        ]
        if nullify_expansion_sentinel:
            fmt = self.get_format_prepended("", nullify_expansion_sentinel=True)
            self._entries = OutputFormat(fmt, headings=self.headings)._entries
        self.fmt_orig = fmt
        self._fields = [entry.field for entry in self._entries if entry.field]
        for field in self._fields:
            name = field[2:] if field.startswith("0.") else field
            if name not in self.headings:
                raise InvalidInputError(f"Unknown format field: {name}")
        self.fmt = self.get_format_prepended(self.prepend, include_sort_prefix=False)

    @property
    def format_list(self) -> list[list[str]]:
        """The parsed format: ``[text, field, spec, conversion]`` per piece."""
        return [[e.text, e.field, e.spec, e.conv] for e in self._entries]

    @property
    def fields(self) -> list[str]:
        """The fields the format and its sort keys use."""
        return list({*self._fields, *(key for key, _ in self.sort_keys)})

    def _sort_prefix(self) -> str:
        if not self.sort_keys:
            return ""
        keys = ",".join(f"-{key}" if reverse else key for key, reverse in self.sort_keys)
        return f"sort:{keys}{' ' if self._sort_space else ''}"

    def get_format(self, orig: bool = False, include_sort_prefix: bool = True) -> str:
        """The format (with fields prepended, unless ``orig``), optionally with its sort prefix."""
        fmt = self.fmt_orig if orig else self.fmt
        return self._sort_prefix() + fmt if include_sort_prefix else fmt

    def get_format_prepended(
        self,
        prepend: str,
        except_fields: Iterable[str] | None = None,
        include_sort_prefix: bool = True,
        nullify_expansion_sentinel: bool = False,
    ) -> str:
        """The format with ``prepend`` before each field name.

        Fields in ``except_fields`` are left out (with their prefix text
        when it is only spacing or a ``?:``/``+:`` sentinel).
        ``nullify_expansion_sentinel`` turns ``+:{f:<10.10}`` into ``{f}``.
        """
        skip = set(except_fields or ())
        pieces = []
        for entry in self._entries:
            if entry.field in skip:
                kept = entry.text.strip()
                if kept and kept not in _SENTINELS:
                    pieces.append(entry.text)
                continue
            field = entry.field
            if field and not field.startswith(prepend):
                field = prepend + field
            if nullify_expansion_sentinel and entry.text.endswith("+:"):
                pieces.append(entry.render(text="", field=field, spec=""))
            else:
                pieces.append(entry.render(field=field))
        return (self._sort_prefix() if include_sort_prefix else "") + "".join(pieces)

    def header_format(self) -> str:
        """The format for the header row: each field keeps only its alignment and width."""
        pieces = []
        for entry in self._entries:
            spec = self.FormatSpec(entry.spec)
            pieces.append(_Entry(entry.text, entry.field, f"{spec.align}{spec.width}", "").render())
        return "".join(pieces)

    @staticmethod
    def _calculate_width(width: int) -> int:
        if width == 0:
            try:
                return os.get_terminal_size().columns
            except OSError:
                return -1
        return width

    def header(self, width: int = -1) -> str:
        """The header row; cut to ``width`` columns if > 0 (0: the terminal's width)."""
        row = self.HeaderFormatter().format(self.header_format(), **self.headings)
        width = self._calculate_width(width)
        if width > 0 and len(row) > width:
            row = row[: width - 1] + "+"
        return row

    def copy(
        self, except_fields: Iterable[str] | None = None, nullify_expansion: bool = False
    ) -> OutputFormat:
        """A new format like this one, less ``except_fields``, optionally without ``+:`` widths."""
        fmt = self.get_format_prepended(
            "", except_fields, nullify_expansion_sentinel=nullify_expansion
        )
        return type(self)(fmt, headings=self.headings, prepend=self.prepend)

    def format(self, obj: Any) -> str:
        """Format one item.

        Raises:
            KeyError: the format names a field the item lacks.
        """
        try:
            return self.formatter().format(self.get_format(include_sort_prefix=False), obj)
        except KeyError as exc:
            raise KeyError(f"Invalid format field {exc} for {type(obj)}") from None

    def filter(self, items: Iterable[Any], no_header: bool = False) -> str:
        """Apply the ``?:``, ``+:`` and ``?+:`` prefixes for ``items``; return the new format.

        ``?:`` fields that are empty for every item are dropped with their
        prefix text; ``+:`` fields get the width of their widest value (and
        of their heading, unless ``no_header``). The result keeps any sort
        prefix; its fields are not prepended.
        """
        marked: dict[int, tuple[str, OutputFormat.FormatSpec, int]] = {}
        for index, entry in enumerate(self._entries):
            sentinel = next((s for s in _SENTINELS if entry.text.endswith(s)), None)
            if sentinel is None or not entry.field:
                continue
            spec = self.FormatSpec(entry.spec)
            least = spec.width or 0
            if "+" in sentinel and not no_header:
                least = max(least, len(self.headings.get(entry.field, "")))
            assert isinstance(least, int)
            marked[index] = (sentinel, spec, least)
        if not marked:
            return self.get_format(orig=True)
        formatter, empty = self.formatter(), empty_outputs()
        widest = dict.fromkeys(marked, 0)
        items = list(items)
        for index in marked:
            bare = self._entries[index].render(
                text="", field="0." + self._entries[index].field, spec=""
            )
            for item in items:
                text = formatter.format(bare, item)
                widest[index] = max(widest[index], 0 if text in empty else len(text))
        pieces = []
        for index, entry in enumerate(self._entries):
            text, spec_text = entry.text, entry.spec
            if index in marked:
                sentinel, spec, least = marked[index]
                if widest[index] == 0 and "?" in sentinel:
                    continue
                if "+" in sentinel:
                    spec.width = max(least, widest[index])
                    spec_text = str(spec)
            for sentinel in _SENTINELS:
                text = text.replace(sentinel, "")
            pieces.append(entry.render(text=text, spec=spec_text))
        return self._sort_prefix() + "".join(pieces)

    def set_sort_keys(self, sort_keys: str) -> None:
        """Set the sort order from ``"KEY[,-KEY...]"`` (``-`` reverses; empty keys are skipped).

        Raises:
            InvalidInputError: a key has no heading.
        """
        keys = []
        for key in (k.strip() for k in sort_keys.split(",")):
            if not key:
                continue
            reverse = key.startswith("-")
            key = key[1:] if reverse else key
            if key not in self.headings:
                raise InvalidInputError(f"Invalid sort key: {key}")
            keys.append((key, reverse))
        self.sort_keys = keys

    def sort_items(self, items: MutableSequence[_T]) -> MutableSequence[_T]:
        """Sort ``items`` in place by the sort keys (first key first) and return it."""
        for key, reverse in reversed(self.sort_keys):
            getter = attrgetter(key)
            sort: Callable[..., None] = items.sort  # type: ignore[attr-defined]
            sort(key=lambda item: DisplayValue(getter(item)), reverse=reverse)
        return items

    def print_items(
        self,
        items: MutableSequence[Any],
        no_header: bool = False,
        width: int = -1,
        pre: Callable[[Any], object] | None = None,
        post: Callable[[Any], object] | None = None,
    ) -> None:
        """Filter the format for ``items``, sort them, and print a header and one line each.

        Lines are cut to ``width`` columns if > 0 (0: the terminal's width);
        blank lines are skipped; ``pre``/``post`` are called around each line.
        """
        shown = type(self)(
            self.filter(items, no_header=no_header), headings=self.headings, prepend=self.prepend
        )
        self.sort_items(items)
        width = self._calculate_width(width)
        if not no_header:
            print(shown.header(width=width))
        for item in items:
            line = shown.format(item)
            if not line or line.isspace():
                continue
            if width > 0 and len(line) > width:
                line = line[: width - 1] + "+"
            if pre is not None:
                pre(item)
            print(line)
            if post is not None:
                post(item)
