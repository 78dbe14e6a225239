"""Kafka Connect worker files on offramp: the keys that mean the same thing, mapped;
the ones that mean nothing here, ignored with a log line; the rest, refused.

A ``connect-standalone.properties`` from the Kafka quickstart runs unchanged:

==============================  ===========================================================
``listeners``                   ``http://host:port`` → ``rest.host``/``rest.port``
                                (an empty host means every interface); ``https://…``
                                when ``rest.tls.cert.file``/``rest.tls.key.file`` are
                                set. offramp serves one listener: the first of the
                                scheme it serves; the others are named in a warning.
``rest.host.name``              ``rest.host`` (Kafka's name before ``listeners``)
``rest.advertised.host.name``   what ``worker_id`` names, with ``rest.advertised.port``
``rest.advertised.listener``    the scheme of the advertised URL
``config.providers``            see ``offramp.providers``
``plugin.path``                 directories of extra Python plug-in packages (``pip
                                install --target DIR``), put on ``sys.path`` before
                                plug-ins are discovered; a ``.jar`` or missing entry
                                is skipped with a warning
==============================  ===========================================================

Ignored, with one log line naming them: ``offset.storage.file.filename`` (a sink's
offsets live in its consumer group ``connect-<name>``, as in Kafka Connect), the keys of
distributed mode offramp has no use for (``offset.storage.*``, the storage topics'
partitions and replication factors, rebalance and inter-worker keys: see
docs/distributed.md), Java internals (``internal.*.converter``,
``plugin.discovery``, metrics reporters) and the REST keys offramp has no use for.
Refused: ``rest.extension.classes`` (Java code; offramp has ``rest.auth``).
``connector.client.config.override.policy`` may name the policy's class
(``org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy``)
as Kafka Connect allows: it becomes the short name (``Principal``).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import site
import sys
from collections.abc import Mapping
from typing import Any

from offramp.commas import split_commas
from offramp.errors import ConfigError

__all__ = ["IGNORED_WORKER_KEYS", "add_plugin_path", "parse_listener", "translate_worker_keys"]

log = logging.getLogger("offramp.config")

_STANDALONE_OFFSETS = "offset.storage.file.filename"
_POLICY = "connector.client.config.override.policy"
_POLICY_SUFFIX = "ConnectorClientConfigOverridePolicy"

_DISTRIBUTED = (
    "config.storage.replication.factor",
    "offset.storage.topic",
    "offset.storage.partitions",
    "offset.storage.replication.factor",
    "status.storage.partitions",
    "status.storage.replication.factor",
    "heartbeat.interval.ms",
    "session.timeout.ms",
    "rebalance.timeout.ms",
    "scheduled.rebalance.max.delay.ms",
    "connect.protocol",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "inter.worker.key.generation.algorithm",
    "inter.worker.key.size",
    "inter.worker.key.ttl.ms",
    "inter.worker.signature.algorithm",
    "inter.worker.verification.algorithms",
    "exactly.once.source.support",
)

_JAVA_ONLY = (
    "internal.key.converter",
    "internal.value.converter",
    "header.converter",
    "plugin.discovery",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "metrics.recording.level",
    "auto.include.jmx.reporter",
    "topic.creation.enable",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "response.http.headers.config",
    "admin.listeners",
)
_JAVA_ONLY_PREFIXES = ("internal.key.converter.", "internal.value.converter.")

IGNORED_WORKER_KEYS = (_STANDALONE_OFFSETS, *_DISTRIBUTED, *_JAVA_ONLY)
"""Kafka Connect worker keys offramp accepts and ignores (each run logs which)."""

_LISTENER = re.compile(r"(?i)(https?)://(\[[^\]]*\]|[^:/\[\]]*):(\d{1,5})/?")


def parse_listener(listener: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``http://host:port``; an empty host is every
    interface (``0.0.0.0``), ``[::1]`` an IPv6 address. ``ValueError`` otherwise."""
    match = _LISTENER.fullmatch(listener.strip())
    if match is None or int(match.group(3)) > 65535:
        raise ValueError(f"{listener.strip()!r} is not http://HOST:PORT or https://HOST:PORT")
    host = match.group(2).strip("[]") or "0.0.0.0"
    return match.group(1).lower(), host, int(match.group(3))


