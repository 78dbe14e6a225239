"""Config providers: ``${env:NAME}`` and ``${file:/path:key}`` references in configs.

References stay in the stored config (that is what GET ``/config`` returns) and are
resolved only when a task or the worker starts, so secrets live in the environment or
in files, never in the config store or in responses.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offramp.errors import ConfigError

__all__ = ["has_reference", "resolve"]

_REFERENCE = re.compile(r"\$\{(env|file):([^}]*)\}")


def has_reference(value: Any) -> bool:
    return isinstance(value, str) and _REFERENCE.search(value) is not None


def _read_file(spec: str, key_name: str) -> str:
    path, sep, item = spec.rpartition(":")
    if not sep or not path:
        raise ConfigError([(key_name, f"${{file:{spec}}} must be ${{file:/path:key}}")])
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError([(key_name, f"cannot read {path}: {exc.strerror}")]) from None
    if file.suffix == ".json":
        data = json.loads(text)
        if item not in data:
            raise ConfigError([(key_name, f"{path} has no key {item!r}")])
        return str(data[item])
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        name, _, value = line.partition("=") if "=" in line else line.partition(":")
        if name.strip() == item:
            return value.strip()
    raise ConfigError([(key_name, f"{path} has no key {item!r}")])


def _resolve_value(key: str, value: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        provider, spec = match.group(1), match.group(2)
        if provider == "env":
            if spec not in os.environ:
                raise ConfigError([(key, f"environment variable {spec} is not set")])
            return os.environ[spec]
        return _read_file(spec, key)

    return _REFERENCE.sub(substitute, value)


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with every reference replaced; all failures in one error."""
    resolved: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for key, value in config.items():
        if has_reference(value):
            try:
                resolved[key] = _resolve_value(key, value)
            except ConfigError as exc:
                errors.extend(exc.errors)
        else:
            resolved[key] = value
    if errors:
        raise ConfigError(errors)
    return resolved
