"""Standalone persistence of REST changes, and how it merges with connector files."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.config_store import ConfigStore, merge_connectors
from offramp.errors import ConfigError


def test_saved_connectors_and_tombstones_load_back(tmp_path: Path) -> None:
    """Configs (references kept as given) and target states round-trip; a deleted name
    comes back as a tombstone; names unfit for file names are fine."""
    store = ConfigStore(tmp_path / "store")
    store.save("a/b c", {"topics": "t", "secret": "${env:X}"}, "PAUSED")
    store.save("gone", {"topics": "t"}, "RUNNING")
    store.delete("gone")
    stored, deleted = store.load()
    assert [(s.name, s.config, s.state) for s in stored] == [
        ("a/b c", {"topics": "t", "secret": "${env:X}"}, "PAUSED")
    ]
    assert deleted == {"gone"}
    assert not list((tmp_path / "store").glob(".tmp-*")), "no temporary files left"


def test_stored_wins_over_files_and_tombstones_skip_them() -> None:
    """A file's connector runs unless it was changed (stored wins) or deleted over REST."""
    from offramp.config_store import StoredConnector

    files = [
        ("plain", {"v": "file"}, "plain.json"),
        ("changed", {"v": "file"}, "changed.json"),
        ("deleted", {"v": "file"}, "deleted.json"),
    ]
    stored = [StoredConnector("changed", {"v": "rest"}, "STOPPED", "store/changed.json")]
    planned, notes = merge_connectors(files, stored, {"deleted"})
    assert {p.name: (p.config["v"], p.state) for p in planned} == {
        "plain": ("file", "RUNNING"),
        "changed": ("rest", "STOPPED"),
    }
    assert len(notes) == 2 and any("deleted over REST" in n for n in notes)


def test_a_corrupt_store_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """Broken JSON in the store stops start-up with the file named."""
    (tmp_path / "x.json").write_text("{oops")
    with pytest.raises(ConfigError, match=r"x\.json is not valid JSON"):
        ConfigStore(tmp_path).load()
