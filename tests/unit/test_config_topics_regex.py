"""topics.regex is a whole-name match, written in syntax every topic matcher shares."""

from __future__ import annotations

import ctypes
import ctypes.util
import re

import pytest
from pydantic import ValidationError

from offramp.config import ConnectorSettings


def _settings(regex: str, **extra: str) -> ConnectorSettings:
    return ConnectorSettings.model_validate(
        {"name": "c", "connector.class": "recording", "topics.regex": regex, **extra}
    )


def _posix_matches(pattern: str, names: list[str]) -> list[str]:
    """The names libc's POSIX extended regex (what librdkafka runs for the classic
    protocol) finds ``pattern`` in, the way librdkafka calls it."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    compiled = ctypes.create_string_buffer(1024)  # larger than any libc's regex_t
    reg_extended, reg_nosub = 1, 8  # glibc's values
    assert libc.regcomp(compiled, pattern.encode(), reg_extended | reg_nosub) == 0, pattern
    try:
        return [n for n in names if libc.regexec(compiled, n.encode(), 0, None, 0) == 0]
    finally:
        libc.regfree(compiled)


NAMES = ["calls", "calls-dlq", "xcalls", "calls-1", "calls-12", "billing", "calls.v2"]


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        ("calls", ["calls"]),
        ("calls-[0-9]+", ["calls-1", "calls-12"]),
        ("calls|billing", ["calls", "billing"]),
        ("^calls$", ["calls"]),
        ("calls.*", ["calls", "calls-dlq", "calls-1", "calls-12", "calls.v2"]),
        ("calls\\.v2", ["calls.v2"]),
    ],
)
def test_the_subscription_matches_whole_names_as_python_does(
    regex: str, expected: list[str]
) -> None:
    """The subscribed pattern, run by libc's POSIX regex as librdkafka runs it, matches
    exactly the names Python's re.fullmatch does: calls is not calls-dlq."""
    (pattern,) = _settings(regex).subscription
    assert pattern.startswith("^")  # librdkafka's mark of a regex subscription
    assert _posix_matches(pattern, NAMES) == expected
    assert [n for n in NAMES if re.fullmatch(regex, n)] == expected


@pytest.mark.parametrize(
    "regex",
    [
        "calls-\\d+",
        "(?:calls)",
        "(?i)calls",
        "calls-[\\w]+",
        "calls-[a\\-z]",
        "calls-[[:digit:]]+",
        "calls.*?",
        "calls.++",
        "calls-x{,3}",
        "(calls)\\1",
    ],
)
def test_syntax_the_matchers_read_differently_is_refused(regex: str) -> None:
    """Shorthand escapes, (?…) groups, backslashes or POSIX classes in brackets, lazy or
    possessive quantifiers and {,n} are refused up front, naming the construct."""
    with pytest.raises(ValidationError, match="the topic matchers don't read alike"):
        _settings(regex)


def test_portable_escapes_and_brackets_are_accepted() -> None:
    """Escaped punctuation, bracket expressions with a literal ] or - and anchors pass."""
    for regex in ("calls\\.v[0-9]", "calls[]_-]x", "calls[^.]+", "^(calls|billing)-[a-z]{2,3}$"):
        assert _settings(regex).subscription == [f"^({regex})$"]


def test_a_dead_letter_topic_the_regex_matches_whole_is_refused() -> None:
    """The DLQ check uses the same whole-name meaning: calls.* can't dead-letter to
    calls-dlq, but calls can."""
    with pytest.raises(ValidationError, match="must not be a consumed topic"):
        _settings("calls.*", **{"errors.deadletterqueue.topic.name": "calls-dlq"})
    assert _settings("calls", **{"errors.deadletterqueue.topic.name": "calls-dlq"})
