"""Kafka Connect's list form: ``"a, b,,c"`` → ``["a", "b", "c"]``.

Configs, environment variables and ``.properties`` files give lists as one string; this
is the one place offramp reads one, so every key splits, trims and drops blanks alike.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["split_commas"]


def split_commas(value: str | Iterable[str]) -> list[str]:
    """The items of a comma list, trimmed, blanks dropped; a list given as a list (JSON)
    is trimmed the same way."""
    parts = value.split(",") if isinstance(value, str) else value
    return [part.strip() for part in parts if part.strip()]
