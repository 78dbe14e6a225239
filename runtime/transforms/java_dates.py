"""Java ``SimpleDateFormat`` patterns, as Kafka Connect's timestamp transforms take them.

``TimestampConverter.format`` and ``TimestampRouter.timestamp.format`` are Java patterns
(``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``). Python's ``strftime`` can't express several of them
(``SSS`` milliseconds, ``XXX`` offsets with a colon in 3.11), so a pattern is compiled
once into tokens that both format and parse. Times are always formatted in UTC, like
Kafka Connect, which sets the formatter's zone to UTC.

Supported letters: ``y M d H h m s S a E D X Z z``; ``'text'`` is literal and ``''`` a
quote. ``S`` counts fraction-of-second digits (``SSS`` = milliseconds, as in Java;
``SSSSSS`` = microseconds, unlike Java's odd zero-padded milliseconds). A two-digit
year parses as 1969-2068, as Python's ``%y`` does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

__all__ = ["JavaDateFormat"]

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_LETTERS = frozenset("yMdHhmsSaEDXZz")


class _Field(NamedTuple):
    letter: str
    width: int


_Token = str | _Field  # a str token is literal text


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    literal: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "'":
            if pattern.startswith("''", i):
                literal.append("'")
                i += 2
                continue
            close = pattern.find("'", i + 1)
            while close >= 0 and pattern.startswith("''", close):
                close = pattern.find("'", close + 2)
            if close < 0:
                raise ValueError(f"unterminated quote in date format {pattern!r}")
            literal.append(pattern[i + 1 : close].replace("''", "'"))
            i = close + 1
            continue
        if char.isascii() and char.isalpha():
            if char not in _LETTERS:
                raise ValueError(f"unsupported letter {char!r} in date format {pattern!r}")
            end = i
            while end < n and pattern[end] == char:
                end += 1
            if literal:
                tokens.append("".join(literal))
                literal = []
            tokens.append(_Field(char, end - i))
            i = end
            continue
        literal.append(char)
        i += 1
    if literal:
        tokens.append("".join(literal))
    return tokens


def _names(names: list[str], count: int) -> list[str]:
    return names if count >= 4 else [name[:3] for name in names]


def _digits(count: int, widest: int = 2) -> str:
    return rf"(\d{{1,{widest}}})" if count == 1 else rf"(\d{{{count}}})"


def _regex_for(field: _Field) -> str:
    letter, count = field
    if letter == "y":
        return r"(\d{2})" if count == 2 else r"(\d{4,})"
    if letter == "M" and count >= 3:
        return "((?i:" + "|".join(_names(_MONTHS, count)) + "))"
    if letter == "E":
        return "(?i:" + "|".join(_names(_DAYS, count)) + ")"
    if letter == "a":
        return "((?i:AM|PM))"
    if letter == "S":
        return rf"(\d{{{count}}})"
    if letter == "D":
        return _digits(count, widest=3)
    if letter in "XZ":
        return r"(Z|[+-]\d{2}(?::?\d{2})?)"
    if letter == "z":
        return "((?i:UTC|GMT|Z))"
    return _digits(count)  # M d H h m s


def _offset(text: str) -> timedelta:
    if text.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[2:4]) if len(digits) > 2 else 0
    return sign * timedelta(hours=int(digits[:2]), minutes=minutes)


class JavaDateFormat:
    """A compiled ``SimpleDateFormat`` pattern: ``format`` in UTC and ``parse`` to UTC."""

    __slots__ = ("_fields", "_regex", "_tokens", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _tokenize(pattern)
        self._fields = [token for token in self._tokens if isinstance(token, _Field)]
        regex = "".join(
            re.escape(token) if isinstance(token, str) else _regex_for(token)
            for token in self._tokens
        )
        self._regex = re.compile(regex)

    def format(self, moment: datetime) -> str:
        """``moment`` (naive means UTC) written with the pattern, in UTC."""
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return "".join(
            token if isinstance(token, str) else _format_field(token, moment)
            for token in self._tokens
        )

    def parse(self, text: str) -> datetime:
        """The UTC instant ``text`` denotes; raises ``ValueError`` if it doesn't match."""
        match = self._regex.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} does not match the date format {self.pattern!r}")
        values: dict[str, str] = {}
        groups = iter(match.groups())
        for field in self._fields:
            if field.letter != "E":  # day names are checked by the regex, then ignored
                values[field.letter] = next(groups)
        return _build(values)


def _format_field(field: _Field, moment: datetime) -> str:
    letter, count = field
    if letter == "y":
        return f"{moment.year % 100:02d}" if count == 2 else f"{moment.year:0{count}d}"
    if letter == "M":
        if count >= 3:
            return _names(_MONTHS, count)[moment.month - 1]
        return f"{moment.month:0{count}d}"
    if letter == "E":
        return _names(_DAYS, count)[moment.weekday()]
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "S":
        micros = f"{moment.microsecond:06d}"
        return micros[:count] if count <= 6 else micros + "0" * (count - 6)
    if letter in "XZz":
        return {"X": "Z", "Z": "+0000", "z": "UTC"}[letter]
    number = {
        "d": moment.day,
        "H": moment.hour,
        "h": moment.hour % 12 or 12,
        "m": moment.minute,
        "s": moment.second,
        "D": moment.timetuple().tm_yday,
    }[letter]
    return f"{number:0{count}d}"


def _build(values: dict[str, str]) -> datetime:
    year = int(values.get("y", "1970"))
    if len(values.get("y", "")) == 2:
        year += 2000 if year < 69 else 1900
    month_text = values.get("M", "1")
    if month_text.isdigit():
        month = int(month_text)
    else:
        month = [name[: len(month_text)].lower() for name in _MONTHS].index(month_text.lower()) + 1
    hour = int(values.get("H", "0"))
    if "h" in values:
        hour = int(values["h"]) % 12 + (12 if values.get("a", "AM").upper() == "PM" else 0)
    fraction = values.get("S", "")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    zone = next((letter for letter in "XZz" if letter in values), None)
    moment = datetime(
        year,
        month,
        int(values.get("d", "1")),
        hour,
        int(values.get("m", "0")),
        int(values.get("s", "0")),
        micros,
        tzinfo=timezone(_offset(values[zone])) if zone else UTC,
    )
    if "D" in values and "M" not in values and "d" not in values:
        moment += timedelta(days=int(values["D"]) - 1)
    return moment.astimezone(UTC)
