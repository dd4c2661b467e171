"""fluxsdk.progress against what real Flux's flux.progress draws.

``tests/data/flux_progress_eventlog.json`` holds flux-core v0.88.0's answers,
recorded by ``tests/data/record_progress_eventlog.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from fluxsdk.progress import Bottombar, ElapsedTime, ProgressBar

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_progress_eventlog.json").read_text()
)


def _fixed_terminal(monkeypatch: pytest.MonkeyPatch, columns: int, lines: int) -> None:
    size = os.terminal_size((columns, lines))
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: size)


@pytest.mark.parametrize(
    "case", RECORDED["bars"], ids=lambda c: f"{c['style']}-{c['total']}-{c['count']}-{c['width']}"
)
def test_bars_are_drawn_as_flux_draws_them(case: dict[str, Any]) -> None:
    extra = {k: v for k, v in case.items() if k not in ("total", "count", "style", "width", "text")}
    bar = ProgressBar(total=case["total"], style=case["style"], **extra)
    bar.count = case["count"]
    assert bar._formatter(bar, case["width"]) == case["text"]
    assert len(case["text"]) == max(case["width"], len(case["text"]))


def test_a_terminal_session_writes_flux_escape_sequences(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fixed_terminal(monkeypatch, 30, 8)
    bar = ProgressBar(total=2, style="bar").start()
    bar.update()
    bar.update()
    bar.stop()
    assert capsys.readouterr().out == RECORDED["terminal_session"]
    bar.stop()  # stopped already: nothing more is written
    assert capsys.readouterr().out == ""


def test_autostop_restores_the_terminal_when_the_count_reaches_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fixed_terminal(monkeypatch, 30, 8)
    bar = ProgressBar(total=2, style="bar", autostop=True).start()
    bar.update()
    assert not capsys.readouterr().out.endswith("\n")
    bar.update()
    assert capsys.readouterr().out.endswith("\x1b[r\x1b8│█████████████████████│ 100.0%\n")
    assert not bar._running


def test_a_resized_terminal_gets_a_new_scroll_region(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fixed_terminal(monkeypatch, 30, 8)
    bar = Bottombar(n=1).start()
    capsys.readouterr()
    bar.update(n=2)
    assert "\x1b[1;7r" not in capsys.readouterr().out  # same size: no new region
    _fixed_terminal(monkeypatch, 50, 20)
    bar.update(n=3)
    out = capsys.readouterr().out
    assert "\x1b[1;19r" in out and "\x1b[20;1H" in out and out.count("n=3") == 1
    bar.stop()
    assert capsys.readouterr().out.endswith("n=3\n")


def test_bottombar_formatter_and_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Bottombar(a=1, b="x")
    assert plain._format(plain, 80) == RECORDED["bottombar_default"]
    widths: list[int] = []

    def formatter(bar: Bottombar, width: int) -> str:
        widths.append(width)
        return f"i={bar.i}".ljust(width, ".")

    _fixed_terminal(monkeypatch, 12, 5)
    custom = Bottombar(formatter, i=0)
    assert str(custom) == "i=0........." and widths == [12]
    custom.update(i=7)  # not started: values change, nothing is drawn
    assert custom.i == 7 and custom.kwargs == {"i": 7}
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        custom.missing  # noqa: B018
    assert not hasattr(custom, "missing")


def test_elapsed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [str(ElapsedTime(v).dt) for v in (0.0, 0.4, 59.5, 3725.2)] == RECORDED["elapsed_dt"]
    assert ElapsedTime(3.5) == 3.5 and isinstance(ElapsedTime(1).dt, datetime.timedelta)
    bar = ProgressBar(after=" {elapsed.dt}")
    assert bar.elapsed == 0.0  # not started yet
    bar._t0 = 1000.0
    monkeypatch.setattr("time.time", lambda: 1065.4)
    assert bar._formatter(bar, 20).endswith(" 0:01:05")


def test_bad_style_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        ProgressBar(style="sparkles")


def test_the_bar_module_is_flux_progress_for_scripts() -> None:
    # A flux script's ``from flux.progress import ProgressBar`` maps to this module.
    import fluxsdk.progress as module

    assert module.__all__ == ["Bottombar", "ElapsedTime", "ProgressBar"]
    assert re.fullmatch(r"│ *│ +0\.0%", ProgressBar()._formatter(ProgressBar(), 20))
    assert sys.modules["fluxsdk.progress"] is module
