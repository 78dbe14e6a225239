"""Reading one transform's or predicate's keys, collecting every problem before raising.

Kafka Connect configs arrive as JSON maps whose values are usually strings (``"true"``,
``"a,b"``); offramp also accepts native JSON values (``true``, ``["a", "b"]``, ``5``).
A ``ConfigReader`` hides that difference, records every key it was asked for, and on
``finish`` reports the keys nobody asked for, so a typo (``static.vlaue``) fails the
connector instead of being silently ignored.

A plug-in may instead declare its keys as a ``ConfigModel``, exactly as a connector
does: ``ConfigReader.model`` (which ``Configurable`` calls for a ``config_model``)
validates them through ``offramp.plugin_config.read_config``, the path connector configs
take, and its problems join the others under their full keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from offramp.commas import split_commas
from offramp.errors import ConfigError
from offramp.plugin import ConfigModel
from offramp.plugin_config import model_keys, read_config
from offramp.transforms.java_regex import compile_java_regex

ModelT = TypeVar("ModelT", bound=ConfigModel)

__all__ = ["ConfigReader", "parse_bool", "split_list"]


def split_list(value: Any) -> list[str] | None:
    """``"a, b,,c"`` or ``["a", "b"]`` → ``["a", "b", "c"]``; None if not a list-like value."""
    if isinstance(value, str):
        return split_commas(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return split_commas(value)
    return None


def parse_bool(value: Any) -> bool | None:
    """``true``/``"TRUE"``/``"false"`` → a bool; None if the value is not a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class ConfigReader:
    """Typed access to one plug-in's keys (prefix already stripped).

    ``key_prefix`` (e.g. ``transforms.addTopic.``) is only used to name keys in errors,
    so a user sees the exact key to fix in their connector config.
    """

    def __init__(self, config: Mapping[str, Any], key_prefix: str = "") -> None:
        self._config = config
        self._prefix = key_prefix
        self._asked: set[str] = set()
        self.errors: list[tuple[str, str]] = []

    def full_key(self, key: str) -> str:
        return self._prefix + key

    def error(self, key: str, reason: str) -> None:
        """Record a problem with ``key``; ``finish`` raises them all together."""
        self.errors.append((self.full_key(key), reason))

    def _raw(self, key: str) -> Any:
        self._asked.add(key)
        return self._config.get(key)

    def string(self, key: str, default: str | None = None) -> str | None:
        """A string value; numbers and booleans are accepted in their JSON spelling."""
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        self.error(key, f"expected a string, got {type(value).__name__}")
        return default

    def required_string(self, key: str) -> str:
        """A non-empty string; a missing or empty value is recorded as an error."""
        value = self.string(key)
        if value is None:
            if self._config.get(key) is None:  # else ``string`` already said what is wrong
                self.error(key, "is required")
            return ""
        if not value.strip():
            self.error(key, "must not be empty")
            return ""
        return value

    def string_list(self, key: str, *, required: bool = False) -> list[str]:
        """A comma-separated string or a JSON list of strings."""
        value = self._raw(key)
        if value is None:
            if required:
                self.error(key, "is required (a comma-separated list)")
            return []
        items = split_list(value)
        if items is None:
            self.error(key, "expected a comma-separated string or a list of strings")
            return []
        if required and not items:
            self.error(key, "must name at least one entry")
        return items

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key)
        if value is None:
            return default
        parsed = parse_bool(value)
        if parsed is None:
            self.error(key, f"expected true or false, got {value!r}")
            return default
        return parsed

    def choice(self, key: str, options: Sequence[str], default: str | None = None) -> str:
        """One of ``options``, matched case-insensitively and returned in its canonical
        spelling; without a default the key is required."""
        value = self.string(key)
        if value is None:
            if default is None:
                self.error(key, f"is required (one of {', '.join(options)})")
                return options[0]
            return default
        for option in options:
            if option.lower() == value.strip().lower():
                return option
        self.error(key, f"{value!r} is not one of {', '.join(options)}")
        return default if default is not None else options[0]

    def regex(self, key: str) -> re.Pattern[str] | None:
        """A required Java-style regular expression, compiled for Python's ``re``."""
        pattern = self.required_string(key)
        if not pattern:
            return None
        try:
            return compile_java_regex(pattern)
        except re.error as exc:
            self.error(key, f"invalid regular expression {pattern!r}: {exc}")
            return None

    def model(self, model: type[ModelT]) -> ModelT | None:
        """The keys ``model`` declares, validated as a connector's config is; None (and
        each problem recorded under its full key) if they don't validate."""
        keys = model_keys(model)
        own = {key: value for key, value in self._config.items() if key in keys}
        self._asked.update(own)
        self._asked.update(info.alias for info in model.model_fields.values() if info.alias)
        try:
            return read_config(model, own)
        except ConfigError as exc:
            self.errors.extend((self.full_key(key), reason) for key, reason in exc.errors)
            return None

    def finish(self) -> None:
        """Raise ``ConfigError`` with every problem, including keys nobody asked for."""
        for key in self._config:
            if key in self._asked:
                continue
            reason = "unknown key"
            close = difflib.get_close_matches(key, sorted(self._asked), n=1)
            if close:
                reason += f"; did you mean {self.full_key(close[0])!r}?"
            elif self._asked:
                reason += f"; known keys: {', '.join(sorted(self._asked))}"
            else:
                reason += "; this plug-in takes no settings"
            self.error(key, reason)
        if self.errors:
            raise ConfigError(self.errors)
