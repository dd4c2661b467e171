"""Human-written dates and times, as ``flux.util.parse_datetime`` reads them.

:func:`parse_datetime` reads ``+FSD``/``-FSD`` offsets from now (``+1.5h``),
``now``, and an English subset of what Flux's tools accept (flux uses the
``parsedatetime`` package; fluxsdk reads the common forms itself):

* dates: ``2021-06-10``, ``2021/06/10``, ``6/10/2021``, ``6/10/21``, ``6/10``,
  ``Jun 10``, ``June 10, 2021``, ``10 June 2021``, a month alone (``june``);
  a date without a year that has passed this year means next year's;
* times: ``8am``, ``8 am``, ``5:30pm``, ``17:30``, ``17:30:15``, ``noon``,
  ``midnight``; ``T`` may join an ISO date and time (``2021-06-10T08:00``);
* days: ``today``, ``tomorrow``, ``yesterday``, a weekday (``wed``: the next
  one), ``next``/``last`` + weekday, ``week``, ``month`` or ``year``;
* offsets: ``in 10 min``, ``in 1 hour 30 minutes``, ``3 days ago``,
  ``2 weeks from now``, ``10 minutes``.

As in flux, a date alone keeps the current time of day, while ``today``,
``tomorrow``, ``yesterday`` and ``next``/``last`` forms start at midnight;
a time alone is today's. Parts combine: ``noon tomorrow``, ``friday 3pm``,
``July 4, 2021 3pm``. A word that is not understood is an error (flux would
sometimes skip it).

:class:`UtilDatetime` is a :class:`~datetime.datetime` whose format spec can
carry a width and alignment after ``::`` (``f"{t:%b%d %R::>12}"``).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from fluxsdk.errors import InvalidInputError

__all__ = ["UtilDatetime", "parse_datetime"]

_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (calendar.month_name[number].lower(), calendar.month_abbr[number].lower())
}
_MONTHS["sept"] = 9
_WEEKDAYS = {
    name: number
    for number in range(7)
    for name in (calendar.day_name[number].lower(), calendar.day_abbr[number].lower())
}
_WEEKDAYS.update({"tues": 1, "wednes": 2, "thur": 3, "thurs": 3})

# Offset units in seconds; months and years are calendar steps.
_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800.0),
}
_MONTH_UNITS = {"mo": 1, "month": 1, "months": 1, "yr": 12, "year": 12, "years": 12}

_TIME_RE = re.compile(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?(am|pm)?")
_ISO_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:t(\d{1,2}:\d{2}(?::\d{2})?))?")
_SLASH_RE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
_NUMBER_UNIT_RE = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


class _Reading:
    """What the words of one date-time string have said so far."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.day: date | None = None
        self.midnight = False  # the day words start at 00:00 unless a time is given
        self.time: tuple[int, int, int] | None = None
        self.offset = timedelta()
        self.months = 0

    def set_day(self, day: date, midnight: bool) -> None:
        if self.day is not None:
            raise InvalidInputError("two dates given")
        self.day, self.midnight = day, midnight

    def set_time(self, hour: int, minute: int = 0, second: int = 0) -> None:
        if self.time is not None:
            raise InvalidInputError("two times of day given")
        if hour == 24 and minute == 0 and second == 0:
            hour = 0
        if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60):
            raise InvalidInputError(f"no such time of day {hour}:{minute:02d}:{second:02d}")
        self.time = (hour, minute, second)

    def calendar_day(self, year: int | None, month: int, day: int) -> None:
        """A date; without a year, the next one from today."""
        this_year = self.now.year if year is None else year
        try:
            found = date(this_year, month, day)
            if year is None and found < self.now.date():
                found = found.replace(year=this_year + 1)
        except ValueError as exc:
            raise InvalidInputError(f"no such date: {exc}") from None
        self.set_day(found, midnight=False)

    def result(self) -> datetime:
        moment = self.now
        if self.day is not None:
            moment = datetime.combine(self.day, moment.time())
        if self.time is not None:
            hour, minute, second = self.time
            moment = moment.replace(hour=hour, minute=minute, second=second, microsecond=0)
        elif self.midnight:
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.months:
            moment = datetime.combine(_add_months(moment.date(), self.months), moment.time())
        return moment + self.offset


