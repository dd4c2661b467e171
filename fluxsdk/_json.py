"""JSON from untrusted peers, decoded as flux-core's jansson would accept it.

Python's ``json`` accepts more than jansson does, and some of it cannot be
stored or acted on safely: lone UTF-16 surrogates (``"\\ud800"``, which no
UTF-8 writer can encode), ``NaN``/``Infinity``, integers beyond 64 bits, and
nesting deep enough to exhaust the interpreter's recursion limit in whatever
walks the document later. :func:`loads_checked` refuses all of them with one
:class:`JSONInputError` (a ``ValueError``) saying what is wrong; the broker
uses it for every request payload and the job manager for every jobspec.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, NoReturn

from fluxsdk.errors import InvalidInputError

__all__ = ["MAX_DEPTH", "JSONDepthError", "JSONInputError", "loads_checked", "too_deep"]

# Deepest nesting of arrays and objects accepted (jansson allows 2048, but
# Python code walking a document recursively needs a few frames per level).
MAX_DEPTH: Final = 100
_INT_MAX: Final = (1 << 63) - 1
_INT_MIN: Final = -(1 << 63)
# A \uXXXX escape of a UTF-16 surrogate: only these can decode to a lone one
# (raw UTF-8 text never holds surrogates).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONInputError(InvalidInputError):
    """JSON text that is invalid or exceeds a limit (the message says which)."""


class JSONDepthError(JSONInputError):
    """Valid JSON, perhaps, but nested deeper than :data:`MAX_DEPTH`."""


def _reject_constant(literal: str) -> NoReturn:
    raise JSONInputError(f"{literal} is not valid JSON")


def _parse_int(text: str) -> int:
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise JSONInputError("too big integer")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)


def loads_checked(text: str | bytes, *, allow_nul: bool = True) -> Any:
    """Decode ``text`` as jansson would (``allow_nul`` as ``JSON_ALLOW_NUL``).

    Raises:
        JSONInputError: the text is not UTF-8 JSON, holds a lone surrogate,
            ``NaN``/``Infinity``, an integer outside 64 bits, a NUL character
            (unless ``allow_nul``), or nests deeper than :data:`MAX_DEPTH`.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if not allow_nul and ("\\u0000" in text or "\\U0000" in text):
        raise JSONInputError("\\u0000 is not allowed")
    # More brackets than the limit is the only way to nest deeper than it.
    brackets = text.count("[") + text.count("{")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JSONDepthError(f"nested deeper than {MAX_DEPTH} levels") from None
    except JSONInputError:
        raise
    except ValueError as exc:
        raise JSONInputError(str(exc)) from None
    if brackets > MAX_DEPTH and too_deep(value):
        raise JSONDepthError(f"nested deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JSONInputError("invalid Unicode: a lone UTF-16 surrogate escape")
    return value


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list):
        return value
    return []


def too_deep(value: Any) -> bool:
    """Whether ``value`` nests arrays and objects deeper than :data:`MAX_DEPTH`."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in _children(item))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        else:
            stack.extend(_children(item))
    return False
