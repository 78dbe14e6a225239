"""Reading a plug-in's settings: the one path for connectors, transforms, predicates and
converters.

A plug-in declares its settings as a ``ConfigModel`` (dotted keys, string values
coerced, unknown keys refused); ``read_config`` validates a config map against it and
raises a ``ConfigError`` naming every bad key in full (``transforms.tag.tag.field``),
with the same reasons whatever the plug-in kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from offramp.errors import ConfigError
from offramp.plugin import ConfigModel

__all__ = ["config_errors", "model_keys", "read_config"]

ModelT = TypeVar("ModelT", bound=ConfigModel)


def config_errors(
    exc: ValidationError, key_prefix: str = "", fallback: str = ""
) -> list[tuple[str, str]]:
    """(key, reason) pairs from a pydantic error, keyed by the config's own key names
    with ``key_prefix`` in front; an error about no key in particular (a model
    validator's) goes under ``fallback``."""
    out = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        key = key_prefix + key if key else fallback or key_prefix.rstrip(".")
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown configuration key"
        elif err["type"] == "missing":
            reason = "missing required configuration"
        out.append((key, reason))
    return out


def read_config(model: type[ModelT], config: Mapping[str, Any], key_prefix: str = "") -> ModelT:
    """``config`` validated by ``model``; a ``ConfigError`` listing every problem, each
    under ``key_prefix`` + its key, otherwise."""
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError(config_errors(exc, key_prefix)) from None


def model_keys(model: type[ConfigModel]) -> set[str]:
    """The keys ``model`` reads (each field's alias, and its name)."""
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        if info.alias:
            keys.add(info.alias)
    return keys
