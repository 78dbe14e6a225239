"""Kafka Connect's Single Message Transforms and predicates, for sink records.

A connector config names its transforms exactly as Kafka Connect does
(``transforms``, ``transforms.<alias>.type``, ``predicates``, ...);
``TransformChain.from_config`` builds them and ``apply_batch`` runs them. Types are
accepted by Kafka Connect class name or its short form (``InsertField$Value``); only
registered names resolve. See docs/transforms.md for every transform and its keys.

Writing one: subclass ``Transformation`` (or ``Predicate``), read settings in
``configure(config: ConfigReader)`` and return ``record.replace(...)`` from ``apply``.
"""

from offramp.transforms.base import Predicate, Transformation
from offramp.transforms.chain import Stage, TransformChain
from offramp.transforms.config import ConfigReader
from offramp.transforms.registry import (
    available_plugins,
    predicate_class,
    transformation_class,
)

__all__ = [
    "ConfigReader",
    "Predicate",
    "Stage",
    "TransformChain",
    "Transformation",
    "available_plugins",
    "predicate_class",
    "transformation_class",
]
