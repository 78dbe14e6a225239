"""Config providers: ``${env:NAME}``, ``${file:/path:key}`` and ``${directory:/dir:file}``.

References stay in the stored config (that is what GET ``/config`` returns) and are
resolved only when a task or the worker starts, so secrets live in the environment or
in files, never in the config store or in responses.

A reference has Kafka's syntax, ``${provider:[path:]key}`` (the path ends at the first
``:`` after the provider's name). Which providers exist is the worker's choice, as in
Kafka Connect::

    config.providers=file,env
    config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
    config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
    config.providers.env.param.allowlist.pattern=^SINK_.*$

The classes are Kafka's three (``FileConfigProvider``, ``EnvVarConfigProvider``,
``DirectoryConfigProvider``; ``file``, ``env`` and ``directory`` name them too), with
their parameters: ``allowed.paths`` for the file and directory providers, and
``allowlist.pattern`` for the env provider. A worker that declares no providers has
``env``, ``file`` and ``directory`` under those names. As in Kafka, a reference to a
provider the worker doesn't have is left as it is; unlike Kafka, which leaves a
reference it can't resolve in place, a missing file, key or variable is a
``ConfigError`` naming the config key, so a literal ``${…}`` never becomes a password.

- ``file``: the value of ``key`` in the Java properties file ``path`` (a ``.json``
  file: the value of its top-level ``key``).
- ``env``: the environment variable ``key`` (no path).
- ``directory``: the whole content of the file ``key`` in directory ``path``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from offramp.commas import split_commas
from offramp.errors import ConfigError
from offramp.properties import parse_properties

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROVIDER_CLASSES",
    "ConfigProvider",
    "ConfigProviders",
    "DirectoryConfigProvider",
    "EnvVarConfigProvider",
    "FileConfigProvider",
    "Resolver",
    "has_reference",
    "resolve",
]

# Kafka's ConfigTransformer.DEFAULT_PATTERN.
_REFERENCE = re.compile(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}")


Resolver = Callable[[Mapping[str, Any]], dict[str, Any]]
"""What resolves a config's references (``ConfigProviders.resolve``)."""


class ConfigProvider(Protocol):
    """Gives the value a reference names; ``ConfigError`` (keyed by ``config_key``) if
    it can't."""

    def get(self, path: str, key: str, config_key: str) -> str: ...


class _PathAllowlist:
    """Kafka's ``allowed.paths``: the provider reads only files under these paths."""

    def __init__(self, params: Mapping[str, str], name: str) -> None:
        given = params.get("allowed.paths", "")
        self.allowed = [os.path.normpath(os.path.abspath(p)) for p in split_commas(given)]
        self.name = name

    def check(self, path: str, config_key: str) -> None:
        if not self.allowed:
            return
        full = os.path.normpath(os.path.abspath(path))
        if not any(full == a or full.startswith(a.rstrip(os.sep) + os.sep) for a in self.allowed):
            raise ConfigError(
                [(config_key, f"{path} is not under the {self.name} provider's allowed.paths")]
            )


class FileConfigProvider:
    """``${file:/path/to/file.properties:key}``."""

    params = ("allowed.paths",)

    def __init__(self, params: Mapping[str, str] | None = None, name: str = "file") -> None:
        self.allowlist = _PathAllowlist(params or {}, name)
        self.name = name

    def get(self, path: str, key: str, config_key: str) -> str:
        reference = f"${{{self.name}:{path}:{key}}}" if path else f"${{{self.name}:{key}}}"
        if not path:
            raise ConfigError([(config_key, f"{reference} must be ${{{self.name}:PATH:KEY}}")])
        self.allowlist.check(path, config_key)
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([(config_key, f"cannot read {path}: {exc.strerror}")]) from None
        except UnicodeDecodeError:
            text = file.read_text(encoding="latin-1")
        data: Mapping[str, Any]
        if file.suffix == ".json":
            try:
                data = json.loads(text)
            except ValueError:
                raise ConfigError([(config_key, f"{path} is not valid JSON")]) from None
            if not isinstance(data, dict):
                raise ConfigError([(config_key, f"{path} must hold a JSON object")])
        else:
            data = parse_properties(text, path)
        if key not in data:
            raise ConfigError([(config_key, f"{path} has no key {key!r}")])
        return str(data[key])


class EnvVarConfigProvider:
    """``${env:NAME}``; ``allowlist.pattern`` (a regex the whole name must match)
    limits which variables a config may read."""

    params = ("allowlist.pattern",)

    def __init__(self, params: Mapping[str, str] | None = None, name: str = "env") -> None:
        pattern = (params or {}).get("allowlist.pattern")
        try:
            self.allowlist = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ConfigError(
                [(f"config.providers.{name}.param.allowlist.pattern", f"not a regex: {exc}")]
            ) from None
        self.name = name

    def get(self, path: str, key: str, config_key: str) -> str:
        if path:
            raise ConfigError(
                [(config_key, f"${{{self.name}:{path}:{key}}} must be ${{{self.name}:NAME}}")]
            )
        if self.allowlist is not None and not self.allowlist.fullmatch(key):
            raise ConfigError(
                [(config_key, f"environment variable {key} is not allowed by allowlist.pattern")]
            )
        if key not in os.environ:
            raise ConfigError([(config_key, f"environment variable {key} is not set")])
        return os.environ[key]


