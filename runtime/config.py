"""Worker and connector configs in Kafka Connect's formats, validated up front.

Files are JSON or Java ``.properties`` (``offramp.properties``), as Kafka Connect's are;
a worker file's Kafka Connect keys are mapped as ``offramp.worker_files`` says.

A connector config is one flat ``{str: value}`` map. Keys the runtime owns (``topics``,
``errors.*``, ``batch.*``…) are checked by ``ConnectorSettings``; the families
``transforms.*``, ``predicates.*``, ``key.converter.*`` and ``value.converter.*`` are
passed on, as are ``consumer.override.*``, ``producer.override.*`` and
``admin.override.*`` once the worker's override policy allows them (their security keys
in librdkafka's names, ``offramp.kafka_security``); every other key belongs to the plug-in's own
model, which refuses keys it doesn't know (those of the Kafka Connect connector it
stands in for with a reason each: ``offramp.connect_names.refusals``). Validation
collects every error, with its key, before anything starts.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, SecretStr, ValidationError, model_validator

from offramp.commas import split_commas
from offramp.connect_names import refusals
from offramp.converters import Converter, create_converter
from offramp.deadletter_names import dead_letter_problems
from offramp.errors import ConfigError
from offramp.kafka_security import is_security_key, librdkafka_keys
from offramp.plugin import CommaList, ConfigModel
from offramp.properties import read_properties
from offramp.providers import ConfigProviders
from offramp.registry import PluginInfo, PluginRegistry
from offramp.transforms import TransformChain
from offramp.worker_files import translate_worker_keys

__all__ = [
    "WORKER_ENV_PREFIXES",
    "ConnectorConfig",
    "ConnectorSettings",
    "WorkerConfig",
    "load_connector_file",
    "load_worker_config",
    "pydantic_errors",
    "read_config_file",
    "read_json_object",
    "validate_connector",
    "worker_env_keys",
]

_FAMILIES = (
    "transforms.",
    "predicates.",
    "consumer.override.",
    "producer.override.",
    "admin.override.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
)
_OVERRIDES = ("consumer.override.", "producer.override.", "admin.override.")

OverridePolicy = Literal["None", "Principal", "All"]
PRINCIPAL_OVERRIDES = (
    "sasl.jaas.config",
    "sasl.mechanism",
    "security.protocol",
    # The same principal in librdkafka's names (what sasl.jaas.config becomes).
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
)
"""What ``connector.client.config.override.policy=Principal`` lets a connector override
(Kafka's PrincipalConnectorClientConfigOverridePolicy: the first three)."""


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(key, reason) pairs from a pydantic error, keyed by the config's own key names."""
    out = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or prefix
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown configuration key"
        elif err["type"] == "missing":
            reason = "missing required configuration"
        out.append((key, reason))
    return out


class ConnectorSettings(ConfigModel):
    """The keys every sink connector has, with Kafka Connect's names and defaults."""

    name: str = Field(min_length=1, description="Unique connector name")
    connector_class: str = Field(min_length=1, description="Plug-in alias or module:Class")
    tasks_max: int = Field(1, ge=1, description="Tasks (consumers) to run")
    topics: CommaList = Field(default_factory=list, description="Topics to consume")
    topics_regex: str | None = Field(None, description="Regex of topics to consume")
    key_converter: str | None = Field(None, description="Overrides the worker's")
    value_converter: str | None = Field(None, description="Overrides the worker's")
    header_converter: str | None = Field(None, description="Accepted for compatibility")
    transforms: CommaList = Field(default_factory=list, description="Transform aliases")
    predicates: CommaList = Field(default_factory=list, description="Predicate aliases")
    # -1: a destination outage is ridden out with the task RUNNING (Kafka Connect retries a
    # put()'s RetriableException for as long as it takes), not by failing and restarting.
    errors_retry_timeout: int = Field(
        -1, ge=-1, description="ms to retry a transient write error; -1 forever, 0 never"
    )
    errors_retry_delay_max_ms: int = Field(60000, ge=1, description="Backoff cap (ms)")
    errors_tolerance: Literal["none", "all"] = "none"
    errors_log_enable: bool = False
    errors_log_include_messages: bool = False
    errors_deadletterqueue_topic_name: str = ""
    errors_deadletterqueue_topic_replication_factor: int = Field(3, ge=-1)
    errors_deadletterqueue_context_headers_enable: bool = False
    errors_breaker_enable: bool = Field(
        True, description="Pause instead of dead-lettering most of a stream (offramp)"
    )
    errors_breaker_threshold: float = Field(
        0.5, gt=0, le=1, description="Failed share of the window that trips the breaker"
    )
    errors_breaker_window_records: int = Field(
        10000, ge=1, description="Records the breaker's failed share is taken over"
    )
    batch_max_records: int = Field(1000, ge=1, description="Records per write")
    batch_max_bytes: int = Field(16 * 1024 * 1024, ge=1, description="Value bytes per write")
    batch_max_age_ms: int = Field(500, ge=0, description="Longest wait to fill a batch")
    task_restart_enable: bool = Field(True, description="Restart failed tasks (offramp)")
    task_restart_max_attempts: int = Field(10, ge=-1, description="-1 restarts forever")
    task_restart_backoff_initial_ms: int = Field(1000, ge=0)
    task_restart_backoff_max_ms: int = Field(60000, ge=0)
    task_revocation_flush_timeout_ms: int = Field(10000, ge=0)
    group_type: Literal["consumer", "share"] = Field(
        "consumer", description="consumer: a consumer group; share: a share group (KIP-932)"
    )
    share_record_attempts: int = Field(
        3,
        ge=1,
        description="Deliveries of a record failing on its own before it is dead-lettered "
        "or rejected; keep below the broker's group.share.delivery.count.limit",
    )

    @model_validator(mode="after")
    def _topics(self) -> ConnectorSettings:
        problems = _topic_problems(
            self.topics, self.topics_regex, self.errors_deadletterqueue_topic_name
        )
        if self.group_type == "share" and self.topics_regex:
            problems.append(
                "topics.regex is refused with group.type=share: a share consumer has no "
                "regex subscription; list the topics in topics"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def subscription(self) -> list[str]:
        """What the consumer subscribes to: ``topics``, or ``topics.regex`` as a
        whole-name match on both group protocols.

        librdkafka takes a name starting with ``^`` as a regex. Under ``classic`` it
        matches it itself (POSIX extended regex, which finds a match anywhere unless
        anchored), so the regex is anchored at both ends; under ``consumer`` it sends the
        same string to the broker, which matches whole names with RE2/J, where the
        anchors change nothing. The group is a plain ``(…)``: POSIX has no ``(?:…)``.
        """
        if self.topics_regex:
            return [f"^({self.topics_regex})$"]
        return list(self.topics)


def _topic_problems(topics: list[str], regex: str | None, dlq: str) -> list[str]:
    """What is wrong with the topics keys together (pydantic skips this check when a
    single field is already invalid, so validation also calls it directly)."""
    problems = []
    if bool(topics) == bool(regex):
        problems.append("exactly one of topics and topics.regex must be set")
    if regex:
        unportable = _unportable_regex(regex)
        if unportable:
            problems.append(
                f"topics.regex uses {unportable}, which the topic matchers don't read alike "
                "(librdkafka's POSIX regex for group.protocol=classic, RE2/J on the broker "
                "for consumer, Python here)"
            )
            regex = None
        else:
            try:
                re.compile(regex)
            except re.error as exc:
                problems.append(f"topics.regex is not a valid regex: {exc}")
                regex = None
    problems += dead_letter_problems(dlq, topics, regex)
    return problems


def _unportable_regex(regex: str) -> str | None:
    """The first construct of ``regex`` outside the syntax that librdkafka's POSIX
    extended regex, RE2/J and Python's ``re`` share (and mean alike for topic names,
    which hold only ``[A-Za-z0-9._-]``), or None. A construct one of them lacks would make
    the classic protocol subscribe to nothing, or to other topics, without an error."""
    i, n = 0, len(regex)
    while i < n:
        c, nxt = regex[i], regex[i + 1 : i + 2]
        if c == "\\":
            if nxt.isalnum():
                return f"\\{nxt} (class shorthands, anchors and back-references differ)"
            i += 2  # an escaped punctuation character is a literal everywhere
            continue
        if c == "[":
            j = i + 1
            j += regex[j : j + 1] == "^"
            j += regex[j : j + 1] == "]"  # a leading "]" is a literal
            while j < n and regex[j] != "]":
                if regex[j] == "\\":
                    return "a backslash inside [...] (a literal in POSIX; put - last instead)"
                if regex[j] == "[" and regex[j + 1 : j + 2] in (":", ".", "="):
                    return "a POSIX class like [[:digit:]] (Python lacks them; use [0-9])"
                j += 1
            i = j + 1
            continue
        if c == "(" and nxt == "?":
            return "(?...) (POSIX has no such groups; use plain (...))"
        if c in "*+?}" and nxt in ("?", "+"):
            return f"{c}{nxt} (lazy and possessive quantifiers are not POSIX)"
        if c == "{" and nxt == ",":
            return "{,n} (RE2/J reads it as text; use {0,n})"
        i += 1
    return None


_COMMON_KEYS = {f.alias or n for n, f in ConnectorSettings.model_fields.items()}


class WorkerConfig(ConfigModel):
    """The worker: where Kafka is, REST, commit cadence, defaults for connectors."""

    bootstrap_servers: str = "127.0.0.1:9092"
    group_protocol: Literal["classic", "consumer"] = "classic"
    rest_host: str = "127.0.0.1"
    rest_port: int = Field(8083, ge=0, le=65535)
    rest_advertised_host_name: str | None = None
    rest_advertised_port: int | None = Field(None, ge=1, le=65535)
    rest_advertised_listener: Literal["http", "https"] | None = None
    plugin_path: CommaList = Field(
        default_factory=list, description="Directories of extra plug-in packages"
    )
    config_providers: CommaList = Field(
        default_factory=list, description="Config provider names (see offramp.providers)"
    )
    offset_flush_interval_ms: int = Field(10000, ge=10)
    offset_flush_timeout_ms: int = Field(5000, ge=1)
    task_shutdown_graceful_timeout_ms: int = Field(10000, ge=0)
    key_converter: str = "org.apache.kafka.connect.storage.StringConverter"
    value_converter: str = "org.apache.kafka.connect.json.JsonConverter"
    config_storage_dir: str | None = Field(
        None, description="Standalone: where connector configs made over REST are kept"
    )
    group_id: str | None = Field(
        None, description="Distributed: the cluster's name; workers sharing it share connectors"
    )
    config_storage_topic: str | None = Field(
        None, description="Distributed: the compacted topic of connector configs"
    )
    status_storage_topic: str | None = Field(
        None, description="Distributed: the compacted topic of every worker's task statuses"
    )
    rest_auth: Literal["none", "basic", "bearer", "any"] | None = None
    rest_auth_tokens: list[SecretStr] = Field(default_factory=list)
    rest_auth_users: dict[str, SecretStr] = Field(default_factory=dict)
    rest_tls_cert_file: str | None = None
    rest_tls_key_file: str | None = None
    worker_id_setting: str | None = Field(
        None,
        alias="worker.id",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="This process's identity, stable across its restarts (static membership)",
    )
    connector_client_config_override_policy: OverridePolicy = Field(
        "All", description="What consumer/producer/admin.override.* a connector may set"
    )
    families: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    rest_port_picked: bool = Field(False, exclude=True)

    @property
    def worker_id(self) -> str:
        """The worker's identity, the one accessor of it: ``worker.id`` where set, else
        ``host:port`` others reach this worker at (``rest.advertised.host.name`` and
        ``rest.advertised.port`` where set, else the listener's)."""
        if self.worker_id_setting is not None:
            return self.worker_id_setting
        return self.rest_address

    @property
    def rest_address(self) -> str:
        """``host:port`` of the REST API as others reach it."""
        host = self.rest_advertised_host_name or (
            socket.gethostname() if self.rest_host in ("0.0.0.0", "::") else self.rest_host
        )
        return f"{host}:{self.rest_advertised_port or self.rest_port}"

    @property
    def stable_identity(self) -> bool:
        """Whether ``worker_id`` survives a restart: set by ``worker.id``, or a REST
        address with a configured port. A port picked at start (``rest.port: 0``) names
        a new worker each time, and a static member under a new name would strand the
        old one's partitions for the session timeout instead of taking them back."""
        if self.worker_id_setting is not None:
            return True
        return not self.rest_port_picked and (self.rest_advertised_port or self.rest_port) != 0

    @property
    def advertised_url(self) -> str:
        scheme = self.rest_advertised_listener or ("https" if self.rest_tls_cert_file else "http")
        host, _, port = self.rest_address.rpartition(":")
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"

    @cached_property
    def providers(self) -> ConfigProviders:
        """The config providers references in connector configs use."""
        declared = {f"config.providers.{k}": v for k, v in self.family("config.providers.").items()}
        if self.config_providers or declared:
            declared["config.providers"] = ",".join(self.config_providers)
        return ConfigProviders.from_worker(declared)

    def family(self, prefix: str) -> dict[str, Any]:
        """Keys under ``consumer.``, ``producer.``, ``admin.``, ``*.converter.``."""
        return dict(self.families.get(prefix, {}))

    def connection_config(self) -> dict[str, Any]:
        """How every client reaches the brokers: ``bootstrap.servers`` and the top-level
        ``security.protocol``/``sasl.*``/``ssl.*``, in librdkafka's names."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.family(_SECURITY)}

    def client_config(self, kind: Literal["consumer", "producer", "admin"]) -> dict[str, Any]:
        """A Kafka client's settings: ``connection_config()``, then ``<kind>.*``."""
        return {**self.connection_config(), **self.family(f"{kind}.")}


_WORKER_FAMILIES = (
    "consumer.",
    "producer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "config.providers.",
)
_CLIENT_FAMILIES = ("consumer.", "producer.", "admin.")
_SECURITY = "security"  # the families entry holding the top-level client security keys
_WORKER_KEYS = {f.alias or n for n, f in WorkerConfig.model_fields.items()} - {
    "families",
    "rest.port.picked",
}


def _split_families(
    raw: Mapping[str, Any], prefixes: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    plain: dict[str, Any] = {}
    families: dict[str, dict[str, Any]] = {p: {} for p in prefixes}
    for key, value in raw.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                families[prefix][key[len(prefix) :]] = value
                break
        else:
            plain[key] = value
    return plain, families


WORKER_ENV_PREFIXES = ("OFFRAMP_WORKER_", "CONNECT_")
"""Environment variables with these prefixes set worker keys; no other variable does.

``OFFRAMP_WORKER_`` is offramp's own; ``CONNECT_`` is what Confluent's Kafka Connect
images read, so their compose files carry over. Every other ``OFFRAMP_*`` variable
belongs to the tools (the CLI's ``OFFRAMP_LOG_LEVEL``, the devstack's ``OFFRAMP_CACHE``,
``OFFRAMP_PG_BIN``…) and is never read as a key, so a new one can't stop a worker."""

# The variables Kubernetes defines for a Service named like a prefix ("connect" gives
# CONNECT_PORT, CONNECT_SERVICE_HOST…): they name no worker key, and a worker must not
# refuse to start because a Service happens to have that name.
_SERVICE_LINK = re.compile(r"SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_\w+)?)?")

log = logging.getLogger("offramp.config")


def worker_env_keys(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{key: (variable, value)}`` for the variables that set worker keys:
    ``OFFRAMP_WORKER_REST_PORT`` or ``CONNECT_REST_PORT`` sets ``rest.port`` (the rest of
    the name lower-cased, ``_`` for ``.``; no worker key has ``_`` or ``-``). Two
    variables that set one key to different values are a ``ConfigError`` naming both."""
    found: dict[str, tuple[str, str]] = {}
    clashes: list[tuple[str, str]] = []
    for name in sorted(environ):
        prefix = next((p for p in WORKER_ENV_PREFIXES if name.startswith(p)), None)
        if prefix is None or _SERVICE_LINK.fullmatch(name[len(prefix) :]):
            continue
        key = name[len(prefix) :].lower().replace("_", ".")
        value = environ[name]
        if key in found and found[key][1] != value:
            clashes.append((name, f"sets {key} to another value than {found[key][0]} does"))
            continue
        found.setdefault(key, (name, value))
    if clashes:
        raise ConfigError(clashes)
    return found


def _warn_old_style(environ: Mapping[str, str]) -> None:
    """``OFFRAMP_<KEY>`` set worker keys once; say so where one still names a key (only
    a warning: the tools' own ``OFFRAMP_*`` variables must never stop a worker)."""
    for name in sorted(environ):
        if not name.startswith("OFFRAMP_") or name.startswith(WORKER_ENV_PREFIXES):
            continue
        key = name[len("OFFRAMP_") :].lower().replace("_", ".")
        if key in _WORKER_KEYS or key.startswith(_WORKER_FAMILIES):
            log.warning(
                "%s is not read: worker keys come from OFFRAMP_WORKER_%s (or CONNECT_%s)",
                name,
                name[len("OFFRAMP_") :],
                name[len("OFFRAMP_") :],
            )


def load_worker_config(
    source: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> WorkerConfig:
    """A worker config from a JSON or ``.properties`` file or a map, with the worker-key
    environment variables (see ``WORKER_ENV_PREFIXES``) over it, Kafka Connect's keys
    mapped (``offramp.worker_files``) and references resolved with the worker's own
    ``config.providers``. An error about a key that a variable set names that variable."""
    raw: dict[str, Any]
    if source is None:
        raw = {}
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        raw = read_config_file(source)
    env = os.environ if environ is None else environ
    _warn_old_style(env)
    from_env = worker_env_keys(env)
    raw.update({key: value for key, (_, value) in from_env.items()})
    try:
        raw = translate_worker_keys(raw)
        providers = ConfigProviders.from_worker(raw)
        declarations = {k: v for k, v in raw.items() if k.startswith("config.providers")}
        raw = providers.resolve({k: v for k, v in raw.items() if k not in declarations})
        raw.update(declarations)
        plain, families = _split_families(raw, _WORKER_FAMILIES)
        families.update(_client_security(plain, families))
        plain.update(_rest_credentials(plain, providers))
        try:
            config = WorkerConfig.model_validate({**plain, "families": families})
        except ValidationError as exc:
            raise ConfigError(pydantic_errors(exc)) from None
        config.__dict__["providers"] = providers  # the cached_property, already built
        return config
    except ConfigError as exc:
        raise ConfigError(_name_variables(exc.errors, from_env)) from None


def _client_security(
    plain: dict[str, Any], families: Mapping[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The top-level security keys (taken out of ``plain``) and the client families, in
    librdkafka's key names; every error at once, keyed as the file names it."""
    errors: list[tuple[str, str]] = []
    out: dict[str, dict[str, Any]] = {}
    security = {k: plain.pop(k) for k in [k for k in plain if is_security_key(k)]}
    for name, conf, prefix in (
        (_SECURITY, security, ""),
        *((p, families[p], p) for p in _CLIENT_FAMILIES),
    ):
        try:
            out[name] = librdkafka_keys(conf, prefix)
        except ConfigError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigError(errors)
    return out


def _name_variables(
    errors: list[tuple[str, str]], from_env: Mapping[str, tuple[str, str]]
) -> list[tuple[str, str]]:
    """Errors about keys set by a variable, keyed by the variable (what the user typed)."""
    out = []
    for key, reason in errors:
        set_by = next(
            (var for k, (var, _) in from_env.items() if key == k or key.startswith(k + ".")),
            None,
        )
        out.append((set_by, f"{key}: {reason}") if set_by else (key, reason))
    return out


def _rest_credentials(plain: Mapping[str, Any], providers: ConfigProviders) -> dict[str, Any]:
    """``rest.auth.tokens`` as a list and ``rest.auth.users`` as a map, also from the
    string forms an environment variable can hold (``"t1,t2"``, ``"ops:pw,ci:pw2"``),
    with ``${env:…}``/``${file:…}`` references inside the list or map resolved too."""
    out: dict[str, Any] = {}
    tokens = plain.get("rest.auth.tokens")
    if isinstance(tokens, str):
        tokens = split_commas(tokens)
    if isinstance(tokens, list):
        named = providers.resolve({f"rest.auth.tokens[{i}]": t for i, t in enumerate(tokens)})
        out["rest.auth.tokens"] = list(named.values())
    users = plain.get("rest.auth.users")
    if isinstance(users, str):
        pairs = [entry.partition(":") for entry in split_commas(users)]
        if any(not sep or not user for user, sep, _ in pairs):
            raise ConfigError([("rest.auth.users", "expected user:password[,user:password…]")])
        users = {user.strip(): password for user, _, password in pairs}
    if isinstance(users, dict):
        named = providers.resolve({f"rest.auth.users.{u}": p for u, p in users.items()})
        out["rest.auth.users"] = {u: named[f"rest.auth.users.{u}"] for u in users}
    return out


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON file holding an object; ``ConfigError`` naming the file otherwise."""
    try:
        with open(path, "rb") as f:
            data = orjson.loads(f.read())
    except OSError as exc:
        raise ConfigError([("", f"cannot read {os.fspath(path)}: {exc.strerror}")]) from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError([("", f"{os.fspath(path)} is not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([("", f"{os.fspath(path)} must hold a JSON object")])
    return data


CONFIG_FILE_SUFFIXES = (".json", ".properties")
"""What ``offramp standalone`` reads from a directory of connector configs."""


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object or a Java properties file: ``.json`` is JSON, ``.properties`` is
    properties, any other name is JSON if its first non-blank character is ``{``."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".json":
        return read_json_object(path)
    if suffix != ".properties":
        try:
            with open(path, "rb") as f:
                head = f.read(4096).lstrip()
        except OSError as exc:
            raise ConfigError([("", f"cannot read {os.fspath(path)}: {exc.strerror}")]) from None
        if head.startswith((b"{", b"\xef\xbb\xbf{")):
            return read_json_object(path)
    return dict(read_properties(path))


def connector_files(paths: list[str]) -> list[Path]:
    """The connector config files ``paths`` name: files as given, and a directory's
    ``*.json`` and ``*.properties`` in name order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.iterdir() if p.suffix in CONFIG_FILE_SUFFIXES and p.is_file()
                )
            )
        else:
            files.append(path)
    return files


def load_connector_file(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """``{"name": …, "config": {…}}`` (Kafka Connect's format), a flat config map, or a
    ``.properties`` file (flat, as ``connect-standalone`` reads it)."""
    data = read_config_file(path)
    if "config" in data and isinstance(data["config"], dict):
        config = dict(data["config"])
        name = str(data.get("name") or config.get("name") or "")
    else:
        config = dict(data)
        name = str(config.get("name") or "")
    if not name:
        raise ConfigError([("name", f"{os.fspath(path)} names no connector")])
    config.setdefault("name", name)
    return name, config


@dataclass
class ConnectorConfig:
    """A connector config that passed validation, with its parts ready to use."""

    name: str
    raw: dict[str, Any]
    settings: ConnectorSettings
    plugin: PluginInfo
    plugin_config: ConfigModel
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    producer_overrides: dict[str, Any] = field(default_factory=dict)
    admin_overrides: dict[str, Any] = field(default_factory=dict)
    key_converter: Converter | None = None
    value_converter: Converter | None = None
    transforms: TransformChain | None = None

    def close(self) -> None:
        """This config is no longer used (replaced, deleted, the worker stopping): its
        converters let go of what they hold, e.g. connections to a schema registry."""
        for converter in (self.key_converter, self.value_converter):
            if converter is not None:
                converter.close()


def _as_str(value: Any) -> Any:
    # Kafka Connect configs are string maps; JSON numbers/bools are accepted as well.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _policy_refusals(
    prefix: str, overrides: Mapping[str, Any], policy: OverridePolicy
) -> list[tuple[str, str]]:
    """The overrides ``connector.client.config.override.policy`` forbids, each named."""
    if policy == "All":
        return []
    allowed = PRINCIPAL_OVERRIDES if policy == "Principal" else ()
    reason = f"the worker's connector.client.config.override.policy is {policy}, which " + (
        f"allows only {', '.join(allowed)}" if allowed else "allows no client overrides"
    )
    return [(f"{prefix}{key}", reason) for key in sorted(overrides) if key not in allowed]


def validate_connector(
    name: str,
    raw: Mapping[str, Any],
    worker: WorkerConfig,
    registry: PluginRegistry,
    resolve_secrets: bool = True,
) -> ConnectorConfig:
    """Check a whole connector config; raise ``ConfigError`` listing every problem."""
    errors: list[tuple[str, str]] = []
    given = {k: _as_str(v) for k, v in raw.items()}
    if given.get("name", name) != name:
        errors.append(("name", f"config name {given['name']!r} differs from {name!r}"))
    given["name"] = name
    try:
        values = worker.providers.resolve(given) if resolve_secrets else dict(given)
    except ConfigError as exc:
        errors.extend(exc.errors)
        values = dict(given)
    plain, families = _split_families(values, _FAMILIES)
    common = {k: v for k, v in plain.items() if k in _COMMON_KEYS}
    own = {k: v for k, v in plain.items() if k not in _COMMON_KEYS}

    settings: ConnectorSettings | None = None
    try:
        settings = ConnectorSettings.model_validate(common)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, "topics"))
        if not any(key == "topics" for key, _ in errors):
            # Only values of the right type are checked together here: a wrong type was
            # reported by the model already, naming its key.
            topics, regex = common.get("topics") or [], common.get("topics.regex")
            listed = topics if isinstance(topics, list) else [topics]
            errors.extend(
                ("topics", problem)
                for problem in _topic_problems(
                    split_commas(topics if isinstance(topics, str) else map(str, listed)),
                    regex if isinstance(regex, str) else None,
                    str(common.get("errors.deadletterqueue.topic.name") or ""),
                )
            )

    plugin: PluginInfo | None = None
    plugin_config: ConfigModel | None = None
    class_name = plain.get("connector.class")
    if class_name:
        try:
            plugin = registry.get(str(class_name))
        except ConfigError as exc:
            errors.extend(exc.errors)
    if plugin is not None:
        model = plugin.connector.config_model
        refused = refusals(model, own)
        errors.extend(refused)
        refused_names = {key for key, _ in refused}
        try:
            plugin_config = model.model_validate(
                {k: v for k, v in own.items() if k not in refused_names}
            )
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc))
    elif own and class_name:
        pass  # can't judge plug-in keys without the plug-in
    elif own:
        errors.extend((k, "unknown configuration key") for k in sorted(own))

    converters: dict[str, Converter] = {}
    for part, default in (("key", worker.key_converter), ("value", worker.value_converter)):
        cname = str(plain.get(f"{part}.converter") or default)
        sub = worker.family(f"{part}.converter.") if not plain.get(f"{part}.converter") else {}
        sub.update(families[f"{part}.converter."])
        try:
            converters[part] = create_converter(cname, sub, is_key=part == "key")
        except ConfigError as exc:
            errors.extend(
                (f"{part}.converter.{k}" if k and "converter" not in k else k, r)
                for k, r in exc.errors
            )
        except Exception as exc:  # a third-party converter's own bug: still an answer
            errors.append((f"{part}.converter", f"{cname} failed to start: {exc!r}"))

    if plugin is not None and plugin_config is not None and "value" in converters:
        errors.extend(plugin.connector.converter_problems(plugin_config, converters["value"]))

    overrides: dict[str, dict[str, Any]] = {}
    for prefix in _OVERRIDES:
        refused = _policy_refusals(
            prefix, families[prefix], worker.connector_client_config_override_policy
        )
        errors.extend(refused)
        try:
            overrides[prefix] = librdkafka_keys(families[prefix], prefix)
        except ConfigError as exc:
            errors.extend(exc.errors)

    chain: TransformChain | None = None
    try:
        chain = TransformChain.from_config(values)
    except ConfigError as exc:
        errors.extend(exc.errors)

    if errors or settings is None or plugin is None or plugin_config is None:
        raise ConfigError(errors or [("connector.class", "missing required configuration")])
    return ConnectorConfig(
        name=name,
        raw=dict(given),
        settings=settings,
        plugin=plugin,
        plugin_config=plugin_config,
        consumer_overrides=overrides["consumer.override."],
        producer_overrides=overrides["producer.override."],
        admin_overrides=overrides["admin.override."],
        key_converter=converters["key"],
        value_converter=converters["value"],
        transforms=chain,
    )
