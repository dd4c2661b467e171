"""Small helpers shared across fluxsdk, under the names ``flux.util`` uses.

* :func:`parse_fsd` and :func:`fsd` read and write RFC 23 Flux Standard
  Durations such as ``30``, ``1.5m`` or ``infinity``.
* :func:`get_treedict`, :func:`set_treedict` and :func:`del_treedict` read,
  write and delete values in nested dictionaries through dotted keys such as
  ``"attributes.system.duration"``; :func:`dict_merge` merges nested dicts.
* :class:`Fileref` builds an RFC 37 file object; :func:`xdg_searchpath` lists
  the XDG directories Flux tools read configuration from.
* For command-line tools: :class:`OutputFormat` (tables with flux's format
  extensions, see :mod:`fluxsdk._outputformat`), :func:`parse_datetime` and
  :class:`UtilDatetime` (see :mod:`fluxsdk._humantime`), the argparse
  actions :class:`ColorAction` and :class:`YesNoAction`, :func:`help_formatter`
  and :class:`CLIMain` (see :mod:`fluxsdk._cliutil`).
"""

from __future__ import annotations

import base64
import math
import os
import re
import stat
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from fluxsdk._cliutil import CLIMain, ColorAction, YesNoAction, help_formatter
from fluxsdk._humantime import UtilDatetime, parse_datetime
from fluxsdk._outputformat import AltField, DisplayValue, OutputFormat, UtilFormatter, empty_outputs
from fluxsdk.errors import InvalidDurationError, InvalidInputError

__all__ = [
    "AltField",
    "CLIMain",
    "ColorAction",
    "DisplayValue",
    "Fileref",
    "OutputFormat",
    "UtilDatetime",
    "UtilFormatter",
    "YesNoAction",
    "del_treedict",
    "dict_merge",
    "empty_outputs",
    "fsd",
    "get_treedict",
    "help_formatter",
    "parse_datetime",
    "parse_fsd",
    "set_treedict",
    "xdg_searchpath",
]

# Seconds per RFC 23 unit suffix. "ms" is handled by division (see parse_fsd).
_MULTIPLIERS: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# A decimal number as C99 strtod() reads it (sign, digits with an optional
# point, optional exponent), followed by an optional unit. Hex floats,
# digit-group underscores and whitespace, which strtod() or Python's float()
# would let through, are deliberately not part of the format.
_FSD_RE = re.compile(
    r"(?P<num>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?P<unit>ms|s|m|h|d)?"
)

# RFC 23 infinity: "inf" or "infinity" with no unit. strtod() matches these
# case-insensitively with an optional plus sign, so the same is accepted here.
_INF_RE = re.compile(r"\+?inf(?:inity)?", re.IGNORECASE)

_FSD_EXPECTED = (
    "expected a non-negative number with an optional unit ms, s, m, h or d "
    "(e.g. '30', '1.5m', '2ms'), or 'inf'/'infinity'"
)


def parse_fsd(fsd_string: str) -> float:
    """Convert an RFC 23 Flux Standard Duration string to seconds.

    The string is a non-negative decimal number with an optional unit suffix:
    ``ms`` (milliseconds), ``s`` (seconds, the default), ``m`` (minutes),
    ``h`` (hours) or ``d`` (days). ``inf`` and ``infinity`` (any case, no
    unit) mean an unlimited duration and return ``math.inf``.

    >>> parse_fsd("1.5m")
    90.0
    >>> parse_fsd("2ms")
    0.002
    >>> parse_fsd("infinity")
    inf

    Args:
        fsd_string: the duration string, e.g. ``"30"``, ``"1.2h"``, ``"5d"``.

    Returns:
        The duration in seconds, ``>= 0``, possibly ``math.inf``.

    Raises:
        InvalidDurationError: (a ``ValueError``) the string is empty, has
            whitespace or an unknown unit, is negative, NaN, or is so large
            that it overflows (only the spelled-out ``inf``/``infinity`` may
            be infinite).
        TypeError: ``fsd_string`` is not a ``str``.
    """
    if not isinstance(fsd_string, str):
        raise TypeError(f"Flux Standard Duration must be a str, not {type(fsd_string).__name__}")
    if _INF_RE.fullmatch(fsd_string):
        return math.inf
    match = _FSD_RE.fullmatch(fsd_string)
    if match is None:
        raise InvalidDurationError(
            f"invalid Flux Standard Duration {fsd_string!r}: {_FSD_EXPECTED}"
        )
    value = float(match["num"])
    unit = match["unit"] or "s"
    # Division keeps milliseconds correctly rounded (7ms -> 0.007 exactly as
    # the literal would be), which multiplying by 0.001 does not guarantee.
    seconds = value / 1000.0 if unit == "ms" else value * _MULTIPLIERS[unit]
    if seconds < 0:
        raise InvalidDurationError(
            f"invalid Flux Standard Duration {fsd_string!r}: duration is negative; {_FSD_EXPECTED}"
        )
    if math.isinf(seconds):
        raise InvalidDurationError(
            f"invalid Flux Standard Duration {fsd_string!r}: number is too large to "
            "represent; write 'inf' or 'infinity' for an unlimited duration"
        )
    # "-0" parses as -0.0; a duration has no sign, so report plain zero.
    return abs(seconds)


