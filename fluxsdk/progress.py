"""A status line kept on a terminal's last line, and a progress bar on it (``flux.progress``).

:class:`Bottombar` reserves the bottom line of a VT100-compatible terminal
(xterm, gnome-terminal, iTerm, Windows Terminal...) by shrinking the scroll
region above it: ordinary output keeps scrolling while the bar stays put.
:class:`ProgressBar` draws a bar with text before and after it::

    bar = ProgressBar(total=len(jobs), before="{count}/{total} ").start()
    for _ in jobs:
        ...
        bar.update()
    bar.stop()  # the terminal is restored and the bar's last state stays printed

Both write to ``sys.stdout`` with escape codes, as flux's do; they are meant
for a terminal (check ``sys.stdout.isatty()`` first). The rendering, escape
sequences and names are flux's. Where fluxsdk differs: a missing attribute
raises ``AttributeError`` (flux's raise ``KeyError``), ``elapsed`` is 0 before
:meth:`Bottombar.start` (flux's raise), and ``str()`` of a bar never drawn
uses the current terminal width (flux's raise).
"""

from __future__ import annotations

import atexit
import datetime
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

__all__ = ["Bottombar", "ElapsedTime", "ProgressBar"]

Formatter = Callable[["Bottombar", int], str]
"""``formatter(bar, width)``: the status line's text for a terminal ``width`` columns wide."""

# VT100 escape sequences.
_SAVE: Final = "\0337"  # save the cursor and attributes (DECSC)
_RESTORE: Final = "\0338"  # restore them (DECRC)
_FULL_SCROLL: Final = "\033[r"  # the whole screen scrolls again (DECSTBM, no margins)
_INDEX: Final = "\033D"  # move down one line, scrolling at the bottom margin
_REVERSE_INDEX: Final = "\033M"  # move up one line
_CLEAR_LINE: Final = "\033[K"  # erase from the cursor to the end of the line
_ERASE_LINE: Final = "\033[2K"  # erase the whole line
_NO_WRAP: Final = "\033[?7l"
_WRAP: Final = "\033[?7h"
_PLAIN: Final = "\033[0m"  # reset colours and styles


def _scroll_lines(top: int, bottom: int) -> str:
    return f"\033[{top};{bottom}r"


def _cursor_to(row: int, column: int) -> str:
    return f"\033[{row};{column}H"


class ElapsedTime(float):
    """Seconds elapsed, as a float, with :attr:`dt` for display (``0:01:05``)."""

    @property
    def dt(self) -> datetime.timedelta:
        """The elapsed time rounded to whole seconds, as a ``timedelta``."""
        return datetime.timedelta(seconds=round(self))


class Bottombar:
    """A status line that stays on the last line of a VT100 terminal.

    ``formatter(bar, width)`` returns the line's text each time it is drawn;
    without one, the line shows the keyword arguments as ``key=value``.
    Extra keyword arguments are kept in :attr:`kwargs` and readable as
    attributes (``bar.i``); :meth:`update` changes them and redraws.
    ``bar.elapsed`` is an :class:`ElapsedTime` since :meth:`start`.

    Args:
        formatter: makes the text; ``None`` for ``key=value`` pairs.
        kwargs: values for the formatter, kept in :attr:`kwargs`.
    """

    def __init__(self, formatter: Formatter | None = None, **kwargs: Any) -> None:
        self.size: os.terminal_size | None = None
        """The terminal size the bar was last drawn for."""
        self.formatter: Formatter = formatter if formatter is not None else self._format
        self.kwargs: dict[str, Any] = kwargs
        self._running = False
        self._t0: float | None = None

    def __getattr__(self, attr: str) -> Any:
        # Only called for names not found normally: ``elapsed`` and the keyword values.
        if attr == "elapsed":
            t0 = self.__dict__.get("_t0")
            return ElapsedTime(0.0 if t0 is None else time.time() - t0)
        kwargs = self.__dict__.get("kwargs", {})
        if attr in kwargs:
            return kwargs[attr]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def _format(self, _bar: Bottombar, _width: int) -> str:
        return " ".join(f"{key}={value}" for key, value in self.kwargs.items())

    def __str__(self) -> str:
        size = self.size or shutil.get_terminal_size()
        return self.formatter(self, size.columns)

    def _setup_terminal(self, size: os.terminal_size | None = None) -> None:
        """Keep the last line out of the scroll region (for the current or a new size)."""
        if size is not None:
            self.size = size
        assert self.size is not None
        sys.stdout.write(
            # Reset the scroll region, make room for the bar if the cursor is on the
            # last line (scroll by one, come back up), then scroll only above the bar.
            _SAVE
            + _FULL_SCROLL
            + _RESTORE
            + _INDEX
            + _REVERSE_INDEX
            + _SAVE
            + _scroll_lines(1, self.size.lines - 1)
            + _RESTORE
        )

    def _reset_terminal(self) -> None:
        """Give the whole screen back and leave the bar's last state printed, with a newline."""
        assert self.size is not None
        sys.stdout.write(
            _SAVE
            + _cursor_to(self.size.lines, 1)
            + _CLEAR_LINE
            + _FULL_SCROLL
            + _RESTORE
            + f"{self}\n"
        )
        atexit.unregister(self._reset_terminal)

    def redraw(self) -> None:
        """Draw the bar again (after a resize too) without changing anything."""
        size = shutil.get_terminal_size()
        if size != self.size:
            self._setup_terminal(size)
        sys.stdout.write(
            _SAVE
            + _cursor_to(size.lines, 1)
            + _ERASE_LINE
            + _NO_WRAP
            + _PLAIN
            + str(self)
            + _WRAP
            + _RESTORE
        )
        sys.stdout.flush()

    def start(self) -> Bottombar:
        """Start showing the bar (the elapsed time starts at the first start); returns it.

        The terminal is restored at exit if :meth:`stop` is never called.
        """
        self._running = True
        if self._t0 is None:
            self._t0 = time.time()
        self.redraw()
        atexit.register(self._reset_terminal)
        return self

    def stop(self) -> None:
        """Restore the terminal and print the bar's last state followed by a newline."""
        if self._running:
            self._reset_terminal()
            self._running = False

    def update(self, **kwargs: Any) -> None:
        """Change keyword values and redraw the bar if it is showing."""
        self.kwargs.update(kwargs)
        if self._running:
            self.redraw()