def _time_word(word: str, following: str | None) -> tuple[tuple[int, int, int], bool] | None:
    """Read a time of day; returns it and whether the following word (am/pm) was used."""
    match = _TIME_RE.fullmatch(word)
    if match is None:
        return None
    hour_s, minute_s, second_s, half = match.groups()
    used_next = False
    if half is None and following in ("am", "pm"):
        half, used_next = following, True
    if minute_s is None and half is None:
        return None  # a bare number is not a time
    hour, minute, second = int(hour_s), int(minute_s or 0), int(second_s or 0)
    if half is not None:
        if not 1 <= hour <= 12:
            raise InvalidInputError(f"no such time of day {word} {half}".rstrip())
        hour = hour % 12 + (12 if half == "pm" else 0)
    return (hour, minute, second), used_next


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _read(words: list[str], reading: _Reading) -> None:
    now = reading.now
    today = now.date()
    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        after = words[i + 2] if i + 2 < len(words) else None
        if word in ("now", "at", "on"):
            if word != "now" and following is None:
                raise InvalidInputError(f"nothing after {word!r}")
        elif word in ("today", "tomorrow", "yesterday"):
            shift = {"today": 0, "tomorrow": 1, "yesterday": -1}[word]
            reading.set_day(today + timedelta(days=shift), midnight=True)
        elif word == "noon":
            reading.set_time(12)
        elif word == "midnight":
            reading.set_time(0)
        elif word in ("next", "last"):
            sign = 1 if word == "next" else -1
            if following in _WEEKDAYS:
                diff = _WEEKDAYS[following] - today.weekday()
                days = diff + 7 if sign > 0 else (diff if diff < 0 else diff - 7)
                reading.set_day(today + timedelta(days=days), midnight=True)
            elif following in ("week", "wk"):
                reading.set_day(today + timedelta(days=7 * sign), midnight=True)
            elif following in ("month", "mo"):
                reading.set_day(_add_months(today.replace(day=1), sign), midnight=True)
            elif following in ("year", "yr"):
                reading.set_day(date(today.year + sign, 1, 1), midnight=True)
            else:
                raise InvalidInputError(
                    f"{word!r} must be followed by a weekday, week, month or year"
                )
            i += 1
        elif word in _WEEKDAYS:
            days = (_WEEKDAYS[word] - today.weekday()) % 7 or 7
            reading.set_day(today + timedelta(days=days), midnight=False)
        elif word in _MONTHS:
            month = _MONTHS[word]
            if following is not None and following.isdigit() and len(following) <= 2:
                year = None
                if after is not None and after.isdigit() and len(after) == 4:
                    year = int(after)
                    i += 1
                reading.calendar_day(year, month, int(following))
                i += 1
            else:
                reading.calendar_day(None, month, 1)
        elif word == "in":
            if following is None or not (
                _NUMBER_RE.fullmatch(following) or _NUMBER_UNIT_RE.fullmatch(following)
            ):
                raise InvalidInputError("'in' must be followed by an amount, e.g. 'in 10 min'")
        elif word == "ago":
            raise InvalidInputError("'ago' must follow an amount, e.g. '3 days ago'")
        elif (match := _ISO_RE.fullmatch(word)) is not None:
            y_text, m_text, d_text, clock = match.groups()
            reading.calendar_day(int(y_text), int(m_text), int(d_text))
            if clock is not None:
                time = _time_word(clock, None)
                assert time is not None
                reading.set_time(*time[0])
        elif (match := _SLASH_RE.fullmatch(word)) is not None:
            m_text, d_text, y_text = match.groups()
            reading.calendar_day(
                None if y_text is None else _year(y_text), int(m_text), int(d_text)
            )
        elif (time := _time_word(word, following)) is not None:
            reading.set_time(*time[0])
            i += time[1]
        elif word.isdigit() and len(word) <= 2 and following in _MONTHS:
            year = None
            if after is not None and after.isdigit() and len(after) == 4:
                year = int(after)
            reading.calendar_day(year, _MONTHS[following], int(word))
            i += 2 if year is None else 3
            continue
        else:
            i = _read_amounts(words, i, reading)
            continue
        i += 1


