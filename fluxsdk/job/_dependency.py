"""RFC 26 job dependencies: from command-line URIs to jobspec objects, and validation.

On the command line (``flux submit --dependency=...``) a dependency is written
``scheme:value[?key=val[&key=val...]]``; in jobspec it is an object
``{"scheme": ..., "value": ..., <key>: <val>...}`` in the list
``attributes.system.dependencies``. :func:`dependency_create` and
:func:`dependency_array_create` translate the first form into the second as
``flux.job._utils`` does; :func:`validate_dependency` checks an object.

Schemes checked beyond the generic shape:

* ``after``, ``afterstart``, ``afterany``, ``afterok``, ``afternotok`` and
  ``afterexcept``: ``value`` is a job ID in any RFC 19 encoding.
* ``begin-time``: ``value`` is a non-negative number of seconds since the epoch.
  :func:`dependency_create` also accepts ``@<timestamp>``, ``now``, ``+<FSD>``
  and ``-<FSD>`` (relative to now, as ``flux submit --begin-time`` does) and
  ISO 8601 date-times, and writes the resulting timestamp.
* ``string`` and ``fluid``: the RFC 26 ``type`` (``in``/``out``/``inout``) and
  ``scope`` (``user``/``global``) keys, when present, hold one of those values.

Other schemes (``singleton``, site plugins) pass with just the generic checks.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from fluxsdk.errors import InvalidDependencyError, InvalidDurationError
from fluxsdk.util import parse_fsd

__all__ = [
    "AFTER_SCHEMES",
    "dependency_array_create",
    "dependency_create",
    "validate_dependency",
]

#: Schemes whose value names an antecedent job (the job-manager
#: ``dependency-after`` plugin; ``after`` is a deprecated alias of ``afterstart``).
AFTER_SCHEMES = frozenset(
    {"after", "afterstart", "afterany", "afterok", "afternotok", "afterexcept"}
)

# RFC 26 keys REQUIRED for the OpenMP-style schemes, with their allowed values.
_OPENMP_SCHEMES = frozenset({"string", "fluid"})
_OPENMP_KEYS: dict[str, tuple[str, ...]] = {
    "type": ("in", "out", "inout"),
    "scope": ("user", "global"),
}

# RFC 3986 scheme syntax, which urlparse() (used by flux) also enforces.
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")

# A decimal number as strtod() reads it (no hex, no inf/nan, no whitespace).
_TIMESTAMP_RE = re.compile(r"\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# FLUX_JOBID_ANY: the after* plugin refuses it as "the current job".
_JOBID_ANY = 2**64 - 1

_URI_FORM = "scheme:value[?key=val[&key=val...]]"


def _query_value(text: str) -> int | float | str:
    """Turn a query value into an int or float when it is one, as flux does."""
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    return text


def _parse_timestamp(text: str) -> float | None:
    """Return ``text`` as a non-negative finite timestamp, or None."""
    if not _TIMESTAMP_RE.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _begin_time_value(text: str, now: float | None) -> str:
    """Resolve the accepted begin-time spellings to a timestamp string."""
    current = time.time() if now is None else now
    # A leading sign means an offset from now (as for flux's --begin-time),
    # even though strtod() would also read "+5" as the timestamp 5.
    if text[:1] in ("+", "-"):
        try:
            offset = parse_fsd(text[1:])
        except InvalidDurationError as exc:
            raise InvalidDependencyError(f"begin-time: invalid offset {text!r}: {exc}") from None
        ts = current + offset if text[0] == "+" else current - offset
        if not math.isfinite(ts):
            raise InvalidDependencyError(f"begin-time: offset {text!r} does not give a finite time")
        return repr(max(ts, 0.0))
    if _parse_timestamp(text) is not None:
        # Already what the job manager wants: keep it exactly as written.
        return text
    if text.startswith("@") and (epoch := _parse_timestamp(text[1:])) is not None:
        return repr(epoch)
    if text == "now":
        return repr(float(current))
    try:
        # Naive date-times are local time, as flux's datetime parsing assumes.
        return repr(datetime.fromisoformat(text).timestamp())
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidDependencyError(
        f"begin-time: invalid time {text!r}: expected seconds since the epoch "
        "(e.g. '1700000000.5' or '@1700000000.5'), 'now', '+<duration>' such as "
        "'+1h', or an ISO 8601 date-time such as '2025-01-31T09:00'"
    )


def dependency_create(dep: str, *, now: float | None = None) -> dict[str, Any]:
    """Translate one RFC 26 dependency URI into its jobspec object.

    ``scheme:value?key=val&key2=val2`` becomes
    ``{"scheme": scheme, "value": value, "key": val, "key2": val2}``. As in
    flux, a URI without ``:`` has an empty value (``"singleton"`` ->
    ``{"scheme": "singleton", "value": ""}``), the scheme is lowercased,
    query values are URL-decoded and turned into ints or floats when they
    look like numbers, and a key given more than once yields a list. Query
    pairs may be separated by ``&`` or ``;`` (RFC 26).

    >>> dependency_create("afterok:ƒ2")
    {'scheme': 'afterok', 'value': 'ƒ2'}
    >>> dependency_create("string:foo?type=out&scope=user")
    {'scheme': 'string', 'value': 'foo', 'type': 'out', 'scope': 'user'}

    ``begin-time`` values written as ``@<timestamp>``, ``now``,
    ``+<FSD>``/``-<FSD>`` or an ISO 8601 date-time are replaced by the
    timestamp they denote; the result is then checked with
    :func:`validate_dependency`.

    Args:
        dep: the dependency URI.
        now: the current time (seconds since the epoch) for relative
            begin-time values; defaults to :func:`time.time`.

    Returns:
        A new dependency object.

    Raises:
        InvalidDependencyError: (a ``ValueError``) the URI is malformed, a
            query item is not ``key=val`` or names ``scheme``/``value``, or
            the resulting object fails :func:`validate_dependency`.
        TypeError: ``dep`` is not a ``str``.
    """
    if not isinstance(dep, str):
        raise TypeError(f"a dependency must be a str URI, not {type(dep).__name__}")
    scheme, _, rest = dep.partition(":")
    if not _SCHEME_RE.fullmatch(scheme):
        what = "missing scheme" if not scheme else f"invalid scheme {scheme!r}"
        raise InvalidDependencyError(
            f"invalid dependency {dep!r}: {what}; expected {_URI_FORM} where scheme "
            "starts with a letter followed by letters, digits, '+', '-' or '.'"
        )
    value, _, query = rest.partition("?")
    entry: dict[str, Any] = {"scheme": scheme.lower(), "value": value}
    if query:
        for item in re.split("[&;]", query):
            key, eq, raw = item.partition("=")
            key = unquote_plus(key)
            if not eq or not key:
                raise InvalidDependencyError(
                    f"invalid dependency {dep!r}: query item {item!r} is not key=val; "
                    f"expected {_URI_FORM}"
                )
            if key in ("scheme", "value"):
                raise InvalidDependencyError(
                    f"invalid dependency {dep!r}: query key {key!r} would replace the "
                    "dependency's own scheme or value"
                )
            val = _query_value(unquote_plus(raw))
            if key not in entry:
                entry[key] = val
            elif isinstance(entry[key], list):
                entry[key].append(val)
            else:
                entry[key] = [entry[key], val]
    try:
        if entry["scheme"] == "begin-time":
            entry["value"] = _begin_time_value(value, now)
        validate_dependency(entry)
    except InvalidDependencyError as exc:
        raise InvalidDependencyError(f"invalid dependency {dep!r}: {exc}") from None
    return entry


def dependency_array_create(deps: Iterable[str]) -> list[dict[str, Any]]:
    """Translate dependency URIs into the ``attributes.system.dependencies`` list.

    Args:
        deps: dependency URIs, e.g. ``["afterok:ƒ2", "begin-time:+1h"]``. A
            single ``str`` is refused rather than read character by character.

    Returns:
        One object per URI, in order (see :func:`dependency_create`).

    Raises:
        InvalidDependencyError: a URI is invalid.
        TypeError: ``deps`` is a ``str``, or holds something other than ``str``.
    """
    if isinstance(deps, str):
        raise TypeError("dependency_array_create() expects a list of URIs, not a single str")
    return [dependency_create(dep) for dep in deps]


def validate_dependency(obj: object, *, values: bool = True) -> None:
    """Check that ``obj`` is a valid RFC 26 dependency object.

    It must be a mapping with a non-empty string ``scheme`` and a string
    ``value``; other keys are allowed. After that (unless ``values`` is
    false, as Flux's job-ingest leaves them to each scheme), by scheme: an ``after*``
    value must be a job ID in any RFC 19 encoding (and not FLUX_JOBID_ANY), a
    ``begin-time`` value a non-negative number of seconds since the epoch, and
    in ``string``/``fluid`` objects a ``type`` must be ``in``/``out``/``inout``
    and a ``scope`` ``user``/``global``.

    Raises:
        InvalidDependencyError: (a ``ValueError``) naming what is wrong.
    """
    if not isinstance(obj, Mapping):
        raise InvalidDependencyError(
            f"dependency must be an object with 'scheme' and 'value', not {type(obj).__name__}"
        )
    for key in ("scheme", "value"):
        if key not in obj:
            raise InvalidDependencyError(f"dependency is missing required key {key!r} (a string)")
        if not isinstance(obj[key], str):
            raise InvalidDependencyError(
                f"dependency {key!r} must be a string, not {type(obj[key]).__name__}"
            )
    scheme: str = obj["scheme"]
    value: str = obj["value"]
    if not values:
        return
    if not scheme:
        raise InvalidDependencyError("dependency 'scheme' must be a non-empty string")
    if scheme in AFTER_SCHEMES:
        _check_jobid(scheme, value)
    elif scheme == "begin-time":
        if _parse_timestamp(value) is None:
            raise InvalidDependencyError(
                f"begin-time: value {value!r} is not a timestamp; expected a non-negative "
                "number of seconds since the epoch, e.g. '1700000000.5'"
            )
    elif scheme in _OPENMP_SCHEMES:
        # RFC 26 calls these keys REQUIRED, yet its own command-line example
        # ("string:foo?type=out") omits scope, and the handling plugin may
        # supply defaults; so check values that are given, not presence.
        for key, allowed in _OPENMP_KEYS.items():
            if key in obj and obj[key] not in allowed:
                raise InvalidDependencyError(
                    f"{scheme}: {key!r} is {obj[key]!r}; expected one of {', '.join(allowed)}"
                )


def _check_jobid(scheme: str, value: str) -> None:
    # Imported here so this module loads even where the job ID module is not
    # yet importable (it is built separately and imports more of fluxsdk).
    from fluxsdk.job._jobid import id_parse

    try:
        jobid = id_parse(value)
    except ValueError as exc:
        raise InvalidDependencyError(
            f"{scheme}: {value!r} is not a valid job ID; expected a job ID in any "
            f"RFC 19 encoding, e.g. 'ƒ2' or '1234' ({exc})"
        ) from None
    if jobid == _JOBID_ANY:
        raise InvalidDependencyError(
            f"{scheme}: {value!r} is FLUX_JOBID_ANY, which cannot name an antecedent job"
        )