class ProgressBar(Bottombar):
    """A progress bar on the terminal's last line, with text before and after it.

    ``before`` and ``after`` are format strings, formatted at each draw with
    ``total``, ``count``, ``percent``, ``elapsed`` (an :class:`ElapsedTime`)
    and the extra keyword arguments, e.g. ``after=" {percent:5.1f}%
    {elapsed.dt}"``. The bar fills the width left between them.

    Args:
        total: the count at which the bar is full (0: it stays empty).
        style: the bar's characters: ``"line"``, ``"bar"``, ``"dots"``,
            ``"steps"`` or ``"vertbars"`` (finer steps within a cell).
        before: text before the bar.
        after: text after the bar.
        autostop: stop (restore the terminal) when the count reaches ``total``.
        kwargs: extra values for ``before`` and ``after``.

    Raises:
        KeyError: ``style`` is not one of :attr:`bar_style` (as flux).
    """

    bar_style: ClassVar[dict[str, str]] = {
        # empty cell first, full cell last, partial fills between
        "line": "\u2500\u2501",
        "bar": "\u2500\u2588",
        "dots": "\u28c0\u28c4\u28e4\u28e6\u28f6\u28f7\u28ff",
        "steps": " \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588",
        "vertbars": " \u258f\u258e\u258d\u258c\u258b\u258a\u2589\u2588",
    }

    def __init__(
        self,
        total: int = 100,
        style: str = "vertbars",
        before: str = "",
        after: str = " {percent:5.1f}%",
        autostop: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(self._formatter, **kwargs)
        self.count = 0
        self.total = total
        self.before = before
        self.after = after
        self.style = self.bar_style[style]
        self.autostop = autostop

    def _formatter(self, bar: Bottombar, width: int) -> str:
        fraction = self.count / self.total if self.total else 0.0
        values = {
            "total": self.total,
            "count": self.count,
            "elapsed": self.elapsed,
            "percent": 100 * fraction,
            **bar.kwargs,
        }
        before = self.before.format(**values)
        after = self.after.format(**values)
        return before + self._bar(width - len(before) - len(after) - 2, fraction) + after

    def _bar(self, cells: int, fraction: float) -> str:
        """The bar ``cells`` wide between its two edges, ``fraction`` full."""
        style = self.style
        steps = len(style)  # a cell shows one of these, empty to full
        fraction = min(fraction, 1.0)
        full = int(cells * fraction)
        # The cell after the full ones shows how far the fill got into it.
        partial = int(cells * steps * fraction) - full * steps
        body = style[-1] * full
        if partial:
            body += style[partial] if partial < steps else style[-1]
            full += 1
        return "\u2502" + body + style[0] * (cells - full) + "\u2502"

    def update(self, advance: int = 1, **kwargs: Any) -> None:
        """Advance the count by ``advance``, change keyword values, redraw if showing.

        With ``autostop``, reaching ``total`` stops the bar.
        """
        self.count += advance
        super().update(**kwargs)
        if self.autostop and self.count == self.total:
            self.stop()
