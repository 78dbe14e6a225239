"""Java regular expressions and replacement strings, as Kafka Connect configs write them.

Connect's ``RegexRouter``, ``TopicNameMatches`` and friends take ``java.util.regex``
patterns and ``Matcher.replaceFirst`` replacements (``$1``, ``${name}``). Python's
``re`` agrees on almost everything except named groups (``(?<name>...)`` and
``\\k<name>``), ``\\Q...\\E`` quoting, and the ``$`` syntax of replacements; this module
translates those so configs copied from Kafka Connect keep working.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "NEVER_MATCHES",
    "GroupRef",
    "compile_java_regex",
    "expand_java_replacement",
    "parse_java_replacement",
]

NEVER_MATCHES = re.compile(r"(?!)")
"""Stands in for a pattern whose config was refused, so attributes keep exact types."""

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            escaped = pattern[i + 1]
            if escaped == "Q":  # \Q...\E quotes everything in between
                end = pattern.find("\\E", i + 2)
                stop = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : stop]))
                i = n if end < 0 else end + 2
                continue
            if escaped == "k" and not in_class and pattern.startswith("<", i + 2):
                close = pattern.find(">", i + 3)
                if close > 0:
                    out.append(f"(?P={pattern[i + 3 : close]})")
                    i = close + 1
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal member, not the class end.
            lead = 2 if pattern.startswith("^", i + 1) else 1
            if pattern.startswith("]", i + lead):
                out.append(pattern[i : i + lead + 1])
                i += lead + 1
                continue
        elif pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] in _NAME_START:
            out.append("(?P<")
            i += 3
            continue
        out.append(char)
        i += 1
    return "".join(out)


def compile_java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regex for ``re``; raises ``re.error`` if Python can't express it."""
    return re.compile(_translate(pattern))


class GroupRef(NamedTuple):
    """A ``$1`` or ``${name}`` in a replacement: the text of that group (empty if unset)."""

    group: int | str


def parse_java_replacement(replacement: str, pattern: re.Pattern[str]) -> list[str | GroupRef]:
    """Split a ``Matcher.replaceFirst`` replacement into literal text and group references.

    Follows Java: ``\\x`` is a literal ``x``; ``$`` takes the longest run of digits that
    still names an existing group. Raises ``ValueError`` for a reference to a group the
    pattern doesn't have, as Java would at the first match.
    """
    parts: list[str | GroupRef] = []
    literal: list[str] = []
    i, n = 0, len(replacement)
    while i < n:
        char = replacement[i]
        if char == "\\":
            if i + 1 >= n:
                raise ValueError("character to be escaped is missing at the end")
            literal.append(replacement[i + 1])
            i += 2
            continue
        if char != "$":
            literal.append(char)
            i += 1
            continue
        ref, i = _group_reference(replacement, i + 1, pattern)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(ref)
    if literal:
        parts.append("".join(literal))
    return parts


def _group_reference(text: str, start: int, pattern: re.Pattern[str]) -> tuple[GroupRef, int]:
    if start >= len(text):
        raise ValueError("illegal group reference: '$' at the end")
    if text[start] == "{":
        close = text.find("}", start)
        if close < 0:
            raise ValueError("named group reference is missing its '}'")
        name = text[start + 1 : close]
        if name not in pattern.groupindex:
            raise ValueError(f"no group named {name!r} in the regex")
        return GroupRef(name), close + 1
    if not text[start].isdigit():
        raise ValueError(f"illegal group reference '${text[start]}'")
    number = int(text[start])
    if number > pattern.groups:
        raise ValueError(f"no group {number} in the regex (it has {pattern.groups})")
    end = start + 1
    while end < len(text) and text[end].isdigit():
        longer = number * 10 + int(text[end])
        if longer > pattern.groups:
            break
        number, end = longer, end + 1
    return GroupRef(number), end


def expand_java_replacement(parts: list[str | GroupRef], match: re.Match[str]) -> str:
    """The replacement text for one match, from ``parse_java_replacement``'s parts."""
    return "".join(
        part if isinstance(part, str) else (match.group(part.group) or "") for part in parts
    )
