"""argparse actions Flux tools share, as in ``flux.util``: ``--color[=WHEN]`` and yes/no options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["ColorAction", "YesNoAction"]


class ColorAction(argparse.Action):
    """``--color[=WHEN]``: WHEN is ``always``, ``never`` or ``auto``.

    ``--color`` alone means ``always``. Without the option the value is
    ``auto``, or ``never`` when ``$NO_COLOR`` is set and not empty. The
    value is a :class:`ColorWhen` string: compare it (``args.color ==
    "never"``) or ask ``args.color.enabled`` (``auto``: stdout is a terminal).

    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--color", action=ColorAction)
    >>> args = parser.parse_args(["--color"])
    >>> args.color, args.color.enabled
    ('always', True)
    """

    class ColorWhen(str):
        """A WHEN value that knows whether it turns color on."""

        @property
        def enabled(self) -> bool:
            """True for ``always``; False for ``never``; for ``auto``, whether stdout is a tty."""
            if self == "always":
                return True
            if self == "never":
                return False
            return sys.stdout.isatty()

    CHOICES = ("auto", "always", "never")

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        nargs: str | None = "?",
        default: str = "auto",
        metavar: str = "WHEN",
        help: str = "Use color; WHEN can be 'never', 'always' or 'auto' (default)",
        **kwargs: Any,
    ) -> None:
        if default == "auto" and os.environ.get("NO_COLOR"):
            default = "never"
        super().__init__(
            option_strings,
            dest,
            nargs=nargs,
            default=self.ColorWhen(default),
            metavar=metavar,
            help=help,
            **kwargs,
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        when = "always" if values is None else values
        if when not in self.CHOICES:
            parser.error(f"Invalid argument to --color: '{when}'")
        setattr(namespace, self.dest, self.ColorWhen(str(when)))


class YesNoAction(argparse.Action):
    """An option taking ``yes`` or ``no``, stored as True or False."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        help: str | None = None,
        metavar: str = "[yes|no]",
    ) -> None:
        super().__init__(option_strings=option_strings, dest=dest, help=help, metavar=metavar)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if values not in ("yes", "no"):
            parser.error(f"{option_string} requires either 'yes' or 'no'")
        setattr(namespace, self.dest, values == "yes")
