"""The hook reference in ``docs/plugins.md``, generated from the hookspecs' docstrings.

``python -m fluxsdk.hooks._reference docs/plugins.md`` rewrites the part of the
page between the two marker comments; ``--check`` only says whether it is up
to date (the test suite runs the check). Docstrings are written so that this
conversion is small: paragraphs stay paragraphs, a paragraph that starts with
a label (``Order:``, ``Called:``, ``Failures:``) gets it in bold, and the
``Args:`` section becomes a list.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from fluxsdk.hooks import hookspecs
from fluxsdk.hooks._markers import PROJECT

__all__ = ["BEGIN", "END", "hooks", "render", "update"]

BEGIN: Final = "<!-- hook reference: generated from fluxsdk/hooks/hookspecs.py, do not edit -->"
END: Final = "<!-- end of hook reference -->"

_LABEL = re.compile(r"^(\w+):\s")
_ARG = re.compile(r"^(\w+): (.*)$")


def hooks() -> list[Callable[..., Any]]:
    """The hookspecs, in the order they are defined."""
    return [
        value
        for name, value in vars(hookspecs).items()
        if name.startswith(PROJECT + "_") and callable(value)
    ]


def _paragraphs(text: str) -> Iterator[list[str]]:
    block: list[str] = []
    for line in text.splitlines():
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _arguments(block: list[str]) -> list[str]:
    items: list[str] = []
    for line in block[1:]:
        depth = len(line) - len(line.lstrip())
        match = _ARG.match(line.strip()) if depth <= 4 else None  # deeper: a continuation
        if match:
            items.append(f"- `{match.group(1)}`: {match.group(2)}".replace("``", "`"))
        elif items:
            items[-1] += " " + line.strip().replace("``", "`")
    return ["**Arguments**", "", *items]


def _markdown(doc: str) -> list[str]:
    out: list[str] = []
    for block in _paragraphs(inspect.cleandoc(doc)):
        if block[0].strip() == "Args:":
            out += _arguments(block)
        else:
            text = " ".join(line.strip() for line in block).replace("``", "`")
            label = _LABEL.match(text)
            if label:
                text = f"**{label.group(1)}**: {text[label.end() :]}"
            out.append(text)
        out.append("")
    return out


_WIDTH: Final = 100  # the project's line length: ruff formats these blocks too


def _signature(spec: Callable[..., Any]) -> str:
    """The hook's signature as ``ruff format`` lays it out."""
    signature = inspect.signature(spec)
    parameters = [f"{p.name}: {p.annotation}" for p in signature.parameters.values()]
    returns = f") -> {signature.return_annotation}: ..."
    line = f"def {spec.__name__}({', '.join(parameters)}{returns}"
    if len(line) <= _WIDTH:
        return line
    if len("    " + ", ".join(parameters)) <= _WIDTH:
        return f"def {spec.__name__}(\n    {', '.join(parameters)}\n{returns}"
    lines = "".join(f"    {p},\n" for p in parameters)
    return f"def {spec.__name__}(\n{lines}{returns}"


def render() -> str:
    """The reference: one section per hook, signature then docstring."""
    lines = [BEGIN, ""]
    for spec in hooks():
        opts = getattr(spec, PROJECT + "_spec", {}) or {}
        lines += [f"### `{spec.__name__}`", "", "```python", _signature(spec), "```", ""]
        if opts.get("firstresult"):
            lines += ["*First result wins: the first non-`None` answer is used.*", ""]
        lines += _markdown(spec.__doc__ or "")
    lines.append(END)
    return "\n".join(lines) + "\n"


def update(path: Path, *, check: bool = False) -> bool:
    """Put the current reference into ``path``; True if it was already current.

    With ``check``, only compare. Raises ValueError if the markers are missing.
    """
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: the hook reference markers are missing")
    current = text[start : end + len(END) + 1]
    fresh = render()
    if current == fresh:
        return True
    if not check:
        path.write_text(text[:start] + fresh + text[end + len(END) + 1 :])
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or ``--check``) the hook reference in a Markdown file."""
    parser = argparse.ArgumentParser(prog="python -m fluxsdk.hooks._reference")
    parser.add_argument("path", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if it is out of date")
    args = parser.parse_args(argv)
    current = update(args.path, check=args.check)
    if args.check and not current:
        print(f"{args.path}: the hook reference is out of date; run without --check")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
