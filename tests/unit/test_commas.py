"""Comma lists: one reading for every key that takes one."""

from __future__ import annotations

from offramp.commas import split_commas


def test_a_comma_list_is_split_trimmed_and_blanks_dropped() -> None:
    """``" a, b,,c ,"`` reads as three items, a JSON list as its trimmed non-blank items."""
    assert split_commas(" a, b,,c ,") == ["a", "b", "c"]
    assert split_commas("") == []
    assert split_commas([" x", "", "y "]) == ["x", "y"]


def test_key_value_entries_keep_their_colons() -> None:
    """Entries like ``user:pass`` stay whole; the caller splits each one."""
    assert split_commas("ops:pw, ci:p:w2") == ["ops:pw", "ci:p:w2"]
