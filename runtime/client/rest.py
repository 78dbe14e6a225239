"""A small client for a worker's REST API (any Kafka Connect-compatible one): one method
per call the command line makes, errors raised as ``ClientError`` with the worker's own
``message``.

Credentials: ``OFFRAMP_TOKEN`` (a bearer token), or ``OFFRAMP_TOKEN_FILE`` (a file that
holds one, as a Kubernetes Secret is mounted), or ``OFFRAMP_USER`` and
``OFFRAMP_PASSWORD`` (HTTP basic). The worker's URL: ``--url`` or ``OFFRAMP_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["DEFAULT_URL", "ClientError", "ConnectClient", "credentials_from_env"]

DEFAULT_URL = "http://localhost:8083"


class ClientError(Exception):
    """A call the worker refused or could not be made; ``str()`` is what to print."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    user: str | None = None
    password: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def basic(self) -> tuple[str, str] | None:
        return (self.user, self.password or "") if self.user else None


def credentials_from_env(token_file: str | None = None) -> Credentials:
    """The credentials the environment (or ``--token-file``) names; none is fine for an
    open worker on loopback."""
    path = token_file or os.environ.get("OFFRAMP_TOKEN_FILE")
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise ClientError(f"cannot read the token file {path}: {exc.strerror}") from exc
        if not token:
            raise ClientError(f"the token file {path} is empty")
        return Credentials(token=token)
    env_token = os.environ.get("OFFRAMP_TOKEN")
    if env_token:
        return Credentials(token=env_token)
    return Credentials(
        user=os.environ.get("OFFRAMP_USER"), password=os.environ.get("OFFRAMP_PASSWORD")
    )


def _name(name: str) -> str:
    return quote(name, safe="")


class ConnectClient:
    """Calls one worker; every worker of a cluster answers for all of it."""

    def __init__(
        self, url: str, credentials: Credentials | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        creds = credentials or Credentials()
        self._http = httpx.Client(
            base_url=self.url, headers=creds.headers(), auth=creds.basic(), timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConnectClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the worker at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ClientError(_error_message(response), response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(
                f"{method} {path}: the worker answered {response.status_code} with a body "
                f"that is not JSON: {response.text[:200]!r}"
            ) from exc

    # -- the worker ------------------------------------------------------------------------
    def health(self, live: bool = False) -> tuple[int, dict[str, Any]]:
        """``GET /health`` (readiness: Kafka reachable, connectors started) or
        ``/health/live`` (the process answers): the status code and body, 5xx included,
        since an unhealthy answer is an answer here, not a failure to ask."""
        path = "/health/live" if live else "/health"
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the worker at {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"status": "unknown", "message": response.text[:200]}
        return response.status_code, body if isinstance(body, dict) else {"status": str(body)}

    # -- connectors --------------------------------------------------------------------
    def connectors(self) -> list[str]:
        names: list[str] = self._call("GET", "/connectors")
        return sorted(names)

    def connectors_expanded(self) -> dict[str, dict[str, Any]]:
        """Every connector's status and info in one call (``?expand=status&expand=info``)."""
        found: dict[str, dict[str, Any]] = self._call(
            "GET", "/connectors", params=(("expand", "status"), ("expand", "info"))
        )
        return found

    def info(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/connectors/{_name(name)}")
        return found

    def config(self, name: str) -> dict[str, str]:
        found: dict[str, str] = self._call("GET", f"/connectors/{_name(name)}/config")
        return found

    def status(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/connectors/{_name(name)}/status")
        return found

    def topics(self, name: str) -> list[str]:
        found: dict[str, dict[str, list[str]]] = self._call(
            "GET", f"/connectors/{_name(name)}/topics"
        )
        return found.get(name, {}).get("topics", [])

    def put_config(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("PUT", f"/connectors/{_name(name)}/config", json=config)
        return found

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{_name(name)}")

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_name(name)}/pause")

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_name(name)}/resume")

    def stop(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_name(name)}/stop")

    def restart(
        self, name: str, include_tasks: bool = False, only_failed: bool = False
    ) -> dict[str, Any] | None:
        params = (
            ("includeTasks", str(include_tasks).lower()),
            ("onlyFailed", str(only_failed).lower()),
        )
        found: dict[str, Any] | None = self._call(
            "POST", f"/connectors/{_name(name)}/restart", params=params
        )
        return found

    def restart_task(self, name: str, task: int) -> None:
        self._call("POST", f"/connectors/{_name(name)}/tasks/{task}/restart")

    # -- offsets -----------------------------------------------------------------------
    def offsets(self, name: str) -> list[dict[str, Any]]:
        found: dict[str, list[dict[str, Any]]] = self._call(
            "GET", f"/connectors/{_name(name)}/offsets"
        )
        return found.get("offsets", [])

    def alter_offsets(self, name: str, offsets: list[dict[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "PATCH", f"/connectors/{_name(name)}/offsets", json={"offsets": offsets}
        )
        return found

    def offsets_to_timestamp(self, name: str, timestamp: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "PATCH", f"/connectors/{_name(name)}/offsets", params=(("timestamp", timestamp),)
        )
        return found

    def reset_offsets(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("DELETE", f"/connectors/{_name(name)}/offsets")
        return found

    # -- plug-ins ----------------------------------------------------------------------
    def plugins(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call(
            "GET", "/connector-plugins", params=(("connectorsOnly", "true"),)
        )
        return found

    def validate(self, plugin: str, config: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "PUT", f"/connector-plugins/{_name(plugin)}/config/validate", json=config
        )
        return found


def _error_message(response: httpx.Response) -> str:
    """The worker's ``message`` (Kafka Connect's error body), else the status and text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = f"{body['message']} (HTTP {response.status_code})"
    else:
        message = f"HTTP {response.status_code}: {response.text[:300]}"
    if response.status_code == 401:
        message += (
            "; set OFFRAMP_TOKEN, OFFRAMP_TOKEN_FILE (or --token-file), or OFFRAMP_USER and "
            "OFFRAMP_PASSWORD"
        )
    return message
