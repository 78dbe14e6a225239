"""TLS and SASL settings for the Kafka clients, given with Kafka Connect's (Java) key
names or librdkafka's, turned into what librdkafka reads.

Most keys mean the same in both (``security.protocol``, ``sasl.mechanism``,
``ssl.keystore.location`` for a PKCS#12 file, ``ssl.key.password``…) and pass through.
The Java ones that differ are mapped (``sasl.jaas.config`` with the SCRAM or PLAIN
login module → ``sasl.username``/``sasl.password``; PEM trust and key stores → the
``ssl.ca.*``/``ssl.certificate.*``/``ssl.key.*`` keys); those librdkafka can't honour
(a JKS store, a Java class) are refused by name, saying what to use instead; Java's
tuning knobs with no librdkafka meaning are dropped with a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError

from offramp.errors import ConfigError

__all__ = [
    "PROTOCOLS",
    "is_security_key",
    "jaas_passwords",
    "librdkafka_keys",
    "refuses_credentials",
]

log = logging.getLogger("offramp.config")

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

_LOGIN_MODULES = {
    "org.apache.kafka.common.security.scram.ScramLoginModule": "SCRAM",
    "org.apache.kafka.common.security.plain.PlainLoginModule": "PLAIN",
}
_JAAS = re.compile(r"\s*([\w.$]+)\s+(?:required|requisite|sufficient|optional)\s*(.*?)\s*;?\s*")
_JAAS_OPTION = re.compile(r'\s*([\w.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')

_JAVA_CLASSES = (
    "sasl.login.class",
    "sasl.login.callback.handler.class",
    "sasl.client.callback.handler.class",
    "ssl.engine.factory.class",
)
# Java's JSSE tuning: OpenSSL picks protocols and algorithms itself.
_JAVA_TUNING = (
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
)


# OpenSSL's alerts from a broker that refused the client's certificate (or its lack of
# one); librdkafka reports them as a transport failure, naming the alert.
_CERTIFICATE_ALERTS = (
    "alert bad certificate",
    "alert certificate required",
    "alert unknown ca",
    "alert certificate unknown",
    "alert certificate revoked",
    "alert certificate expired",
)


def refuses_credentials(error: KafkaError) -> bool:
    """Authentication failed: the brokers refused the client's password or certificate,
    or the client could not verify the broker's (librdkafka's ``_SSL``: a TLS handshake
    that failed, not a connection that dropped). Retrying the same settings can't help;
    librdkafka would retry forever, reading nothing."""
    code = error.code()
    if code in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL):
        return True
    text = error.str().lower()
    return code == KafkaError._TRANSPORT and any(a in text for a in _CERTIFICATE_ALERTS)


def is_security_key(key: str) -> bool:
    """A key that configures how a client connects to the brokers securely."""
    return key == "security.protocol" or key.startswith(("sasl.", "ssl."))


def jaas_passwords(value: str) -> list[str]:
    """The ``password`` options of a ``sasl.jaas.config`` line, however it parses:
    the secrets inside it, for masking."""
    return [
        _unquote(raw) for name, raw in _JAAS_OPTION.findall(value) if name.lower() == "password"
    ]


def _unquote(raw: str) -> str:
    return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") if raw.startswith('"') else raw


def _jaas(value: str, key: str) -> tuple[str, str, str]:
    """(mechanism family, username, password) of a SCRAM or PLAIN ``sasl.jaas.config``."""
    match = _JAAS.fullmatch(value)
    module = match.group(1) if match else ""
    if module not in _LOGIN_MODULES:
        raise ConfigError(
            [
                (
                    key,
                    # Never the value itself: it holds a password.
                    "offramp reads the ScramLoginModule and PlainLoginModule "
                    '(<module> required username="..." password="...";), not '
                    f"{module or 'this line'}; for other mechanisms give librdkafka's "
                    "sasl.* keys",
                )
            ]
        )
    assert match is not None
    options = {name: _unquote(raw) for name, raw in _JAAS_OPTION.findall(match.group(2))}
    missing = [o for o in ("username", "password") if o not in options]
    if missing:
        raise ConfigError([(key, f"{module} names no {' or '.join(missing)}")])
    return _LOGIN_MODULES[module], options["username"], options["password"]


def _stores(conf: dict[str, Any], prefix: str, errors: list[tuple[str, str]]) -> None:
    """Java trust and key stores → librdkafka's CA, certificate and key settings."""
    trust_type = str(conf.pop("ssl.truststore.type", "JKS")).upper()
    if "ssl.truststore.certificates" in conf:
        conf["ssl.ca.pem"] = conf.pop("ssl.truststore.certificates")
    if "ssl.truststore.location" in conf:
        location = conf.pop("ssl.truststore.location")
        if trust_type == "PEM":
            conf["ssl.ca.location"] = location
        else:
            errors.append(
                (
                    f"{prefix}ssl.truststore.location",
                    f"a {trust_type} truststore is a Java format librdkafka can't read: give "
                    "the CA certificates as a PEM file in ssl.ca.location (or "
                    "ssl.truststore.type=PEM)",
                )
            )
    conf.pop("ssl.truststore.password", None)  # PEM trust stores have no password
    key_type = str(conf.pop("ssl.keystore.type", "PKCS12")).upper()
    if "ssl.keystore.certificate.chain" in conf:
        conf["ssl.certificate.pem"] = conf.pop("ssl.keystore.certificate.chain")
    if "ssl.keystore.key" in conf:
        conf["ssl.key.pem"] = conf.pop("ssl.keystore.key")
    if key_type == "PEM":
        conf.pop("ssl.keystore.password", None)
        if "ssl.keystore.location" in conf:
            # One PEM file holding the key and its certificate chain: OpenSSL reads the
            # certificates from it and, separately, the key.
            location = conf.pop("ssl.keystore.location")
            conf["ssl.certificate.location"] = location
            conf["ssl.key.location"] = location
    elif key_type != "PKCS12" and "ssl.keystore.location" in conf:
        errors.append(
            (
                f"{prefix}ssl.keystore.location",
                f"a {key_type} keystore is a Java format librdkafka can't read: give a "
                "PKCS12 file (ssl.keystore.type=PKCS12) or PEM files in "
                "ssl.certificate.location and ssl.key.location",
            )
        )


