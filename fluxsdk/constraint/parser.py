"""Parse RFC 35 constraint queries into RFC 31 constraint objects, as ``flux.constraint.parser``.

A query is a list of terms ``[operator:]operand``, joined by ``and`` (``&``,
``&&`` or plain juxtaposition) or ``or`` (``|``, ``||``), grouped with
parentheses, negated with ``not`` (a whole expression) or ``-`` (one term).
Operands may be quoted with ``'`` or ``"`` to hold spaces or special
characters. ``and`` binds tighter than ``or``; ``not`` tighter than both.

:class:`ConstraintParser` has no default operator; subclasses configure
one, operator shorthands, operands split on a separator, and operators whose
operands merge when and-ed (``operator_map``, ``split_values``,
``combined_terms``), as flux's parser class does.

>>> class P(ConstraintParser):
...     operator_map = {None: "properties", "host": "hostlist"}
...     split_values = {"properties": ","}
...     combined_terms = {"properties"}
>>> P().parse("gpu,ib -fast")
{'and': [{'properties': ['gpu', 'ib']}, {'not': [{'properties': ['fast']}]}]}
>>> P().parse("gpu | host:n[1-2]")
{'or': [{'properties': ['gpu']}, {'hostlist': ['n[1-2]']}]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from fluxsdk.errors import InvalidInputError

__all__ = ["ConstraintParser", "ConstraintSyntaxError"]

Constraint = dict[str, Any]


class ConstraintSyntaxError(InvalidInputError):
    """A constraint query that does not follow RFC 35 (also a ``ValueError``)."""


# Token kinds.
_NOT, _AND, _OR, _NEGATE, _LPAREN, _RPAREN, _TERM = (
    "not",
    "and",
    "or",
    "-",
    "(",
    ")",
    "term",
)

# At a token boundary, in this order: '-' negates; 'not'/'and'/'or' as whole
# words, '&'/'&&', '|'/'||'; parentheses; anything else up to a special
# character is a term (which may contain '-' after its first character).
_LEX = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<negate>-)
    | (?P<not>not\b)
    | (?P<and>&{1,2}|and\b)
    | (?P<or>\|{1,2}|or\b)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<quote>['"])
    | (?P<term>[^()|&\s"']+)
    """,
    re.VERBOSE,
)
_KINDS = {
    "negate": _NEGATE,
    "not": _NOT,
    "and": _AND,
    "or": _OR,
    "lparen": _LPAREN,
    "rparen": _RPAREN,
}
_BAD_OPERATOR_CHAR = re.compile(r"[^\w.+@-]")


def _tokenize(query: str) -> list[tuple[str, str, int]]:
    """Split ``query`` into ``(kind, text, position)`` tokens.

    A term ending in ``:`` takes the next term (often quoted) as its operand.
    """
    tokens: list[tuple[str, str, int]] = []
    pending: tuple[str, int] | None = None  # an "operator:" waiting for its operand
    pos = 0

    def term(text: str, at: int) -> None:
        nonlocal pending
        if pending is not None:
            tokens.append((_TERM, pending[0] + text, pending[1]))
            pending = None
        elif text.endswith(":"):
            pending = (text, at)
        else:
            tokens.append((_TERM, text, at))

    while pos < len(query):
        match = _LEX.match(query, pos)
        if match is None:  # pragma: no cover - the term pattern matches any other character
            raise ConstraintSyntaxError(f"illegal character {query[pos]!r} at position {pos}")
        kind = match.lastgroup
        if kind == "quote":
            end = query.find(match.group(), match.end())
            if end < 0:
                raise ConstraintSyntaxError(
                    f"unclosed quote {match.group()!r} at position {match.start()}"
                )
            if end > match.end():
                term(query[match.end() : end], match.end())
            pos = end + 1
            continue
        if kind == "term":
            term(match.group(), match.start())
        elif kind != "ws":
            tokens.append((_KINDS[str(kind)], match.group(), match.start()))
        pos = match.end()
    if pending is not None:
        raise ConstraintSyntaxError(f"missing operand after {pending[0]!r}")
    return tokens


