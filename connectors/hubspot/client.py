"""hubspot-api-client, wrapped: one connection pool, every call budgeted, answers as JSON.

- Calls go through the library's generated APIs (``crm.objects.batch_api.upsert``, the
  v4 associations ``batch_api.create_default``) with ``host`` pointing at
  ``hubspot.base.url``.
- urllib3 retries nothing (``Retry(0)``): every attempt must pass the rate limiter, and
  the runtime owns retries and backoff.
- Answers are read raw (``_preload_content=False``) and parsed with orjson: a 207's
  errors keep whatever shape HubSpot sends (the generated models reject answers that
  lack fields they mark required), and the response headers feed the limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from hubspot import Client
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from urllib3.util.retry import Retry

from offramp import RetriableError
from offramp.connectors.hubspot.errors import classify, parse_json
from offramp.connectors.hubspot.ratelimit import RateLimiter

__all__ = ["HubSpotClient", "LookupFailed", "chunked"]

T = TypeVar("T")

_API_ERRORS = (ObjectsApiException, AssociationsApiException)


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``: one batch call each."""
    return [items[i : i + size] for i in range(0, len(items), size)]


class HubSpotClient:
    """The calls the sink makes; each returns the parsed JSON of a 2xx answer or raises
    what ``errors.classify`` says the answer means."""

    def __init__(
        self,
        base_url: str,
        token: str,
        limiter: RateLimiter,
        object_type: str,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.base_url = base_url
        self.limiter = limiter
        self.object_type = object_type
        self._token = token
        self._timeout = (min(10.0, timeout_seconds), timeout_seconds)
        client = Client.create(access_token=token, host=base_url, retry=Retry(total=0, redirect=0))
        # Each property access builds a new ApiClient with its own pool: take them once.
        self._objects = client.crm.objects.batch_api
        self._associations = client.crm.associations.v4.batch_api

    # ----- budgeted calls ---------------------------------------------------------------

    def upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """``POST /crm/v3/objects/{type}/batch/upsert``: 200 or 207 answers."""
        return self._send(
            lambda: self._objects.upsert(
                object_type,
                {"inputs": inputs},
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
            object_type,
        )

    def associate_default(
        self, from_type: str, to_type: str, pairs: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """``POST /crm/v4/associations/{from}/{to}/batch/associate/default``."""
        body = {"inputs": [{"from": {"id": a}, "to": {"id": b}} for a, b in pairs]}
        return self._send(
            lambda: self._associations.create_default(
                from_type,
                to_type,
                body,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
            from_type,
        )

    def _send(self, call: Callable[[], Any], object_type: str) -> dict[str, Any]:
        with self.limiter.call():
            try:
                response = call()
                status, raw, headers = response.status, response.data, response.headers
            except _API_ERRORS as exc:
                status, raw, headers = exc.status or 0, exc.body, exc.headers or {}
            except urllib3.exceptions.HTTPError as exc:
                raise RetriableError(f"HubSpot at {self.base_url} unreachable: {exc}") from exc
        self.limiter.observe(headers)
        body = parse_json(raw)
        if 200 <= status < 300:
            return body if isinstance(body, dict) else {}
        raise classify(
            status,
            body,
            headers,
            limiter=self.limiter,
            object_type=object_type,
            base_url=self.base_url,
        )

    # ----- unbudgeted look-ups for check() ----------------------------------------------

    def account_details(self) -> dict[str, Any]:
        """``GET /account-info/v3/details``: portal id, time zone, account type."""
        details: dict[str, Any] = self._lookup("GET", "/account-info/v3/details")
        return details

    def token_scopes(self) -> list[str] | None:
        """The token's scopes, from the private-app or OAuth introspection endpoint; None
        when HubSpot won't say for this kind of token."""
        try:
            if self._token.startswith("pat-"):
                info = self._lookup(
                    "POST",
                    "/oauth/v2/private-apps/get/access-token-info",
                    {"tokenKey": self._token},
                )
            else:
                info = self._lookup("GET", f"/oauth/v1/access-tokens/{quote(self._token, '')}")
        except (RetriableError, LookupFailed):
            return None
        scopes = info.get("scopes")
        return [str(s) for s in scopes] if isinstance(scopes, list) else None

    def _lookup(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = self._objects.api_client.call_api(
                path,
                method,
                header_params={"Accept": "application/json"},
                body=dict(body) if body is not None else None,
                auth_settings=["oauth2"],
                _preload_content=False,
                _request_timeout=self._timeout,
            )
            status, raw, headers = response.status, response.data, response.headers
        except _API_ERRORS as exc:
            status, raw, headers = exc.status or 0, exc.body, exc.headers or {}
        except urllib3.exceptions.HTTPError as exc:
            raise RetriableError(f"HubSpot at {self.base_url} unreachable: {exc}") from exc
        parsed = parse_json(raw)
        if 200 <= status < 300:
            return parsed if isinstance(parsed, dict) else {}
        if status in (401, 403):
            raise classify(
                status,
                parsed,
                headers,
                limiter=self.limiter,
                object_type=self.object_type,
                base_url=self.base_url,
            )
        raise LookupFailed(f"{method} {path} answered {status}")

    def close(self) -> None:
        for api in (self._objects, self._associations):
            api.api_client.close()
            api.api_client.rest_client.pool_manager.clear()


class LookupFailed(Exception):
    """An introspection endpoint answered something other than 2xx, 401 or 403."""