def fsd(secs: float) -> str:
    """Format a number of seconds as a short Flux Standard Duration string.

    The output matches ``flux.util.fsd`` exactly: durations under 1ms print
    as ``0s``; under 10s with three decimals (``1.500s``); otherwise in the
    largest unit that keeps the number under its next step (s, m, h, d) with
    up to four significant digits (``1.5m``, ``2h``, ``1.042d``). Infinity
    prints as ``inf``. Every result is accepted by :func:`parse_fsd`.

    >>> fsd(90)
    '1.5m'
    >>> fsd(0)
    '0s'
    >>> fsd(math.inf)
    'inf'

    Args:
        secs: the duration in seconds.

    Returns:
        The formatted duration.

    Raises:
        InvalidDurationError: ``secs`` is NaN (flux would print ``nand``).
    """
    if math.isnan(secs):
        raise InvalidDurationError(
            "cannot format NaN as a Flux Standard Duration: expected a number"
        )
    if math.isinf(secs):
        # flux returns "inf" (like math.inf) for both signs; so do we.
        return "inf"
    # Like flux, anything under a millisecond (negatives included) shows as 0s.
    if secs < 1.0e-3:
        return "0s"
    if secs < 10.0:
        return f"{secs:.3f}s"
    if secs < 60.0:
        return f"{secs:.4g}s"
    if secs < 3600.0:
        return f"{secs / 60.0:.4g}m"
    if secs < 86400.0:
        return f"{secs / 3600.0:.4g}h"
    return f"{secs / 86400.0:.4g}d"


def _split_key(key: str) -> list[str]:
    if not isinstance(key, str):
        raise TypeError(f"tree dict key must be a dotted str, not {type(key).__name__}")
    return key.split(".")