def _read_amounts(words: list[str], i: int, reading: _Reading) -> int:
    """Read ``N unit [N unit...] [ago | from now]`` from ``words[i]``; return the next index."""
    seconds, months, start = 0.0, 0, i
    while i < len(words):
        match = _NUMBER_UNIT_RE.fullmatch(words[i])
        if match is not None:
            amount, unit = match.groups()
            i += 1
        elif _NUMBER_RE.fullmatch(words[i]) and i + 1 < len(words):
            amount, unit = words[i], words[i + 1]
            i += 2
        else:
            break
        if unit in _SECONDS:
            seconds += float(amount) * _SECONDS[unit]
        elif unit in _MONTH_UNITS and float(amount).is_integer():
            months += int(float(amount)) * _MONTH_UNITS[unit]
        else:
            raise InvalidInputError(f"unknown time unit {unit!r}")
    if i == start:
        raise InvalidInputError(f"cannot read {words[i]!r}")
    sign = 1
    if i < len(words) and words[i] == "ago":
        sign, i = -1, i + 1
    elif words[i : i + 2] == ["from", "now"]:
        i += 2
    reading.offset += timedelta(seconds=sign * seconds)
    reading.months += sign * months
    return i


def parse_datetime(string: str, now: datetime | None = None) -> datetime:
    """Return the moment ``string`` names, relative to ``now`` (default: the current time).

    ``+FSD`` and ``-FSD`` (RFC 23 durations, e.g. ``+1.5h``) offset ``now``;
    ``"now"`` is ``now`` itself; anything else is read as described in
    :mod:`fluxsdk._humantime`. The result is timezone-aware (local time),
    except that ``"now"`` returns ``now`` unchanged.

    Raises:
        InvalidInputError: (a ``ValueError``) the string names no moment.
    """
    from fluxsdk.util import parse_fsd  # fluxsdk.util re-exports this module

    if now is None:
        now = datetime.now().astimezone()
    if string == "now":
        return now
    if string.startswith(("+", "-")):
        seconds = parse_fsd(string[1:])
        stamp = now.timestamp() + (seconds if string[0] == "+" else -seconds)
        return datetime.fromtimestamp(stamp).astimezone()
    words = string.lower().replace(",", " ").split()
    if not words:
        raise InvalidInputError(f'Invalid datetime: "{string}"')
    reading = _Reading(now.replace(tzinfo=None))  # the wall-clock time is what is read
    try:
        _read(words, reading)
    except InvalidInputError as exc:
        raise InvalidInputError(f'Invalid datetime: "{string}": {exc}') from None
    # Seconds precision, read as local time, as flux does.
    return reading.result().replace(microsecond=0).astimezone()


class UtilDatetime(datetime):
    """A datetime whose format spec may add ``::`` and a str format spec.

    ``f"{t:%b%d %R::>12}"`` formats with strftime, then right-aligns in 12
    columns. The zero timestamp formats as an empty string, and an ``h``
    at the end of the spec shows it as ``-``. With no strftime part, the
    format is ``%FT%T``.
    """

    def __format__(self, fmt: str) -> str:
        timefmt, _, spec = fmt.partition("::")
        text = "" if self == datetime.fromtimestamp(0.0) else self.strftime(timefmt or "%FT%T")
        if spec.endswith("h"):
            text = text or "-"
            spec = spec[:-1] + "s"
        return format(text, spec) if spec else text
