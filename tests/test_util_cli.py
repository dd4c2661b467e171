"""fluxsdk.util's command-line helpers against real Flux's recorded answers.

``tests/data/flux_output_format.json`` and ``tests/data/flux_parse_datetime.json``
hold what flux-core v0.88.0's ``flux.util`` answered (recorded with
``flux python``, TZ=UTC).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fluxsdk.util import (
    AltField,
    CLIMain,
    ColorAction,
    DisplayValue,
    OutputFormat,
    UtilDatetime,
    YesNoAction,
    help_formatter,
    parse_datetime,
)

DATA = Path(__file__).parent / "data"
FORMATS: dict[str, Any] = json.loads((DATA / "flux_output_format.json").read_text())
DATES: dict[str, Any] = json.loads((DATA / "flux_parse_datetime.json").read_text())


@pytest.fixture
def utc() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


class Item:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


ITEMS = [Item(**fields) for fields in FORMATS["items"]]
HEADINGS: dict[str, str] = FORMATS["headings"]


# -- OutputFormat ----------------------------------------------------------------------


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize("fmt", sorted(FORMATS["formats"]))
def test_output_format_as_flux(fmt: str) -> None:
    want = FORMATS["formats"][fmt]
    of = OutputFormat(fmt, headings=HEADINGS)
    # The answers in the order flux gave them; where flux raised, so must we.
    steps: list[tuple[str, Any]] = [
        ("get_format", lambda: of.get_format()),
        ("get_format_nosort", lambda: of.get_format(include_sort_prefix=False)),
        ("orig", lambda: of.get_format(orig=True)),
        ("header_format", lambda: of.header_format()),
        ("header", lambda: of.header()),
        ("header_w8", lambda: of.header(width=8)),
        ("fields", lambda: sorted(of.fields)),
        ("lines", lambda: [of.format(item) for item in ITEMS]),
        ("filter", lambda: of.filter(ITEMS)),
        ("filter_nh", lambda: OutputFormat(fmt, headings=HEADINGS).filter(ITEMS, no_header=True)),
        ("copy_nullify", lambda: of.copy(nullify_expansion=True).get_format_prepended("")),
        ("copy_except_s", lambda: of.copy(except_fields=["s"]).get_format_prepended("")),
        ("prepended_x", lambda: of.get_format_prepended("x.")),
    ]
    for name, step in steps:
        if name not in want:
            with pytest.raises(TypeError):
                step()
            assert want["error"] == "TypeError"
            break
        assert step() == want[name], name


@pytest.mark.parametrize("keys", ["s", "-s", "i", "f,-i", "n,i", "-n"])
def test_sort_items_as_flux(keys: str) -> None:
    of = OutputFormat("{s}", headings=HEADINGS)
    of.set_sort_keys(keys)
    items = list(ITEMS)
    assert of.sort_items(items) is items
    assert [ITEMS.index(item) for item in items] == FORMATS["sorting"][keys]


def test_sort_prefix_and_bad_keys() -> None:
    of = OutputFormat("sort:-i,,s {s}", headings=HEADINGS)
    assert of.sort_keys == [("i", True), ("s", False)]
    assert of.get_format() == "sort:-i,s {0.s}"
    assert OutputFormat("sort:s{s}", headings=HEADINGS).get_format() == "sort:s{0.s}"
    for bad in ("nosuch", "s,nosuch"):
        with pytest.raises(ValueError, match="Invalid sort key"):
            OutputFormat("{s}", headings=HEADINGS).set_sort_keys(bad)
    with pytest.raises(ValueError, match="Unknown format field: zz"):
        OutputFormat("{zz}", headings=HEADINGS)


def test_display_value_order_as_flux() -> None:
    values = FORMATS["values"]
    order = sorted(range(len(values)), key=lambda k: DisplayValue(values[k]))
    assert order == FORMATS["sorting"]["displayvalue_order"]
    order = sorted(range(len(values)), key=lambda k: DisplayValue(values[k]), reverse=True)
    assert order == FORMATS["sorting"]["displayvalue_order_rev"]
    assert DisplayValue(None) == DisplayValue("-") and DisplayValue("10") == DisplayValue(10.0)
    assert DisplayValue("1e5")._type_order == DisplayValue.NUMERIC
    assert DisplayValue("x")._type_order == DisplayValue.STRING


def test_print_items(capsys: pytest.CaptureFixture[str]) -> None:
    of = OutputFormat("sort:-i +:{s} {i:>3}", headings=HEADINGS)
    items = list(ITEMS)
    of.print_items(items, width=20)
    assert capsys.readouterr().out.splitlines() == [
        "STRING" + " " * 13 + "+",
        "a much longer strin+",
        "alpha" + " " * 14 + "+",
        " " * 19 + "+",
    ]
    seen: list[Any] = []
    of.print_items(items, no_header=True, pre=seen.append, post=seen.append)
    assert capsys.readouterr().out.splitlines()[1] == "alpha" + " " * 15 + "   3"
    assert len(seen) == 6


def test_alt_field() -> None:
    field = AltField("ƒ1", "f1")
    assert f"{field:>3}" == " ƒ1" and str(field) == "ƒ1" and field.ascii == "f1"


# -- dates -------------------------------------------------------------------------------


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize("text", sorted(set(DATES["cases"]) - set(DATES["differs"])))
def test_parse_datetime_as_flux(text: str) -> None:
    now = datetime.fromisoformat(DATES["now"])
    want = DATES["cases"][text]
    if want == "ValueError":
        with pytest.raises(ValueError):
            parse_datetime(text, now)
    else:
        assert parse_datetime(text, now).strftime("%Y-%m-%d %H:%M:%S.%f") == want


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize("text", sorted(DATES["differs"]))
def test_parse_datetime_deliberate_differences(text: str) -> None:
    now = datetime.fromisoformat(DATES["now"])
    if text == "2021-07-04T12:00:00":
        assert parse_datetime(text, now) == datetime(2021, 7, 4, 12).astimezone()
    elif text == "sept 3":
        assert parse_datetime(text, now).date().isoformat() == "2021-09-03"
    else:
        with pytest.raises(ValueError, match="Invalid datetime"):
            parse_datetime(text, now)


def test_parse_datetime_now_and_offsets() -> None:
    now = datetime(2021, 6, 10, 8)
    assert parse_datetime("now", now) is now
    assert parse_datetime("+100ms", now).timestamp() == now.timestamp() + 0.1
    assert parse_datetime("-1.5m", now).timestamp() == now.timestamp() - 90
    assert parse_datetime("Jun 10, 2021 8am").tzinfo is not None


def test_util_datetime_format() -> None:
    zero = UtilDatetime.fromtimestamp(0.0)
    assert (f"{zero}", f"{zero:::h}", f"{zero:%F::>4h}") == ("", "-", "   -")
    moment = UtilDatetime(2021, 6, 10, 8)
    assert f"{moment}" == "2021-06-10T08:00:00"
    assert f"{moment:%b%d %R::>12}" == " Jun10 08:00"


# -- argparse actions ------------------------------------------------------------------------


def _color(argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("--color", action=ColorAction)
    return parser.parse_args(argv).color


def test_color_action(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _color([]) == "auto"
    assert _color(["--color"]) == "always" and _color(["--color"]).enabled
    assert not _color(["--color=never"]).enabled
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert not _color(["--color=auto"]).enabled  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert _color([]) == "never" and _color(["--color=always"]).enabled
    monkeypatch.setenv("NO_COLOR", "")
    assert _color([]) == "auto"
    with pytest.raises(SystemExit), redirect_stdout(io.StringIO()):
        _color(["--color=bogus"])


def test_yes_no_action() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opt", action=YesNoAction)
    assert parser.parse_args(["--opt=yes"]).opt is True
    assert parser.parse_args(["--opt", "no"]).opt is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--opt=maybe"])


# -- help_formatter and CLIMain ------------------------------------------------------------

CLI: dict[str, Any] = json.loads((DATA / "flux_cli_helpers.json").read_text())


@pytest.mark.parametrize("raw", [False, True])
def test_help_formatter_as_flux(raw: bool) -> None:
    parser = argparse.ArgumentParser(
        prog="tool",
        formatter_class=help_formatter(raw_description=raw),
        description="First line.\n  indented second line.",
    )
    parser.add_argument("-n", "--ntasks", type=int, help="number of tasks")
    parser.add_argument("--long-only", help="only a long option")
    parser.add_argument("-v", "--verbose", action="store_true", help="more output")
    parser.add_argument("-x", help="short only")
    parser.add_argument("--color", nargs="?", metavar="WHEN", help="optional arg")
    parser.add_argument("files", nargs="*", help="input files")
    assert parser.format_help() == CLI[f"help_raw={raw}"]
    narrow = argparse.ArgumentParser(prog="t2", formatter_class=help_formatter(argwidth=10))
    narrow.add_argument("--a-very-long-option-name", help="help text here")
    assert narrow.format_help() == CLI["help_argwidth10"]


def _exits_with(code: object) -> Callable[[], None]:
    def main() -> None:
        sys.exit(code)  # type: ignore[arg-type]

    return main


def _raises(exc: Exception) -> Callable[[], None]:
    def main() -> None:
        raise exc

    return main


MAINS: dict[str, Callable[[], object]] = {
    "ok": lambda: None,
    "exit3": _exits_with(3),
    "exitstr": _exits_with("bye"),
    "runtime": _raises(RuntimeError("it broke")),
    "nofile": lambda: Path("/nonexistent/x").read_text(),
    "value": _raises(ValueError("bad value")),
}


@pytest.mark.parametrize("name", sorted(MAINS))
def test_climain_as_flux(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLUX_PYCLI_LOGLEVEL", raising=False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # let CLIMain configure logging afresh
    with pytest.raises(SystemExit) as info:
        CLIMain(logging.getLogger("tool"))(MAINS[name])
    want = CLI["climain"][name]
    assert info.value.code == want["code"]
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert errors[:1] == want["stderr_first"]


def test_nullify_expansion_sentinel_argument() -> None:
    # What flux documents for this argument (flux 0.88 accepts and ignores it).
    of = OutputFormat("+:{s:<10.10} {i}", headings=HEADINGS, nullify_expansion_sentinel=True)
    assert of.get_format() == "{0.s} {0.i}"


def test_format_spec_parts_can_be_changed() -> None:
    spec = OutputFormat.FormatSpec("%H::>8.3h")
    assert (spec.align, spec.width, spec.precision, spec.hyphen) == (">", 8, 3, "h")
    spec.width = 12  # widening a str precision widens the precision too
    spec.fill = "*"
    assert str(spec) == "*>12.12h"
    assert OutputFormat.FormatSpec("not a spec!").width == ""
