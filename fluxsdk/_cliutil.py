"""Command-line helpers Flux tools share, as in ``flux.util``.

:class:`ColorAction` (``--color[=WHEN]``) and :class:`YesNoAction` for argparse,
:func:`help_formatter` (flux's ``-s, --long=ARG`` help layout) and
:class:`CLIMain`, which runs a tool's ``main`` with flux's logging and exit codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

__all__ = ["CLIMain", "ColorAction", "YesNoAction", "help_formatter"]


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


class _FluxHelpFormatter(argparse.HelpFormatter):
    """Options shown as ``-s, --long=ARG``; a long-only option lines up with the long ones."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            (metavar,) = self._metavar_formatter(action, action.dest)(1)
            return metavar
        hidden: Iterable[str] = getattr(action, "hidden_option_strings", ())
        opts = [opt for opt in action.option_strings if opt not in hidden]
        text = ", ".join(opts)
        if len(opts) == 1 and len(opts[0]) > 2:
            text = "    " + opts[0]
        if action.nargs == 0:
            return text
        return text + "=" + self._format_args(action, action.dest.upper())


class _FluxRawDescriptionHelpFormatter(_FluxHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The same, keeping the description's own line breaks."""


def help_formatter(
    argwidth: int = 40, raw_description: bool = False
) -> Callable[..., argparse.HelpFormatter]:
    """Return a ``formatter_class`` for :class:`argparse.ArgumentParser` laid out as flux's tools.

    Args:
        argwidth: the widest option column before help moves to its own line.
        raw_description: keep the description's line breaks.
    """
    cls = _FluxRawDescriptionHelpFormatter if raw_description else _FluxHelpFormatter

    def formatter(prog: str) -> argparse.HelpFormatter:
        return cls(prog, max_help_position=argwidth)

    return formatter


class CLIMain:
    """Run a command-line tool's ``main`` as flux's tools do, then exit.

    ``CLIMain(logger)(main)`` configures logging (level from
    ``$FLUX_PYCLI_LOGLEVEL``, default INFO; lines ``NAME: LEVEL: message``),
    calls ``main()``, and exits with its ``sys.exit`` status, 0 when it
    returns, or 1 when it raises: the exception is logged as an error (an
    ``OSError``'s strerror and file name rather than its ``[Errno N]`` form)
    with the traceback at DEBUG level.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger if logger is not None else logging.getLogger()

    def __call__(self, main_func: Callable[[], object]) -> NoReturn:
        level = int(os.environ.get("FLUX_PYCLI_LOGLEVEL", logging.INFO))
        logging.basicConfig(level=level, format="%(name)s: %(levelname)s: %(message)s")
        status: Any = 0
        try:
            main_func()
        except SystemExit as exc:
            status = exc.code
        except Exception as exc:
            status = 1
            message = str(getattr(exc, "strerror", None) or exc)
            filename = getattr(exc, "filename", None)
            if filename:
                message += f": '{filename}'"
            self.logger.error(message)
            self.logger.debug(traceback.format_exc())
        finally:
            logging.shutdown()
        sys.exit(status)
