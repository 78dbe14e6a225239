"""The names a connector config may use for transforms and predicates.

Each built-in answers to its Kafka Connect class name
(``org.apache.kafka.connect.transforms.InsertField$Value``), to the short form after
the last dot (``InsertField$Value``) and to its ``module:Class``. Third-party ones come
from the entry-point groups ``offramp.transforms`` and ``offramp.predicates`` (see
``offramp.extensions``). Only these names resolve: a config can't make the runtime
import an arbitrary module.
"""

from __future__ import annotations

from offramp.errors import PluginNotFoundError
from offramp.extensions import BUILT_IN_VERSION, ExtensionGroup, short_name
from offramp.transforms.base import Predicate, Transformation
from offramp.transforms.cast import CastKey, CastValue
from offramp.transforms.extract import ExtractFieldKey, ExtractFieldValue, ValueToKey
from offramp.transforms.filter import Filter
from offramp.transforms.flatten import FlattenKey, FlattenValue
from offramp.transforms.headers import DropHeaders, HeaderFromKey, HeaderFromValue, InsertHeader
from offramp.transforms.hoist import HoistFieldKey, HoistFieldValue
from offramp.transforms.insert import InsertFieldKey, InsertFieldValue
from offramp.transforms.mask import MaskFieldKey, MaskFieldValue
from offramp.transforms.predicates import (
    FieldValueMatches,
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
    "PREDICATE_PLUGINS",
    "TRANSFORMATIONS",
    "TRANSFORMATION_PLUGINS",
    "VERSION",
    "available_plugins",
    "predicate_class",
    "short_name",
    "transformation_class",
]

VERSION = BUILT_IN_VERSION
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
    "dev.offramp.transforms.predicates.FieldValueMatches": FieldValueMatches,
}
"""Every predicate, by class name (``HeaderValueMatches`` and ``FieldValueMatches`` are
offramp's own)."""


TRANSFORMATION_PLUGINS: ExtensionGroup[Transformation] = ExtensionGroup(
    "transformation", "offramp.transforms", Transformation, TRANSFORMATIONS
)
"""The built-ins, then the entry points of ``offramp.transforms``."""

PREDICATE_PLUGINS: ExtensionGroup[Predicate] = ExtensionGroup(
    "predicate", "offramp.predicates", Predicate, PREDICATES
)
"""The built-ins, then the entry points of ``offramp.predicates``."""


def transformation_class(name: str) -> type[Transformation]:
    """The transformation registered as ``name`` (Kafka Connect name, short name, entry
    point alias or ``module:Class``); raises ``PluginNotFoundError`` with a "did you
    mean" suggestion otherwise."""
    try:
        return TRANSFORMATION_PLUGINS.get(name).cls
    except PluginNotFoundError:
        if PREDICATE_PLUGINS.knows(name):
            raise PluginNotFoundError(f"{name!r} is a predicate, not a transformation") from None
        raise


def predicate_class(name: str) -> type[Predicate]:
    """The predicate registered as ``name``, like ``transformation_class``."""
    try:
        return PREDICATE_PLUGINS.get(name).cls
    except PluginNotFoundError:
        if TRANSFORMATION_PLUGINS.knows(name):
            raise PluginNotFoundError(f"{name!r} is a transformation, not a predicate") from None
        raise


def available_plugins() -> list[dict[str, str]]:
    """Entries for ``GET /connector-plugins?connectorsOnly=false``, by class name."""
    entries = TRANSFORMATION_PLUGINS.listing() + PREDICATE_PLUGINS.listing()
    return sorted(entries, key=lambda entry: entry["class"])
