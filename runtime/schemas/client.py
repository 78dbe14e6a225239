"""A converter's Schema Registry keys as confluent-kafka's ``SchemaRegistryClient`` config.

Kafka Connect's converters take ``schema.registry.url``, ``basic.auth.credentials.source``
(``USER_INFO`` or ``URL``), ``basic.auth.user.info`` (also as
``schema.registry.basic.auth.user.info``) and ``schema.registry.ssl.*``. Java key stores
can't be read here: the trust store and key store must be PEM files (a key store holding
the certificate and its key), and a JKS or PKCS12 type is refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offramp.errors import ConfigError

__all__ = ["client_config"]

_SSL = "schema.registry.ssl."


def client_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The client config for a converter's ``config``; ``ConfigError`` names a bad key."""
    url = str(config.get("schema.registry.url") or "").strip()
    if not url:
        raise ConfigError([("schema.registry.url", "missing required configuration")])
    # The converter retries a registry that doesn't answer itself (polling Kafka
    # meanwhile), so the client's own retries are kept short.
    out: dict[str, Any] = {"url": url, "max.retries": 1, "retries.wait.ms": 100, "timeout": 10}
    source = str(config.get("basic.auth.credentials.source") or "URL").strip().upper()
    user_info = config.get(
        "basic.auth.user.info", config.get("schema.registry.basic.auth.user.info")
    )
    if source == "USER_INFO":
        if not user_info or ":" not in str(user_info):
            raise ConfigError(
                [
                    (
                        "basic.auth.user.info",
                        "must be user:password with credentials.source USER_INFO",
                    )
                ]
            )
        out["basic.auth.user.info"] = str(user_info)
    elif source != "URL":
        raise ConfigError(
            [("basic.auth.credentials.source", f"must be USER_INFO or URL, got {source!r}")]
        )
    errors: list[tuple[str, str]] = []
    for kind in ("truststore", "keystore"):
        store_type = str(config.get(f"{_SSL}{kind}.type") or "PEM").upper()
        if config.get(f"{_SSL}{kind}.location") and store_type != "PEM":
            errors.append(
                (f"{_SSL}{kind}.type", f"{store_type} stores can't be read: give a PEM file")
            )
    trust = config.get(f"{_SSL}truststore.location")
    if trust:
        out["ssl.ca.location"] = str(trust)
    keystore = config.get(f"{_SSL}keystore.location")
    if keystore:
        out["ssl.certificate.location"] = str(keystore)
        out["ssl.key.location"] = str(config.get(f"{_SSL}key.location") or keystore)
        password = config.get(f"{_SSL}key.password")
        if password:
            out["ssl.key.password"] = str(password)
    if errors:
        raise ConfigError(errors)
    return out
