"""Which connector plug-ins exist: the ``offramp.connectors`` entry points, and nothing else.

A connector config names a plug-in by its alias (the entry point's name, ``sql``) or by
its full ``package.module:Class`` (the entry point's value); a built-in also by the
Kafka Connect class it stands in for (``offramp.connect_names``). Only registered plug-ins
resolve, so a config can never make the worker import an arbitrary module.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import threading
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from offramp.connect_names import connect_alias
from offramp.errors import PluginNotFoundError
from offramp.plugin import SinkConnector

__all__ = ["PluginInfo", "PluginRegistry"]

ENTRY_POINT_GROUP = "offramp.connectors"

# Before offramp had one import name its modules were top-level packages; configs stored
# or written then name classes that way and still resolve, with a warning.
RENAMED = (("connectors.", "offramp.connectors."), ("runtime.", "offramp."))

log = logging.getLogger("offramp.registry")


@dataclass(frozen=True)
class PluginInfo:
    alias: str
    class_name: str  # "package.module:Class"
    version: str
    connector: type[SinkConnector[Any]]


class PluginRegistry:
    """Connector plug-ins by alias and by class name; loaded lazily from entry points."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self._by_alias: dict[str, PluginInfo] = {}
        self._pending: dict[str, Any] = {}
        self.broken: dict[str, str] = {}  # alias → why it could not be loaded
        # Loading is lazy and REST requests arrive on many threads at once.
        self._lock = threading.RLock()
        if load_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._pending[ep.name] = ep

    def register(self, alias: str, connector: type[SinkConnector[Any]]) -> None:
        """Register a connector class in-process (tests, embedding applications)."""
        class_name = f"{connector.__module__}:{connector.__qualname__}"
        with self._lock:
            self._pending.pop(alias, None)
            self._by_alias[alias] = PluginInfo(alias, class_name, connector.version, connector)

    def _load(self, alias: str) -> PluginInfo:
        ep = self._pending.pop(alias)
        try:
            connector = ep.load()
        except Exception as exc:
            self.broken[alias] = f"{ep.value} failed to import: {type(exc).__name__}: {exc}"
            raise PluginNotFoundError([("connector.class", self.broken[alias])]) from exc
        if not (isinstance(connector, type) and issubclass(connector, SinkConnector)):
            raise PluginNotFoundError(
                [("connector.class", f"entry point {alias!r} is not a SinkConnector")]
            )
        info = PluginInfo(alias, ep.value, connector.version, connector)
        self._by_alias[alias] = info
        return info

    def plugins(self) -> list[PluginInfo]:
        """Every plug-in that loads; the others are listed in ``broken``."""
        with self._lock:
            for alias in list(self._pending):
                with contextlib.suppress(PluginNotFoundError):  # recorded in self.broken
                    self._load(alias)
            return sorted(self._by_alias.values(), key=lambda p: p.alias)

    def names(self) -> list[str]:
        with self._lock:
            names = set(self._by_alias) | set(self._pending)
            names |= {p.class_name for p in self._by_alias.values()}
            names |= {ep.value for ep in self._pending.values()}
            return sorted(names)

    def get(self, name: str) -> PluginInfo:
        """The plug-in called ``name`` (alias or ``module:Class``), or a did-you-mean."""
        with self._lock:
            return self._get(name.strip())

    def _get(self, name: str) -> PluginInfo:
        if name in self._by_alias:
            return self._by_alias[name]
        if name in self._pending:
            return self._load(name)
        for alias, ep in list(self._pending.items()):
            if ep.value == name:
                return self._load(alias)
        for info in self._by_alias.values():
            if info.class_name == name:
                return info
        stand_in = connect_alias(name)
        if stand_in is not None and stand_in != name:  # a Kafka Connect class name
            return self._get(stand_in)
        for old, new in RENAMED:
            if name.startswith(old) and ":" in name:
                info = self._get(new + name[len(old) :])
                message = (
                    f"connector.class {name!r} is the old name of {info.class_name!r}; "
                    f"use that (or the alias {info.alias!r})"
                )
                log.warning("%s", message)
                warnings.warn(message, DeprecationWarning, stacklevel=3)
                return info
        near = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        known = ", ".join(sorted(set(self._by_alias) | set(self._pending)))
        raise PluginNotFoundError(
            [("connector.class", f"no connector plug-in named {name!r}{hint} (known: {known})")]
        )