def librdkafka_keys(conf: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``conf`` with its security keys in librdkafka's names (other keys untouched).
    ``ConfigError`` naming ``prefix`` + key for what librdkafka can't do."""
    out = dict(conf)
    errors: list[tuple[str, str]] = []
    if "security.protocol" in out:
        protocol = str(out["security.protocol"]).strip().upper()
        if protocol not in PROTOCOLS:
            errors.append((f"{prefix}security.protocol", f"expected one of {', '.join(PROTOCOLS)}"))
        out["security.protocol"] = protocol
    for key in _JAVA_CLASSES:
        if key in out:
            errors.append((f"{prefix}{key}", "names a Java class, which offramp can't load"))
    dropped = [k for k in _JAVA_TUNING if out.pop(k, None) is not None]
    if dropped:
        log.info("ignored: %s (Java TLS settings; OpenSSL chooses these)", ", ".join(dropped))
    if "sasl.jaas.config" in out:
        key = f"{prefix}sasl.jaas.config"
        try:
            family, username, password = _jaas(str(out.pop("sasl.jaas.config")), key)
        except ConfigError as exc:
            errors.extend(exc.errors)
        else:
            mechanism = str(out.get("sasl.mechanism", out.get("sasl.mechanisms", "")))
            if mechanism and not mechanism.upper().startswith(family):
                errors.append(
                    (key, f"holds a {family} login module but sasl.mechanism is {mechanism}")
                )
            out["sasl.username"], out["sasl.password"] = username, password
    if "ssl.endpoint.identification.algorithm" in out:
        # Java turns host name checks off with an empty value; librdkafka with "none".
        algorithm = str(out["ssl.endpoint.identification.algorithm"]).strip().lower()
        out["ssl.endpoint.identification.algorithm"] = algorithm or "none"
    _stores(out, prefix, errors)
    if errors:
        raise ConfigError(errors)
    return out
