"""Noticing that a Kafka client's authentication failed (``refuses_credentials``).

librdkafka treats a refused password or certificate like a broker that is down: it
retries forever, and a request made meanwhile fails only when it times out, as
"transport failure" or "timed out", with no word of why. The client does report the
refusal, once per attempt, to its ``error_cb``. A ``RefusalWatch`` is that callback:
it keeps the refusal so the code that made the client can stop at once and say why,
instead of waiting (or hanging) on credentials that will never work.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaError
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported, but not in __all__
    AdminClient,
    ClusterMetadata,
)

from offramp.errors import CredentialsRefused
from offramp.kafka_security import refuses_credentials

__all__ = ["RefusalWatch", "admin_and_metadata"]

T = TypeVar("T")


class _Polled(Protocol):
    def poll(self, timeout: float) -> Any: ...


class RefusalWatch:
    """An ``error_cb``: keeps the last refusal of the client's credentials (logged
    once, at error level, at ``log``). The other errors the client heals itself by
    reconnecting, and the worker reports an outage its own way: they are DEBUG lines,
    as ``offramp.kafka_logs`` makes librdkafka's own. One watch may serve several
    clients."""

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.what = what  # names the client in messages: "the config topic's reader"
        self.refused: KafkaError | None = None
        self._log = log

    def __call__(self, error: KafkaError) -> None:
        if refuses_credentials(error):
            if self.refused is None:
                self._log.error("%s: authentication with the brokers failed: %s", self.what, error)
            self.refused = error
        else:
            self._log.debug("%s: %s", self.what, error)

    def conf(self, conf: Mapping[str, Any]) -> dict[str, Any]:
        """``conf`` with this watch as its ``error_cb``."""
        return {**conf, "error_cb": self}

    def reason(self) -> str | None:
        """ "<client>: authentication with the brokers failed: <why>", if it did."""
        if self.refused is None:
            return None
        return f"{self.what}: authentication with the brokers failed: {self.refused.str()}"

    def check(self) -> None:
        """Raise ``CredentialsRefused`` if the brokers refused the credentials."""
        reason = self.reason()
        if reason is not None:
            raise CredentialsRefused(reason)

    def explain(self, exc: BaseException) -> BaseException:
        """What to raise for ``exc``, a request that failed: the refusal if there was
        one (the request's own error only says it timed out), else ``exc`` itself."""
        reason = self.reason()
        return exc if reason is None else CredentialsRefused(f"{reason} ({exc})")

    def result(self, future: concurrent.futures.Future[T], client: _Polled, timeout: float) -> T:
        """``future``'s result (an admin request of ``client``, whose callback this is);
        ``CredentialsRefused`` as soon as the client reports a refusal, not when the
        request times out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(min(0.5, max(0.0, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                client.poll(0)  # serves error_cb
                self.check()
                if time.monotonic() >= deadline:
                    raise
            except Exception as exc:
                client.poll(0)
                raise self.explain(exc) from exc


def admin_and_metadata(
    admin_config: Mapping[str, Any], what: str, log: logging.Logger, timeout: float = 15.0
) -> tuple[AdminClient, ClusterMetadata]:
    """An admin client named ``what`` and the cluster's metadata it fetched;
    ``CredentialsRefused`` (not "transport failure") if the brokers refuse it."""
    watch = RefusalWatch(what, log)
    admin = AdminClient(watch.conf(admin_config))
    try:
        return admin, admin.list_topics(timeout=timeout)
    except Exception as exc:
        admin.poll(0)  # serves error_cb: the reason, if the client has one
        raise watch.explain(exc) from exc
