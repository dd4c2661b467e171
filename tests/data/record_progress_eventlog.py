"""Record what real Flux's ``flux.progress`` and ``flux.eventlog`` formatter print.

Run with real Flux's Python (no instance needed)::

    cd tests/data
    /opt/flux/bin/flux python record_progress_eventlog.py > flux_progress_eventlog.json

``tests/test_progress.py`` and ``tests/test_eventlog_formatter.py`` check fluxsdk
against the answers. The cases are fluxsdk's own; the answers are flux-core's.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import sys
import time
from typing import Any

progress: Any = importlib.import_module("flux.progress")
eventlog: Any = importlib.import_module("flux.eventlog")

BAR_CASES: list[dict[str, Any]] = [
    {"total": total, "count": count, "style": style, "width": width}
    for style in ("line", "bar", "dots", "steps", "vertbars")
    for total, count in ((100, 0), (100, 1), (100, 37), (7, 3), (3, 3), (0, 0), (10, 12))
    for width in (20, 41, 80)
] + [
    {
        "total": 10,
        "count": 4,
        "style": "vertbars",
        "width": 60,
        "before": "{count}/{total} [{label}] ",
        "after": " {percent:.0f}% done",
        "label": "jobs",
    },
    {
        "total": 10,
        "count": 4,
        "style": "bar",
        "width": 10,
        "before": "long text before ",
        "after": " and after",
    },
]

ENTRIES: list[dict[str, Any]] = [
    {
        "timestamp": 1700000000.25,
        "name": "submit",
        "context": {"userid": 1000, "urgency": 16, "flags": 0, "version": 1},
    },
    {"timestamp": 1700000000.5, "name": "validate"},
    {"timestamp": 1700000001.073045, "name": "alloc", "context": {"annotations": {"a": [1, 2]}}},
    {
        "timestamp": 1700000030.0,
        "name": "exception",
        "context": {"type": "exec", "severity": 0, "note": 'café "x"', "userid": 5},
    },
    {
        "timestamp": 1700000061.5,
        "name": "finish",
        "context": {"status": 256, "ok": True, "ratio": 0.5, "none": None},
    },
    {"timestamp": 1700003600.000001, "name": "clean", "context": {}},
]


class _Size:
    columns = 0
    lines = 0


def _bar_text(case: dict[str, Any]) -> str:
    extra = {k: v for k, v in case.items() if k not in ("total", "count", "style", "width")}
    bar = progress.ProgressBar(total=case["total"], style=case["style"], **extra)
    bar.count = case["count"]
    bar._t0 = time.time()
    return str(bar._formatter(bar, case["width"]))


def _terminal_session() -> str:
    """start / update / stop of a ProgressBar on a 30x8 terminal: the bytes written."""
    real = shutil.get_terminal_size
    shutil.get_terminal_size = lambda *a, **k: os.terminal_size((30, 8))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            bar = progress.ProgressBar(total=2, style="bar").start()
            bar.update()
            bar.update()
            bar.stop()
    finally:
        shutil.get_terminal_size = real
    return out.getvalue()


def _formatted(fmt: str, ts: str, color: str) -> list[str]:
    formatter = eventlog.EventLogFormatter(format=fmt, timestamp_format=ts, color=color)
    return [formatter.format(dict(entry)) for entry in ENTRIES]


def main() -> None:
    answers: dict[str, Any] = {
        "bars": [dict(case, text=_bar_text(case)) for case in BAR_CASES],
        "bottombar_default": str(progress.Bottombar(None, a=1, b="x")._format(None, 80)),
        "elapsed_dt": [str(progress.ElapsedTime(v).dt) for v in (0.0, 0.4, 59.5, 3725.2)],
        "terminal_session": _terminal_session(),
        "entries": ENTRIES,
        "formatted": {},
    }
    for tz in ("UTC", "Asia/Kolkata"):
        os.environ["TZ"] = tz
        time.tzset()
        for fmt in ("text", "json"):
            for ts in ("raw", "iso", "offset", "human", "reltime"):
                for color in ("always", "never"):
                    key = f"{tz} {fmt} {ts} {color}"
                    answers["formatted"][key] = _formatted(fmt, ts, color)
    json.dump(answers, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
