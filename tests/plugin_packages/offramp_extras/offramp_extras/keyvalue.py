"""``keyvalue``: ``a=1;b=2`` text → ``{"a": "1", "b": "2"}``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from offramp import ConfigModel, Headers
from offramp.converters import Converter


class KeyValueConfig(ConfigModel):
    separator: str = Field(";", min_length=1, description="Between pairs")
    encoding: str = "utf-8"


class KeyValueConverter(Converter):
    config_model = KeyValueConfig
    settings: KeyValueConfig

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        if data is None:
            return None
        pairs = data.decode(self.settings.encoding).split(self.settings.separator)
        out: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"{pair!r} is not key=value")
            out[key.strip()] = value.strip()
        return out
