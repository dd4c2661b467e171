"""Small helpers shared across fluxsdk, under the names ``flux.util`` uses.

* :func:`parse_fsd` and :func:`fsd` read and write RFC 23 Flux Standard
  Durations such as ``30``, ``1.5m`` or ``infinity``.
* :func:`get_treedict`, :func:`set_treedict` and :func:`del_treedict` read,
  write and delete values in nested dictionaries through dotted keys such as
  ``"attributes.system.duration"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from fluxsdk.errors import InvalidDurationError

__all__ = [
    "del_treedict",
    "fsd",
    "get_treedict",
    "parse_fsd",
    "set_treedict",
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
