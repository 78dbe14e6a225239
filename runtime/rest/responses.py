"""Response helpers: JSON through orjson with the last secret-masking pass, and errors
in Kafka Connect's ``{"error_code", "message"}`` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from offramp.masking import SECRETS

__all__ = ["JSONBody", "error_response", "no_content"]


class JSONBody(Response):
    """Every JSON body the API sends: known secret values never leave the process."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return SECRETS.redact_json(orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS))


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONBody:
    return JSONBody({"error_code": status, "message": message}, status, headers=headers)


def no_content(status: int = 204) -> Response:
    return Response(status_code=status)
