"""Kafka Connect's class names for the built-in connectors.

A config brought from Kafka Connect names its connector by the Java class
(``io.confluent.connect.jdbc.JdbcSinkConnector``); offramp's built-in plug-in that does
the same job answers to it. Kafka Connect also accepts a class's simple name, with or
without the ``Connector`` suffix (``JdbcSinkConnector``, ``JdbcSink``), so these do too.
The names only point at aliases: the plug-in is still looked up, and must be installed,
like any other, and the listing shows it once, under its own name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic import BaseModel

__all__ = ["KAFKA_CONNECT_CLASSES", "connect_alias", "refusals"]

KAFKA_CONNECT_CLASSES: dict[str, str] = {
    "io.confluent.connect.jdbc.JdbcSinkConnector": "sql",
    "io.confluent.connect.s3.S3SinkConnector": "s3",
    "io.qdrant.kafka.QdrantSinkConnector": "qdrant",
    "org.apache.kafka.connect.file.FileStreamSinkConnector": "file",
}
"""Kafka Connect class name → the alias of the built-in plug-in that does its job."""


def _short_names() -> dict[str, str]:
    short: dict[str, str] = {}
    for class_name, alias in KAFKA_CONNECT_CLASSES.items():
        simple = class_name.rpartition(".")[2]
        short[simple] = alias
        short[simple.removesuffix("Connector")] = alias
    return short


_BY_NAME = {**KAFKA_CONNECT_CLASSES, **_short_names()}


def connect_alias(name: str) -> str | None:
    """The built-in alias a Kafka Connect class name (full or simple) stands for."""
    return _BY_NAME.get(name.strip())


def refusals(model: type[BaseModel], keys: Iterable[str]) -> list[tuple[str, str]]:
    """``(key, why)`` for each of ``keys`` the plug-in's model refuses by name.

    A model lists the keys of the Kafka Connect connector it stands in for that it
    doesn't support as ``refused_keys: ClassVar[dict[str, str]]`` (key → why; a key
    ending in ``*`` is a prefix), so such a config is refused with a reason for each
    key instead of a bare "unknown configuration key". The model's own fields win, and a
    near miss of one is left to be reported as unknown.
    """
    table: Mapping[str, str] = getattr(model, "refused_keys", None) or {}
    if not table:
        return []
    own = {field.alias or name for name, field in model.model_fields.items()}
    out = []
    for key in keys:
        if key in own:
            continue
        reason = table.get(key)
        if reason is None and not difflib.get_close_matches(key, own, n=1, cutoff=0.9):
            # (a near miss of a field, connection.uri, is a typo: left "unknown")
            reason = next(
                (why for k, why in table.items() if k.endswith("*") and key.startswith(k[:-1])),
                None,
            )
        if reason is not None:
            out.append((key, reason))
    return out