class ConstraintParser:
    """An RFC 35 constraint query parser; :meth:`parse` returns an RFC 31 object.

    Attributes:
        operator_map: operator names to replace, e.g. ``{"host": "hostlist"}``;
            the key ``None`` names the operator of a term written without one
            (without it, such a term is an error).
        split_values: operator -> separator on which its operand is split
            into several values (``{"properties": ","}``).
        combined_terms: operators whose values merge into one term when and-ed
            (``a b`` -> ``{"properties": ["a", "b"]}``).
    """

    operator_map: ClassVar[Mapping[str | None, str]] = {}
    split_values: ClassVar[Mapping[str, str]] = {}
    combined_terms: ClassVar[frozenset[str] | set[str]] = frozenset()

    def __init__(self) -> None:
        self._tokens: list[tuple[str, str, int]] = []
        self._next = 0
        self._query = ""

    def parse(self, query: str) -> Constraint:
        """Parse ``query`` into a constraint object.

        Raises:
            ConstraintSyntaxError: the query is empty or malformed; the
                message says where.
        """
        if not isinstance(query, str):
            raise TypeError(f"a constraint query must be a str, not {type(query).__name__}")
        self._query = query
        self._tokens = _tokenize(query)
        self._next = 0
        result = self._or()
        if self._next < len(self._tokens):
            kind, text, at = self._tokens[self._next]
            what = "unmatched ')'" if kind == _RPAREN else f"unexpected {text!r}"
            raise ConstraintSyntaxError(f"{what} at position {at} in {query!r}")
        return result

    # -- precedence parsing, as flux's LALR grammar resolves it -------------------
    #
    # Operators bind by level: ``or`` 1, ``and`` 2 (explicit or by juxtaposition),
    # ``not`` 3. An operator is taken into the operand being parsed only when
    # it binds tighter than the operator waiting for that operand. A juxtaposed
    # term or parenthesis binds at level 0, so ``a | b c`` is ``(a | b) c``,
    # while a juxtaposed ``not`` (3) or ``-`` (4) binds tighter than ``and``/``or``.

    _BIND: ClassVar[Mapping[str, int]] = {
        _OR: 1,
        _AND: 2,
        _TERM: 0,
        _LPAREN: 0,
        _NOT: 3,
        _NEGATE: 4,
    }

    def _peek(self) -> str | None:
        return self._tokens[self._next][0] if self._next < len(self._tokens) else None

    def _take(self) -> tuple[str, str, int]:
        if self._next >= len(self._tokens):
            raise ConstraintSyntaxError(f"unexpected end of input in {self._query!r}")
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _or(self, waiting: int = -1) -> Constraint:
        """Parse an expression whose operators bind tighter than level ``waiting``."""
        left = self._unary()
        while True:
            kind = self._peek()
            if kind is None or kind == _RPAREN or self._BIND[kind] <= waiting:
                return left
            if kind == _OR:
                self._take()
                right = self._or(1)
                if "or" in left:
                    left["or"].append(right)
                else:
                    left = {"or": [left, right]}
            else:
                if kind == _AND:
                    self._take()
                left = self._combine(left, self._or(2))

    def _unary(self) -> Constraint:
        kind, text, at = self._take()
        if kind == _NOT:
            return {"not": [self._or(3)]}
        if kind == _NEGATE:
            kind, text, at = self._take()
            if kind != _TERM:
                raise ConstraintSyntaxError(
                    f"'-' negates a single term; use 'not' before {text!r} at position {at}"
                )
            return {"not": [self._term(text)]}
        if kind == _LPAREN:
            inner = self._or()
            if self._peek() != _RPAREN:
                raise ConstraintSyntaxError(f"unclosed parenthesis at position {at}")
            self._take()
            return inner
        if kind == _TERM:
            return self._term(text)
        raise ConstraintSyntaxError(f"unexpected {text!r} at position {at} in {self._query!r}")

    def _term(self, text: str) -> Constraint:
        op, colon, value = text.partition(":")
        if not colon:
            if None not in self.operator_map:
                raise ConstraintSyntaxError(f"missing required operator in {text!r}")
            op, value = self.operator_map[None], text
        else:
            op = self.operator_map.get(op, op)
        bad = _BAD_OPERATOR_CHAR.search(op)
        if bad:
            raise ConstraintSyntaxError(f"invalid character {bad.group()!r} in operator {op!r}")
        if op in self.split_values:
            return {op: value.split(self.split_values[op])}
        return {op: [value]}

    def _combine(self, left: Constraint, right: Constraint) -> Constraint:
        """And two constraints, merging values of ``combined_terms`` operators."""
        entries = [left, right]
        if "and" in left:
            left["and"].append(right)
            entries = [left]
        merged: dict[str, list[Any]] = {}
        terms: list[Constraint] = []
        for entry in entries:
            key = next(iter(entry))
            if key not in self.combined_terms:
                terms.append(entry)
            elif key not in merged:
                merged[key] = entry[key]
                terms.append(entry)
            else:
                merged[key].extend(entry[key])
        return terms[0] if len(terms) == 1 else {"and": terms}
