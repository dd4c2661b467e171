"""RFC 36 submission directives: job options embedded in a script, as ``flux.job.directives``.

A directive line starts with a *sentinel*: any non-alphanumeric prefix and
``flux:`` or ``FLUX:`` (``#FLUX: -N4``, ``-- flux: --queue=batch``). What follows
is split like a POSIX shell command line (quotes, ``#`` comments); triple
quotes (``\"\"\"`` or ``'''``) hold text with quotes, on one line or, when they
end lines, across several directive lines (the newline after the opening
quote is dropped and the common indentation removed).

All directives of a file use one sentinel. Directives may be interleaved with
other lines that share the sentinel's prefix (comments) or are blank; the
first other line ends them, and a directive after that is an error.

>>> parser = DirectiveParser(["#!/bin/sh", "#FLUX: -N4 --job-name='my job'", "hostname"])
>>> [str(d) for d in parser.directives]
["SETARGS(['-N4', '--job-name=my job'])"]
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from fluxsdk.errors import InvalidInputError

__all__ = ["Directive", "DirectiveParser"]

_SENTINEL_RE = re.compile(r"^([^\w]*)((?:flux|FLUX):)(.*)$", re.DOTALL)
_TRIPLES = ('"""', "'''")


class Directive:
    """One directive, split into :attr:`args`.

    :attr:`action` is ``"SETARGS"`` (options for the submission command:
    the first word starts with ``-``) or ``"NOOP"`` (an empty directive).

    Args:
        value: the directive text after the sentinel.
        lineno: its line in the file, for error messages.

    Raises:
        InvalidInputError: (a ``ValueError``) unbalanced quotes, or a
            first word that is not an option.
    """

    def __init__(self, value: str, lineno: int = -1) -> None:
        self.lineno = lineno
        lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True  # split as a shell splits a command line
        lexer.escapedquotes = "\"'"  # a backslash may escape either quote
        try:
            self.args: list[str] = list(lexer)
        except ValueError as exc:
            raise InvalidInputError(f"line {lineno}: {value}: {exc}") from None
        if not self.args:
            self.action = "NOOP"
        elif self.args[0].startswith("-"):
            self.action = "SETARGS"
        else:
            raise InvalidInputError(
                f"line {lineno}: Unknown directive: {value} "
                "(a directive must be options starting with '-')"
            )

    def __str__(self) -> str:
        return f"{self.action}({self.args})"


def _quote_inline_triples(value: str) -> str:
    """Replace each ``\"\"\"text\"\"\"`` (or ``'''text'''``) on a line by ``text`` shell-quoted.

    Raises:
        InvalidInputError: a triple quote that opens a multi-line string is
            not at the end of the line.
    """
    if any(value.count(q) > 0 and value.count(q) % 2 == 0 for q in _TRIPLES):
        return re.sub(r"""((?:["']){3})(.*)\1""", lambda m: shlex.quote(m[2]), value)
    if re.search(r"""((?:["']){3}).""", value):
        raise InvalidInputError(f"unclosed triple quote: {value.strip()}")
    return value


class _MultiLine:
    """A triple-quoted string spanning directive lines, being collected."""

    def __init__(self, value: str, lineno: int) -> None:
        self.quote = value[-3:]
        self.indent = value[: len(value) - len(value.lstrip())]
        self.start = value.lstrip()
        self.lineno = lineno
        self.lines: list[str] = []
        self.add(value[:-3])

    def add(self, value: str) -> None:
        self.lines.append(value[len(self.indent) :] if value.startswith(self.indent) else value)

    def finish(self, value: str) -> str:
        """Close with the line ``value`` (ending in the quote); return the directive text."""
        self.add(value[:-3])
        text = self.lines[0] + shlex.quote("\n".join(self.lines[1:]))
        if self.quote in text:
            raise InvalidInputError(
                f"improperly terminated triple quoted string at: `{self.start}'"
            )
        return text


class DirectiveParser:
    """Find the RFC 36 directives in a script.

    Args:
        inputfile: the script's lines (an open file or any iterable of str).

    Attributes:
        directives: the :class:`Directive` objects, in order.
        script: the whole script text.
        sentinel: the sentinel the directives use (None if there are none).
        prefix: the sentinel's prefix before ``flux:``.

    Raises:
        InvalidInputError: (a ``ValueError``) a directive breaks RFC 36; the
            message gives the line.
    """

    def __init__(self, inputfile: Iterable[str]) -> None:
        self.directives: list[Directive] = []
        self.script = ""
        self.sentinel: str | None = None
        self.prefix: str | None = None
        multiline: _MultiLine | None = None
        ended_after: int | None = None  # directives ended after this line
        for lineno, line in enumerate(inputfile, start=1):
            self.script += line
            match = _SENTINEL_RE.match(line.rstrip("\n"))
            if match is None:
                if multiline is not None:
                    raise InvalidInputError(
                        f"line {lineno}: unterminated multi-line quote at line "
                        f"{multiline.lineno}: `{multiline.start}'"
                    )
                if (
                    self.prefix is not None
                    and ended_after is None
                    and line.strip()
                    and not line.startswith(self.prefix.rstrip())
                ):
                    ended_after = lineno - 1
                continue
            prefix, tag, rest = match.groups()
            if ended_after is not None:
                raise InvalidInputError(
                    f"line {lineno}: orphan '{tag}' detected: "
                    f"directives disabled after line {ended_after}"
                )
            try:
                value = _quote_inline_triples(rest)
            except InvalidInputError as exc:
                raise InvalidInputError(f"line {lineno}: {exc}") from None
            if self.sentinel is None:
                self.sentinel, self.prefix = prefix + tag, prefix
            elif prefix + tag != self.sentinel:
                raise InvalidInputError(
                    f"line {lineno}: sentinel changed from '{self.sentinel}' to "
                    f"'{prefix + tag}': all directives in a file must use the same "
                    f"sentinel (to disable a directive, comment it after the "
                    f"sentinel: {self.sentinel} # {value.lstrip()})"
                )
            if value.endswith(_TRIPLES):
                if multiline is None:
                    multiline = _MultiLine(value, lineno)
                elif value.endswith(multiline.quote):
                    self.directives.append(Directive(multiline.finish(value), multiline.lineno))
                    multiline = None
                else:
                    multiline.add(value)
            elif multiline is not None:
                multiline.add(value)
            elif value:
                self.directives.append(Directive(value, lineno))