def get_treedict(in_dict: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Return ``in_dict`` at the dotted ``key``, or ``default`` if any level is missing.

    ``get_treedict(d, "a.b.c")`` is like ``d["a"]["b"]["c"]`` but returns
    ``default`` instead of raising ``KeyError`` when a level does not exist
    or is not a mapping.

    Args:
        in_dict: the nested mapping to read.
        key: dot-separated path of keys.
        default: value returned when the path does not exist.

    Returns:
        The value found, or ``default``.
    """
    node: Any = in_dict
    for part in _split_key(key):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def set_treedict(in_dict: MutableMapping[str, Any], key: str, val: Any) -> None:
    """Set ``in_dict`` at the dotted ``key`` to ``val``, creating levels on demand.

    ``set_treedict(d, "a.b.c", 42)`` is like ``d["a"]["b"]["c"] = 42``, where
    missing intermediate levels are created as empty dicts.

    Args:
        in_dict: the nested mapping to update in place.
        key: dot-separated path of keys (a key without dots sets a top-level
            entry).
        val: the value to store.

    Raises:
        TypeError: an intermediate level already exists and is not a mutable
            mapping (e.g. ``"a.b"`` when ``d["a"]`` is ``5``).
    """
    parts = _split_key(key)
    node: MutableMapping[str, Any] = in_dict
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, MutableMapping):
            prefix = ".".join(parts[: depth + 1])
            raise TypeError(
                f"cannot set {key!r}: {prefix!r} holds a {type(child).__name__}, "
                "expected a mapping (dict) to hold nested keys"
            )
        node = child
    node[parts[-1]] = val


def del_treedict(in_dict: MutableMapping[str, Any], key: str, remove_empty: bool = False) -> None:
    """Delete the dotted ``key`` from ``in_dict``.

    ``del_treedict(d, "a.b.c")`` is like ``del d["a"]["b"]["c"]``.

    Args:
        in_dict: the nested mapping to update in place.
        key: dot-separated path of the key to remove.
        remove_empty: also remove every enclosing level (but never
            ``in_dict`` itself) that the deletion leaves as an empty mapping.

    Raises:
        KeyError: a level of ``key`` does not exist.
        TypeError: an intermediate level is not a mutable mapping.
    """
    parts = _split_key(key)
    chain: list[MutableMapping[str, Any]] = [in_dict]
    for depth, part in enumerate(parts[:-1]):
        child = chain[-1][part]
        if not isinstance(child, MutableMapping):
            prefix = ".".join(parts[: depth + 1])
            raise TypeError(
                f"cannot delete {key!r}: {prefix!r} holds a {type(child).__name__}, "
                "expected a mapping (dict) holding nested keys"
            )
        chain.append(child)
    del chain[-1][parts[-1]]
    if remove_empty:
        # Walk back up, dropping each level the deletion emptied.
        for depth in range(len(chain) - 1, 0, -1):
            if len(chain[depth]) != 0:
                break
            del chain[depth - 1][parts[depth - 1]]


def dict_merge(src: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``new`` into ``src`` in place and return ``src``.

    Nested dicts present in both are merged key by key; any other value in
    ``new`` replaces the one in ``src``.

    >>> dict_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4})
    {'a': {'b': 1, 'c': 3}, 'd': 4}
    """
    for key, value in new.items():
        if isinstance(src.get(key), dict) and isinstance(value, dict):
            dict_merge(src[key], value)
        else:
            src[key] = value
    return src


def xdg_searchpath(subdir: str = "") -> list[Path]:
    """Return the ``flux[/subdir]`` config directories, highest precedence first.

    ``$XDG_CONFIG_HOME`` (default ``~/.config``) comes first, then each entry
    of ``$XDG_CONFIG_DIRS`` (default ``/etc/xdg``).
    """
    dirs = [os.environ.get("XDG_CONFIG_HOME") or f"{Path.home()}/.config"]
    dirs += (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    return [Path(directory, "flux", subdir) for directory in dirs]


class Fileref(dict[str, Any]):
    """An RFC 37 file object (a ``dict``, ready for JSON).

    ``data`` is the file's content when it is a dict (JSON content, no
    encoding) or when ``encoding`` ("utf-8" or "base64") is given; otherwise
    it is the path of a local file, read now, whose mode and size are kept
    and whose content is stored as UTF-8 text, or base64 if it is not text.

    Args:
        data: content or local path, as above.
        perms: permission bits for content given inline (default 0600).
        encoding: the encoding of inline string content.

    Raises:
        InvalidInputError: ``encoding`` is neither "utf-8" nor "base64".
        OSError: the local file cannot be read.
    """

    def __init__(
        self, data: Mapping[str, Any] | str, perms: int = 0o600, encoding: str | None = None
    ) -> None:
        ref: dict[str, Any] = {"mode": perms | stat.S_IFREG}
        if isinstance(data, Mapping):
            ref["data"] = data
        elif encoding is not None:
            if encoding not in ("base64", "utf-8"):
                raise InvalidInputError(
                    f"invalid file encoding {encoding!r}: expected 'utf-8' or 'base64'"
                )
            ref["data"], ref["encoding"] = data, encoding
        else:
            st = os.stat(data)
            with open(data, "rb") as stream:
                content = stream.read()
            ref["mode"], ref["size"] = st.st_mode, st.st_size
            try:
                ref["data"], ref["encoding"] = content.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                ref["data"] = base64.b64encode(content).decode("ascii")
                ref["encoding"] = "base64"
        super().__init__(ref)
