"""Transforms, predicates and converters as plug-ins: built in, or from entry points.

Each kind is one ``ExtensionGroup``: the built-ins under their Kafka Connect class names
(``org.apache.kafka.connect.transforms.InsertField$Value``, answering to the short form
after the last dot too), plus every entry point of the group's name
(``offramp.transforms``, ``offramp.predicates``, ``offramp.converters``), answering to
its name (the alias, ``tag``) and its value (``my_package.smts:AddTag``). Built-ins
also answer to their own ``module:Class``. Nothing else resolves, so a config can never
make the worker import an arbitrary module.

Entry points are read when first needed and again when a name isn't found (a package
installed or a ``plugin.path`` added since), never per record.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from offramp.errors import PluginNotFoundError

__all__ = ["Extension", "ExtensionGroup", "short_name"]

log = logging.getLogger("offramp.registry")

T = TypeVar("T")

BUILT_IN_VERSION = "0.1.0"


def short_name(class_name: str) -> str:
    """``org.apache.kafka.connect.transforms.Cast$Value`` → ``Cast$Value``;
    ``my_package.smts:AddTag`` → ``AddTag``."""
    return class_name.rpartition(":")[2].rpartition(".")[2]


@dataclass(frozen=True)
class Extension(Generic[T]):
    """One transform, predicate or converter class and the names it answers to."""

    class_name: str
    """What ``/connector-plugins`` lists: the Kafka Connect name of a built-in, the
    ``module:Class`` of an entry point."""
    cls: type[T]
    version: str
    names: tuple[str, ...]
    alias: str | None = None  # the entry point's name


class ExtensionGroup(Generic[T]):
    """The plug-ins of one kind, found by any of their names."""

    def __init__(
        self,
        kind: str,
        group: str,
        base: type[Any],  # type[T] refuses an abstract class
        built_in: Mapping[str, type[T]],
        *,
        load_entry_points: bool = True,
    ) -> None:
        self.kind = kind  # "transformation", "predicate", "converter"
        self.group = group
        self.base = base
        self._lock = threading.RLock()
        self._built_in = _built_ins(built_in)
        self._load_entry_points = load_entry_points
        self._scanned = False
        self._loaded: dict[str, Extension[T]] = {}  # entry-point value → loaded
        self._pending: dict[str, EntryPoint] = {}  # entry-point value → not loaded yet
        self.broken: dict[str, str] = {}  # entry-point value → why it doesn't load
        self._names: dict[str, Extension[T]] = {}
        self._index()

    # -- discovery -----------------------------------------------------------------

    def _index(self) -> None:
        names: dict[str, Extension[T]] = {}
        for ext in [*self._built_in, *self._loaded.values()]:
            for name in ext.names:
                names.setdefault(name, ext)
        self._names = names

    def _scan(self) -> None:
        self._scanned = True
        if not self._load_entry_points:
            return
        for ep in entry_points(group=self.group):
            if ep.value not in self._loaded and ep.value not in self.broken:
                self._pending.setdefault(ep.value, ep)

    def _load(self, value: str) -> Extension[T] | None:
        ep = self._pending.pop(value)
        try:
            cls = ep.load()
        except Exception as exc:
            self.broken[value] = f"{value} failed to import: {type(exc).__name__}: {exc}"
            log.warning("%s plug-in %r does not load: %s", self.kind, ep.name, self.broken[value])
            return None
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            self.broken[value] = f"{value} is not a {self.base.__name__}"
            log.warning("%s plug-in %r: %s", self.kind, ep.name, self.broken[value])
            return None
        version = getattr(cls, "version", None)
        if not isinstance(version, str):
            version = ep.dist.version if ep.dist is not None else BUILT_IN_VERSION
        ext: Extension[T] = Extension(value, cls, version, (ep.name, value), alias=ep.name)
        self._loaded[value] = ext
        self._index()
        return ext

    def register(self, alias: str, cls: type[T], version: str = BUILT_IN_VERSION) -> None:
        """Register a class in-process (tests, embedding applications), as an entry
        point named ``alias`` would."""
        value = f"{cls.__module__}:{cls.__qualname__}"
        with self._lock:
            self._pending.pop(value, None)
            self._loaded[value] = Extension(value, cls, version, (alias, value), alias=alias)
            self._index()

    # -- lookup --------------------------------------------------------------------

    def get(self, name: str) -> Extension[T]:
        """The plug-in answering to ``name``; ``PluginNotFoundError`` (with a "did you
        mean") otherwise."""
        name = name.strip()
        with self._lock:
            found = self._find(name)
            if found is None:
                self._scan()  # a package installed since the last look
                found = self._find(name)
            if found is None:
                raise self.not_found(name)
            return found

    def _find(self, name: str) -> Extension[T] | None:
        if not self._scanned:
            self._scan()
        found = self._names.get(name)
        if found is not None:
            return found
        for value, ep in list(self._pending.items()):
            if name in (ep.name, value):
                return self._load(value)
        return None

    def knows(self, name: str) -> bool:
        """Whether ``name`` resolves in this group (without raising)."""
        try:
            self.get(name)
        except PluginNotFoundError:
            return False
        return True

    def extensions(self) -> list[Extension[T]]:
        """Every plug-in that loads (entry points re-read); the others are in ``broken``."""
        with self._lock:
            self._scan()
            for value in list(self._pending):
                self._load(value)
            return [*self._built_in, *self._loaded.values()]

    def names(self) -> list[str]:
        with self._lock:
            self.extensions()
            return list(self._names)

    def listing(self) -> list[dict[str, str]]:
        """Entries for ``GET /connector-plugins?connectorsOnly=false``."""
        return [
            {"class": ext.class_name, "type": self.kind, "version": ext.version}
            for ext in self.extensions()
        ]

    def not_found(self, name: str) -> PluginNotFoundError:
        names = self.names()
        # Compare like with like: a dotted name with dotted names, a short one with short.
        candidates = [n for n in names if ("." in n) == ("." in name)] or names
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = "known: " + ", ".join(sorted(_shown(ext) for ext in self.extensions()))
        return PluginNotFoundError(f"unknown {self.kind} {name!r}; {hint}")


def _built_ins(built_in: Mapping[str, type[T]]) -> list[Extension[T]]:
    """One entry per class: listed by its first dotted name, answering to that, the
    short form of each dotted name, the undotted aliases and its ``module:Class``."""
    by_class: dict[type[T], list[str]] = {}
    for name, cls in built_in.items():
        by_class.setdefault(cls, []).append(name)
    out = []
    for cls, given in by_class.items():
        dotted = [n for n in given if "." in n]
        names = [*dotted, *(short_name(n) for n in dotted), *(n for n in given if "." not in n)]
        names.append(f"{cls.__module__}:{cls.__qualname__}")
        class_name = dotted[0] if dotted else given[0]
        out.append(Extension(class_name, cls, BUILT_IN_VERSION, tuple(dict.fromkeys(names))))
    return out


def _shown(ext: Extension[Any]) -> str:
    return ext.alias or short_name(ext.class_name)