def _listener_keys(raw: dict[str, Any]) -> None:
    listeners = raw.pop("listeners")
    entries = split_commas(
        [str(e) for e in listeners] if isinstance(listeners, list) else str(listeners)
    )
    parsed: list[tuple[str, str, int, str]] = []
    errors = []
    for entry in entries:
        try:
            parsed.append((*parse_listener(entry), entry))
        except ValueError as exc:
            errors.append(("listeners", str(exc)))
    if errors:
        raise ConfigError(errors)
    if not parsed:
        raise ConfigError([("listeners", "names no listener (expected http://HOST:PORT)")])
    tls = bool(raw.get("rest.tls.cert.file"))
    wanted = "https" if tls else "http"
    chosen = next((p for p in parsed if p[0] == wanted), None)
    if chosen is None:
        reason = (
            "rest.tls.cert.file is set, so the REST API serves https, but listeners names "
            "no https:// listener"
            if tls
            else "an https:// listener needs rest.tls.cert.file and rest.tls.key.file (PEM "
            "files; offramp doesn't read Java keystores, listeners.https.ssl.*)"
        )
        raise ConfigError([("listeners", reason)])
    _, host, port, entry = chosen
    others = [p[3] for p in parsed if p is not chosen]
    if others:
        log.warning(
            "listeners: offramp serves one REST listener, %s; not serving %s",
            entry,
            ", ".join(others),
        )
    for key, value in (("rest.host", host), ("rest.port", port)):
        if key in raw and str(raw[key]) != str(value):
            raise ConfigError(
                [("listeners", f"{entry} disagrees with {key}={raw[key]}: set only one of them")]
            )
        raw[key] = value


def translate_worker_keys(source: Mapping[str, Any]) -> dict[str, Any]:
    """``source`` with Kafka Connect's worker keys turned into offramp's (see the
    module docstring); the ignored ones logged and dropped. ``ConfigError`` for the
    refused ones."""
    raw = dict(source)
    if "rest.host.name" in raw:
        value = raw.pop("rest.host.name")
        if "rest.host" in raw and str(raw["rest.host"]) != str(value):
            raise ConfigError([("rest.host.name", "disagrees with rest.host: set only one")])
        raw["rest.host"] = value
    if "listeners" in raw:
        _listener_keys(raw)
    listener = raw.get("rest.advertised.listener")
    if isinstance(listener, str):
        raw["rest.advertised.listener"] = listener.strip().lower()
    errors = []
    if "rest.extension.classes" in raw:
        errors.append(
            (
                "rest.extension.classes",
                "loads Java REST extensions, which offramp can't run; for authentication "
                "set rest.auth with rest.auth.users (basic) or rest.auth.tokens (bearer)",
            )
        )
    policy = raw.get(_POLICY)
    if policy is not None:
        # Kafka Connect names the policy by its class or by the class's short name.
        short = str(policy).strip().rpartition(".")[2].removesuffix(_POLICY_SUFFIX)
        raw[_POLICY] = short or str(policy)
    if errors:
        raise ConfigError(errors)
    if _STANDALONE_OFFSETS in raw:
        log.info(
            "%s=%s is not used: offramp keeps a sink connector's offsets in its consumer "
            "group connect-<name>, as Kafka Connect does for sinks",
            _STANDALONE_OFFSETS,
            raw.pop(_STANDALONE_OFFSETS),
        )
    distributed = sorted(k for k in raw if k in _DISTRIBUTED)
    if distributed:
        log.info(
            "ignored: %s (distributed-mode keys offramp has no use for: see docs/distributed.md)",
            ", ".join(distributed),
        )
    java = sorted(k for k in raw if k in _JAVA_ONLY or k.startswith(_JAVA_ONLY_PREFIXES))
    if java:
        log.info("ignored: %s (Kafka Connect keys with no meaning in offramp)", ", ".join(java))
    for key in (*distributed, *java):
        del raw[key]
    return raw


def add_plugin_path(entries: list[str]) -> list[str]:
    """Put each directory of ``plugin.path`` on ``sys.path`` (with its ``.pth`` files,
    as for a site directory), before plug-ins are discovered, so the entry points of
    packages installed there with ``pip install --target DIR`` are found. The
    directories added; the entries that are not directories are skipped with a
    warning (Kafka Connect's ``plugin.path`` often names jar files)."""
    added = []
    for entry in entries:
        path = os.path.abspath(os.path.expanduser(entry))
        if not os.path.isdir(path):
            kind = "a Java plug-in (.jar)" if entry.endswith(".jar") else "not a directory"
            log.warning("plugin.path: %s is %s; skipped", entry, kind)
            continue
        if path not in sys.path:
            site.addsitedir(path)
            added.append(path)
    if added:
        importlib.invalidate_caches()
        log.info("plugin.path: plug-ins are also looked for in %s", ", ".join(added))
    return added
