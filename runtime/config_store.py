"""Standalone mode's memory of REST changes: one JSON file per connector.

The directory is the worker's ``config.storage.dir``. Each connector created, changed,
paused, resumed or stopped over REST is written (atomically) as Kafka Connect's
``{"name", "config"}`` plus its target ``state``; a connector deleted over REST leaves a
tombstone ``{"name", "deleted": true}``. At start-up the worker merges these with the
connector files named on the command line:

- a name only in the command line's files runs from its file;
- a name in the store runs from the store (config and state), even if a file names it
  too: it was changed over REST after being started from that file;
- a tombstoned name does not run, even if a file names it: it was deleted over REST.
  Creating it again over REST removes the tombstone.

To make a file count again, delete that connector's file from the store directory.
File names are derived from the connector name (made filesystem-safe, plus a hash), and
the real name is read from inside the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from offramp.config import read_json_object
from offramp.errors import ConfigError

__all__ = ["ConfigStore", "PlannedConnector", "StoredConnector", "merge_connectors"]

_STATES = ("RUNNING", "PAUSED", "STOPPED")


@dataclass(frozen=True)
class StoredConnector:
    name: str
    config: dict[str, Any]
    state: str
    source: str  # where it came from, for error messages


class ConfigStore:
    """Connector configs and target states made over REST, kept in a directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                [("config.storage.dir", f"cannot create {self.directory}: {exc.strerror}")]
            ) from None
        if not os.access(self.directory, os.W_OK):
            raise ConfigError([("config.storage.dir", f"{self.directory} is not writable")])

    def path_for(self, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        return self.directory / f"{safe}-{digest}.json"

    def save(self, name: str, config: Mapping[str, Any], state: str) -> None:
        self._write(name, {"name": name, "config": dict(config), "state": state})

    def delete(self, name: str) -> None:
        self._write(name, {"name": name, "deleted": True})

    def load(self) -> tuple[list[StoredConnector], set[str]]:
        """The stored connectors, and the names deleted over REST."""
        stored: list[StoredConnector] = []
        deleted: set[str] = set()
        for path in sorted(self.directory.glob("*.json")):
            data = self._read(path)
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError([("name", f"{path} names no connector")])
            if data.get("deleted") is True:
                deleted.add(name)
                continue
            config, state = data.get("config"), data.get("state", "RUNNING")
            if not isinstance(config, dict):
                raise ConfigError([("config", f"{path} holds no config object")])
            if state not in _STATES:
                raise ConfigError([("state", f"{path}: state must be one of {_STATES}")])
            stored.append(StoredConnector(name, config, state, str(path)))
        return stored, deleted

    def _read(self, path: Path) -> dict[str, Any]:
        return read_json_object(path)

    def _write(self, name: str, document: dict[str, Any]) -> None:
        """Write-then-rename, so a crash leaves the old file or the new one, never half."""
        target = self.path_for(name)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(frozen=True)
class PlannedConnector:
    name: str
    config: dict[str, Any]
    state: str
    source: str


def merge_connectors(
    files: list[tuple[str, dict[str, Any], str]],
    stored: list[StoredConnector],
    deleted: set[str],
) -> tuple[list[PlannedConnector], list[str]]:
    """What runs at start-up (see the module docstring), and notes on what was
    overridden or skipped, for the log."""
    notes: list[str] = []
    planned: dict[str, PlannedConnector] = {}
    stored_names = {s.name for s in stored}
    for name, config, source in files:
        if name in deleted:
            notes.append(f"{name} ({source}) was deleted over REST; not started")
        elif name in stored_names:
            notes.append(f"{name}: the config changed over REST wins over {source}")
        else:
            planned[name] = PlannedConnector(name, config, "RUNNING", source)
    for s in stored:
        planned[s.name] = PlannedConnector(s.name, s.config, s.state, s.source)
    return list(planned.values()), notes
