"""Secrets stay out of REST responses, log lines and status traces.

Part of the core, not of ``offramp.rest``: the worker registers secrets and installs
the log redaction here whether or not a REST API is served.

Three layers, each a safety net for the one before:

1. Configs are shown as given: a ``${env:…}`` / ``${file:…}`` reference stays a
   reference (it names where the secret is, not the secret).
2. A value given literally for a secret key is shown as ``[hidden]``: a field typed
   ``SecretStr`` in the plug-in's config model, or a key that looks like one
   (``password``, ``token``, ``secret``, ``api.key``…). A password inside a URL
   (``scheme://user:password@host``) is hidden in any key.
3. Every secret value the worker has seen (resolved from its reference) is
   registered here and replaced by ``[hidden]`` in every log record (a log-record
   factory, so every handler sees the clean text) and in every REST response body (a
   last pass over the bytes), which covers exception messages and task traces.

Values shorter than ``MIN_SECRET_LENGTH`` are not registered for layer 3: replacing
every "abc" in every log line would make logs unreadable without protecting much.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import types
from collections.abc import Iterable, Mapping
from typing import Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, SecretStr

from offramp.config import WorkerConfig
from offramp.errors import ConfigError
from offramp.kafka_security import jaas_passwords
from offramp.providers import Resolver, has_reference, resolve

__all__ = [
    "HIDDEN",
    "MIN_SECRET_LENGTH",
    "SECRETS",
    "SecretValues",
    "install_log_redaction",
    "is_secret_key",
    "looks_secret",
    "mask_config",
    "mask_value",
    "register_config_secrets",
    "register_worker_secrets",
    "restore_hidden",
    "secret_fields",
]

HIDDEN = "[hidden]"
MIN_SECRET_LENGTH = 4

_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential|api[._-]?key|private[._-]?key"
    r"|access[._-]?key|jaas\.config|ssl\.key\.pem|keystore\.key$",
    re.IGNORECASE,
)
# scheme://user:password@host — the password is group 2; the lookahead keeps the "@".
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(?=@)")


def looks_secret(key: str) -> bool:
    """The safety net for plug-ins that forgot ``SecretStr``: keys named like secrets."""
    return _SECRET_KEY.search(key) is not None


def _holds_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, dict, tuple, set, frozenset):
        return any(_holds_secret(arg) for arg in get_args(annotation))
    return False


@functools.lru_cache(maxsize=256)
def secret_fields(model: type[BaseModel] | None) -> frozenset[str]:
    """The config keys of ``model`` whose fields are typed ``SecretStr``."""
    if model is None:
        return frozenset()
    keys = set()
    for name, info in model.model_fields.items():
        if _holds_secret(info.annotation):
            keys.add(info.alias or name)
    return frozenset(keys)


def is_secret_key(key: str, model: type[BaseModel] | None = None) -> bool:
    return key in secret_fields(model) or looks_secret(key)


def mask_value(key: str, value: Any, model: type[BaseModel] | None = None) -> Any:
    """``value`` as a response may show it (see the module docstring)."""
    if value is None or value == "" or has_reference(value):
        return value
    if is_secret_key(key, model):
        return HIDDEN
    if isinstance(value, str) and "://" in value:
        return _URL_PASSWORD.sub(lambda m: m.group(1) + HIDDEN, value)
    return value


def mask_config(raw: Mapping[str, Any], model: type[BaseModel] | None = None) -> dict[str, Any]:
    return {key: mask_value(key, value, model) for key, value in raw.items()}


def restore_hidden(
    new: Mapping[str, Any], old: Mapping[str, Any], model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """A config read back from a response and sent again keeps its real secrets: a value
    equal to the masked form of the stored one means "unchanged"."""
    out = dict(new)
    for key, value in new.items():
        if key in old and value != old[key] and value == mask_value(key, old[key], model):
            out[key] = old[key]
    return out


class SecretValues:
    """Every secret value seen so far; replaces them in text and in JSON bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._encoded: tuple[tuple[bytes, bytes], ...] = ()

    def __bool__(self) -> bool:
        return bool(self._values)

    def add(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if len(v) >= MIN_SECRET_LENGTH and v != HIDDEN}
        if not fresh - set(self._values):
            return
        with self._lock:
            # Longest first, so a secret that contains another is replaced whole.
            ordered = tuple(sorted(set(self._values) | fresh, key=len, reverse=True))
            hidden = HIDDEN.encode()
            self._encoded = tuple(
                pair
                for v in ordered
                for pair in {(v.encode(), hidden), (orjson.dumps(v)[1:-1], hidden)}
            )
            self._values = ordered

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, HIDDEN)
        return text

    def redact_json(self, data: bytes) -> bytes:
        """Covers both the raw UTF-8 form and the JSON-escaped form of each secret."""
        for raw, hidden in self._encoded:
            if raw in data:
                data = data.replace(raw, hidden)
        return data


SECRETS = SecretValues()


def _resolved(key: str, value: Any, resolver: Resolver) -> str | None:
    if not has_reference(value):
        return None if value is None else str(value)
    try:
        return str(resolver({key: value})[key])
    except ConfigError:
        return None  # validation reports it; nothing was revealed


def register_config_secrets(
    raw: Mapping[str, Any], model: type[BaseModel] | None, resolver: Resolver = resolve
) -> None:
    """Remember the secrets of a connector config (resolved with the worker's config
    providers) for layer 3."""
    found: list[str] = []
    for key, value in raw.items():
        text = _resolved(key, value, resolver)
        if text is None:
            continue
        if is_secret_key(key, model):
            found.append(text)
        if key.endswith("sasl.jaas.config"):
            # The password alone too: a client's message may quote it without the line.
            found.extend(jaas_passwords(text))
        found.extend(m.group(2) for m in _URL_PASSWORD.finditer(text))
    SECRETS.add(found)


def register_worker_secrets(config: WorkerConfig) -> None:
    """The worker's own secrets: REST credentials and secret-looking client settings."""
    found = [t.get_secret_value() for t in config.rest_auth_tokens]
    found += [p.get_secret_value() for p in config.rest_auth_users.values()]
    for family in config.families.values():
        for key, value in family.items():
            if looks_secret(key) and value is not None:
                found.append(str(value))
            if isinstance(value, str):
                found.extend(m.group(2) for m in _URL_PASSWORD.finditer(value))
    found.extend(m.group(2) for m in _URL_PASSWORD.finditer(config.bootstrap_servers))
    SECRETS.add(found)


_install_lock = threading.Lock()
_installed = False


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        return  # a broken format string: logging reports it its own way
    clean = SECRETS.redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = SECRETS.redact(text)
        if clean != text:
            # Formatters use exc_text when set; dropping exc_info keeps them from
            # formatting the original exception (and its secret) again.
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = SECRETS.redact(record.stack_info)


def install_log_redaction() -> None:
    """Wrap the log-record factory once per process, so every handler gets clean text."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if SECRETS:
                _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
