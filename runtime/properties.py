"""Java ``.properties`` files, read the way ``java.util.Properties.load`` reads them.

Kafka Connect's worker and connector files are properties files, so offramp reads them
with the same rules:

- a logical line is a natural line (ended by ``\\n``, ``\\r`` or ``\\r\\n``) plus the
  ones after it while it ends in an odd number of backslashes; the backslash goes, and
  so does the leading whitespace (space, tab, form feed) of each continuation line;
- a logical line whose first non-whitespace character is ``#`` or ``!`` is a comment
  (a continuation line starting with one is not); blank lines are skipped;
- the key runs to the first unescaped ``=``, ``:`` or whitespace; then whitespace, at
  most one ``=`` or ``:``, and whitespace again are skipped; the rest is the value;
- in keys and values ``\\t \\n \\r \\f`` and ``\\uXXXX`` are escapes, any other
  ``\\c`` stands for ``c`` (so ``\\=``, ``\\:``, ``\\ ``, ``\\#`` and ``\\\\`` are
  literal); ``\\uD83D\\uDE00`` surrogate pairs make one character;
- a key given twice keeps its last value.

One difference: ``Properties.load(InputStream)`` decodes ISO-8859-1; a file here is read
as UTF-8 (what editors write), and as ISO-8859-1 only if it is not valid UTF-8.
"""

from __future__ import annotations

import os
import re

from offramp.errors import ConfigError

__all__ = ["parse_properties", "read_properties"]

_WHITESPACE = " \t\f"
_NATURAL_LINE = re.compile(r"\r\n|\r|\n")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _continues(line: str) -> bool:
    """True if ``line`` ends in an odd number of backslashes."""
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(number of its first natural line, text)`` for each non-comment logical line."""
    lines = _NATURAL_LINE.split(text)
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].lstrip(_WHITESPACE)
        i += 1
        if not line or line[0] in "#!":
            continue
        parts = []
        while _continues(line):
            parts.append(line[:-1])
            if i >= len(lines):
                line = ""
                break
            line = lines[i].lstrip(_WHITESPACE)
            i += 1
        parts.append(line)
        out.append((number, "".join(parts)))
    return out


def _split(line: str) -> tuple[str, str]:
    """The raw (still escaped) key and value of a logical line."""
    backslash = False
    end = len(line)
    value_start = len(line)
    has_separator = False
    for index, char in enumerate(line):
        if backslash:
            backslash = False
            continue
        if char == "\\":
            backslash = True
        elif char in "=:":
            end, value_start, has_separator = index, index + 1, True
            break
        elif char in _WHITESPACE:
            end, value_start = index, index + 1
            break
    while value_start < len(line):
        char = line[value_start]
        if char not in _WHITESPACE:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return line[:end], line[value_start:]


def _unescape(text: str, where: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= n:  # a lone trailing backslash stands for nothing
            break
        escaped = text[i + 1]
        if escaped == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or not set(digits) <= _HEX:
                raise ConfigError([("", f"{where}: malformed \\uxxxx escape {text[i : i + 6]!r}")])
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        i += 2
    joined = "".join(out)
    try:  # Java strings are UTF-16: a \uD83D\uDE00 pair is one character
        return joined.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return joined  # a lone surrogate stays as it is, as in Java


def parse_properties(text: str, source: str = "<properties>") -> dict[str, str]:
    """The key/value pairs of a properties text (see the module docstring).
    ``ConfigError`` naming ``source`` and the line for a malformed ``\\u`` escape."""
    if text.startswith("\ufeff"):
        text = text[1:]
    result: dict[str, str] = {}
    for number, line in _logical_lines(text):
        key, value = _split(line)
        where = f"{source}:{number}"
        result[_unescape(key, where)] = _unescape(value, where)
    return result


def read_properties(path: str | os.PathLike[str]) -> dict[str, str]:
    """A properties file; ``ConfigError`` naming the file if it can't be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError([("", f"cannot read {os.fspath(path)}: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_properties(text, os.fspath(path))
