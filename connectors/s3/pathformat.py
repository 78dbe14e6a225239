"""``path.format``: Joda-style date patterns, as Confluent's time partitioner takes them.

``'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`` renders 2026-11-20 08:00 as
``year=2026/month=11/day=20/hour=08``. Text in single quotes is literal (``''`` is a
quote), runs of a pattern letter are fields, and anything else is copied as is. Only
the letters a directory layout needs are supported; any other letter is refused when the
config is validated rather than rendered wrongly later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

__all__ = ["PathFormat", "compile_path_format"]

_FIELDS: dict[str, Callable[[datetime], int]] = {
    "y": lambda t: t.year,
    "Y": lambda t: t.year,
    "M": lambda t: t.month,
    "d": lambda t: t.day,
    "D": lambda t: t.timetuple().tm_yday,
    "H": lambda t: t.hour,
    "m": lambda t: t.minute,
    "s": lambda t: t.second,
}

PathFormat = Callable[[datetime], str]
"""Renders a (local, naive) datetime as the directory part of an object key."""


def _field(letter: str, width: int) -> Callable[[datetime], str]:
    read = _FIELDS[letter]
    if letter in "yY" and width == 2:
        return lambda t: f"{read(t) % 100:02d}"
    return lambda t: str(read(t)).zfill(width)


def compile_path_format(pattern: str) -> PathFormat:
    """Parse ``pattern`` once; raise ``ValueError`` naming what is not understood."""
    if not pattern.strip():
        raise ValueError("path.format is empty")
    parts: list[Callable[[datetime], str] | str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise ValueError(f"path.format {pattern!r} has an unclosed quote")
            parts.append("'" if end == i + 1 else pattern[i + 1 : end])
            i = end + 1
        elif ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            if ch not in _FIELDS:
                raise ValueError(
                    f"path.format {pattern!r}: pattern letter {ch!r} is not supported "
                    "(use YYYY/yyyy, MM, dd, DDD, HH, mm, ss; quote literal text)"
                )
            parts.append(_field(ch, j - i))
            i = j
        else:
            parts.append(ch)
            i += 1

    def render(moment: datetime) -> str:
        return "".join(p if isinstance(p, str) else p(moment) for p in parts)

    return render