class DirectoryConfigProvider:
    """``${directory:/run/secrets:db-password}``: the content of a file in a directory
    (Kubernetes and Docker secrets mount one file per secret)."""

    params = ("allowed.paths",)

    def __init__(self, params: Mapping[str, str] | None = None, name: str = "directory") -> None:
        self.allowlist = _PathAllowlist(params or {}, name)
        self.name = name

    def get(self, path: str, key: str, config_key: str) -> str:
        if not path:
            raise ConfigError(
                [(config_key, f"${{{self.name}:{key}}} must be ${{{self.name}:DIR:FILE}}")]
            )
        file = Path(path) / key
        self.allowlist.check(str(file), config_key)
        if not Path(path).is_dir():
            raise ConfigError([(config_key, f"{path} is not a directory")])
        if not file.is_file() or file.parent != Path(path):
            raise ConfigError([(config_key, f"{path} has no file {key!r}")])
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([(config_key, f"cannot read {file}: {exc.strerror}")]) from None


_PROVIDER_TYPES: dict[
    str, type[FileConfigProvider | EnvVarConfigProvider | DirectoryConfigProvider]
]
_PROVIDER_TYPES = {
    "org.apache.kafka.common.config.provider.FileConfigProvider": FileConfigProvider,
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider": EnvVarConfigProvider,
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider": DirectoryConfigProvider,
    "FileConfigProvider": FileConfigProvider,
    "EnvVarConfigProvider": EnvVarConfigProvider,
    "DirectoryConfigProvider": DirectoryConfigProvider,
    "file": FileConfigProvider,
    "env": EnvVarConfigProvider,
    "directory": DirectoryConfigProvider,
}
PROVIDER_CLASSES = tuple(_PROVIDER_TYPES)
"""The names ``config.providers.<name>.class`` accepts."""


class ConfigProviders:
    """The providers a worker has, by the name references use."""

    def __init__(self, providers: Mapping[str, ConfigProvider]) -> None:
        self.providers = dict(providers)

    @classmethod
    def from_worker(cls, raw: Mapping[str, Any]) -> ConfigProviders:
        """From a worker's ``config.providers`` and ``config.providers.<name>.*`` keys
        (the defaults if it has none); ``ConfigError`` naming each bad key."""
        names_value = raw.get("config.providers")
        declared = {k: str(v) for k, v in raw.items() if k.startswith("config.providers.")}
        if names_value is None and not declared:
            return DEFAULT_PROVIDERS
        if isinstance(names_value, list):
            names = [str(n).strip() for n in names_value if str(n).strip()]
        else:
            names = split_commas(str(names_value or ""))
        errors: list[tuple[str, str]] = []
        providers: dict[str, ConfigProvider] = {}
        for name in names:
            prefix = f"config.providers.{name}."
            class_name = declared.get(prefix + "class")
            if not class_name:
                errors.append((prefix + "class", "missing required configuration"))
                continue
            kind = _PROVIDER_TYPES.get(class_name.strip())
            if kind is None:
                errors.append(
                    (
                        prefix + "class",
                        f"{class_name!r} is not a provider offramp has: use "
                        "org.apache.kafka.common.config.provider.FileConfigProvider, "
                        "EnvVarConfigProvider or DirectoryConfigProvider",
                    )
                )
                continue
            params = {
                k[len(prefix + "param.") :]: v
                for k, v in declared.items()
                if k.startswith(prefix + "param.")
            }
            for param in sorted(set(params) - set(kind.params)):
                errors.append(
                    (
                        f"{prefix}param.{param}",
                        f"unknown parameter of {kind.__name__} (it has: {', '.join(kind.params)})",
                    )
                )
            try:
                providers[name] = kind(params, name)
            except ConfigError as exc:
                errors.extend(exc.errors)
        for key in sorted(declared):
            name = key[len("config.providers.") :].partition(".")[0]
            rest = key[len(f"config.providers.{name}.") :]
            if name not in names:
                errors.append((key, f"provider {name!r} is not listed in config.providers"))
            elif rest != "class" and not rest.startswith("param."):
                errors.append((key, "unknown configuration key (expected class or param.*)"))
        if errors:
            raise ConfigError(errors)
        return cls(providers)

    def resolve_value(self, key: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, path, item = match.group(1), match.group(2) or "", match.group(3)
            provider = self.providers.get(name)
            if provider is None:
                return match.group(0)  # as Kafka does: not a provider of this worker
            return provider.get(path, item, key)

        return _REFERENCE.sub(substitute, value)

    def resolve(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``config`` with every reference replaced; all failures in one error."""
        resolved: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for key, value in config.items():
            if has_reference(value):
                try:
                    resolved[key] = self.resolve_value(key, value)
                except ConfigError as exc:
                    errors.extend(exc.errors)
            else:
                resolved[key] = value
        if errors:
            raise ConfigError(errors)
        return resolved


DEFAULT_PROVIDERS = ConfigProviders(
    {
        "env": EnvVarConfigProvider(),
        "file": FileConfigProvider(),
        "directory": DirectoryConfigProvider(),
    }
)
"""What a worker without ``config.providers`` has."""


def has_reference(value: Any) -> bool:
    """True if ``value`` is a string holding a ``${provider:…}`` reference."""
    return isinstance(value, str) and _REFERENCE.search(value) is not None


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` resolved with the default providers (see ``DEFAULT_PROVIDERS``)."""
    return DEFAULT_PROVIDERS.resolve(config)
