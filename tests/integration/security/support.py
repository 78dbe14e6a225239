"""The security tests' user, login lines and client settings."""

from __future__ import annotations

from devstack.kafka import KafkaBroker

USER, PASSWORD = "svc-offramp", "scram-pa55-for-svc"
# A second principal, one a connector's overrides log in as.
OTHER_USER, OTHER_PASSWORD = "svc-connector", "other-pa55-of-connector"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def jaas(module: str, password: str, user: str = USER) -> str:
    """A ``sasl.jaas.config`` line for ``user``."""
    return f'{module} required username="{user}" password="{password}";'


def sasl_ssl(broker: KafkaBroker, mechanism: str, login: str) -> dict[str, str]:
    """Kafka Connect's keys for SASL_SSL with ``login`` as ``sasl.jaas.config``."""
    assert broker.tls is not None
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": login,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(broker.tls.ca),
    }
