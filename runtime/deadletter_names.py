"""Dead-letter topic names per source topic: ``${topic}`` in
``errors.deadletterqueue.topic.name`` keeps each tenant's rejects in a topic of its own.

The connector must never consume its own dead letters (a rejected record would come
back, be rejected again and loop). With a ``topics`` list that is a membership check;
with ``topics.regex`` the dead-letter names form a language of their own —
``prefix (regex) suffix`` — and it must not share a single name with the regex: that is
decided exactly by intersecting the two automata (interegular), not by trying names.
"""

from __future__ import annotations

import re

import interegular

__all__ = ["TOPIC", "dead_letter_problems", "dead_letter_topic", "is_templated"]

TOPIC = "${topic}"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_KEY = "errors.deadletterqueue.topic.name"


def is_templated(name: str) -> bool:
    return TOPIC in name


def dead_letter_topic(name: str, source_topic: str) -> str:
    """The dead-letter topic for a record of ``source_topic``."""
    return name.replace(TOPIC, source_topic)


def dead_letter_problems(name: str, topics: list[str], regex: str | None) -> list[str]:
    """What is wrong with ``name`` as this connector's dead-letter topic (``regex`` is
    None when it is unset or already found invalid)."""
    if not name:
        return []
    unknown = [p for p in _PLACEHOLDER.findall(name) if p != "topic"]
    if unknown:
        return [f"{_KEY} {name!r}: ${{{unknown[0]}}} is not known; only {TOPIC} is replaced"]
    consumed = [t for t in topics if dead_letter_topic(name, t) in topics]
    if consumed:
        what = dead_letter_topic(name, consumed[0])
        return [f"{_KEY} {name!r} must not be a consumed topic ({what!r} is in topics)"]
    if regex and _overlaps(name, regex):
        return [
            f"{_KEY} {name!r} must not be a consumed topic: some of its names match "
            f"topics.regex {regex!r}, so the connector would read its own dead letters "
            "(give the dead-letter topics a prefix or suffix the regex can't match)"
        ]
    return []


def _overlaps(name: str, regex: str) -> bool:
    """Whether some dead-letter name of a topic matching ``regex`` matches it too."""
    parts = [re.escape(p) for p in name.split(TOPIC)]
    names = f"({regex})".join(parts)
    ours = interegular.parse_pattern(f"({regex})").to_fsm()
    theirs = interegular.parse_pattern(names).to_fsm()
    return not (ours & theirs).empty()
