"""The names a connector config may use for transforms and predicates.

Each plug-in answers to its Kafka Connect class name
(``org.apache.kafka.connect.transforms.InsertField$Value``) and to the short form after
the last dot (``InsertField$Value``). Only the names listed here resolve: a config can't
make the runtime import an arbitrary module.
"""

from __future__ import annotations

import difflib
from typing import TypeVar

from offramp.errors import PluginNotFoundError
from offramp.transforms.base import Configurable, Predicate, Transformation
from offramp.transforms.cast import CastKey, CastValue
from offramp.transforms.extract import ExtractFieldKey, ExtractFieldValue, ValueToKey
from offramp.transforms.filter import Filter
from offramp.transforms.flatten import FlattenKey, FlattenValue
from offramp.transforms.headers import DropHeaders, HeaderFromKey, HeaderFromValue, InsertHeader
from offramp.transforms.hoist import HoistFieldKey, HoistFieldValue
from offramp.transforms.insert import InsertFieldKey, InsertFieldValue
from offramp.transforms.mask import MaskFieldKey, MaskFieldValue
from offramp.transforms.predicates import (
    HasHeaderKey,
    HeaderValueMatches,
    RecordIsTombstone,
    TopicNameMatches,
)
from offramp.transforms.replace import ReplaceFieldKey, ReplaceFieldValue
from offramp.transforms.routing import RegexRouter, TimestampRouter
from offramp.transforms.timestamps import TimestampConverterKey, TimestampConverterValue

__all__ = [
    "PREDICATES",
    "TRANSFORMATIONS",
    "VERSION",
    "available_plugins",
    "predicate_class",
    "short_name",
    "transformation_class",
]

VERSION = "0.1.0"
_KAFKA = "org.apache.kafka.connect.transforms."

TRANSFORMATIONS: dict[str, type[Transformation]] = {
    _KAFKA + "Cast$Key": CastKey,
    _KAFKA + "Cast$Value": CastValue,
    _KAFKA + "DropHeaders": DropHeaders,
    _KAFKA + "ExtractField$Key": ExtractFieldKey,
    _KAFKA + "ExtractField$Value": ExtractFieldValue,
    _KAFKA + "Filter": Filter,
    _KAFKA + "Flatten$Key": FlattenKey,
    _KAFKA + "Flatten$Value": FlattenValue,
    _KAFKA + "HeaderFrom$Key": HeaderFromKey,
    _KAFKA + "HeaderFrom$Value": HeaderFromValue,
    _KAFKA + "HoistField$Key": HoistFieldKey,
    _KAFKA + "HoistField$Value": HoistFieldValue,
    _KAFKA + "InsertField$Key": InsertFieldKey,
    _KAFKA + "InsertField$Value": InsertFieldValue,
    _KAFKA + "InsertHeader": InsertHeader,
    _KAFKA + "MaskField$Key": MaskFieldKey,
    _KAFKA + "MaskField$Value": MaskFieldValue,
    _KAFKA + "RegexRouter": RegexRouter,
    _KAFKA + "ReplaceField$Key": ReplaceFieldKey,
    _KAFKA + "ReplaceField$Value": ReplaceFieldValue,
    _KAFKA + "TimestampConverter$Key": TimestampConverterKey,
    _KAFKA + "TimestampConverter$Value": TimestampConverterValue,
    _KAFKA + "TimestampRouter": TimestampRouter,
    _KAFKA + "ValueToKey": ValueToKey,
}
"""Every transformation, by Kafka Connect class name."""

PREDICATES: dict[str, type[Predicate]] = {
    _KAFKA + "predicates.HasHeaderKey": HasHeaderKey,
    _KAFKA + "predicates.RecordIsTombstone": RecordIsTombstone,
    _KAFKA + "predicates.TopicNameMatches": TopicNameMatches,
    "dev.offramp.transforms.predicates.HeaderValueMatches": HeaderValueMatches,
}
"""Every predicate, by class name (``HeaderValueMatches`` is offramp's own)."""


def short_name(class_name: str) -> str:
    """``org.apache.kafka.connect.transforms.Cast$Value`` → ``Cast$Value``."""
    return class_name.rpartition(".")[2]


PluginT = TypeVar("PluginT", bound=Configurable)


def _by_any_name(full: dict[str, type[PluginT]]) -> dict[str, type[PluginT]]:
    names = dict(full)
    names.update((short_name(name), cls) for name, cls in full.items())
    return names


_TRANSFORMATION_NAMES = _by_any_name(TRANSFORMATIONS)
_PREDICATE_NAMES = _by_any_name(PREDICATES)


def _not_found(name: str, kind: str, names: dict[str, object]) -> PluginNotFoundError:
    """The error for an unknown name, suggesting the closest known spelling."""
    candidates = [n for n in names if ("." in n) == ("." in name)]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}?"
    else:
        hint = "known: " + ", ".join(sorted(short_name(n) for n in names if "." in n))
    return PluginNotFoundError(f"unknown {kind} {name!r}; {hint}")


def transformation_class(name: str) -> type[Transformation]:
    """The transformation registered as ``name`` (full or short); raises
    ``PluginNotFoundError`` with a "did you mean" suggestion otherwise."""
    found = _TRANSFORMATION_NAMES.get(name.strip())
    if found is not None:
        return found
    if name.strip() in _PREDICATE_NAMES:
        raise PluginNotFoundError(f"{name!r} is a predicate, not a transformation")
    raise _not_found(name.strip(), "transformation", dict(_TRANSFORMATION_NAMES))


def predicate_class(name: str) -> type[Predicate]:
    """The predicate registered as ``name`` (full or short), like ``transformation_class``."""
    found = _PREDICATE_NAMES.get(name.strip())
    if found is not None:
        return found
    if name.strip() in _TRANSFORMATION_NAMES:
        raise PluginNotFoundError(f"{name!r} is a transformation, not a predicate")
    raise _not_found(name.strip(), "predicate", dict(_PREDICATE_NAMES))


def available_plugins() -> list[dict[str, str]]:
    """Entries for ``GET /connector-plugins?connectorsOnly=false``, by class name."""
    entries = [
        {"class": name, "type": "transformation", "version": VERSION} for name in TRANSFORMATIONS
    ]
    entries += [{"class": name, "type": "predicate", "version": VERSION} for name in PREDICATES]
    return sorted(entries, key=lambda entry: entry["class"])
