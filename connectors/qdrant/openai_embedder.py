"""``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint over HTTP (httpx).

Covers OpenAI itself, vLLM, Hugging Face TEI, Ollama and LiteLLM-style gateways. Texts
go in batches of ``embedder.batch.size`` per request. Answers map to the connector's
errors: 429 and 5xx are transient (``Retry-After`` / ``retry-after-ms`` honoured),
401/403/404 stop the task with a message naming the key to fix, any other 4xx refuses
the batch (the connector then isolates the texts that fail alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from pydantic import Field, SecretStr, field_validator

from offramp import BatchError, FatalError, RetriableError, parse_retry_after
from offramp.connectors.qdrant.embedding import Embedder, EmbedderConfig

__all__ = ["OpenAIEmbedder", "OpenAIEmbedderConfig", "retry_after_seconds"]


class OpenAIEmbedderConfig(EmbedderConfig):
    url: str = Field(
        description="Base URL of the API, e.g. https://api.openai.com/v1 (``/embeddings`` "
        "is appended unless the URL already ends with it)"
    )
    model: str = Field(min_length=1, description="Model name sent with each request")
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token")
    dimensions: int | None = Field(
        None, ge=1, description="Ask the model for vectors of this size (text-embedding-3-*)"
    )
    batch_size: int = Field(64, ge=1, le=2048, description="Texts per request")
    timeout_ms: int = Field(30000, ge=1, description="Per-request timeout")
    concurrency: int = Field(
        4, ge=1, le=64, description="Requests in flight at once (one batch.size each)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The server's wait hint: ``retry-after-ms``, ``Retry-After`` in seconds or a date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def _message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:300].strip() or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error  # TEI's shape
    return response.text[:300].strip()


class OpenAIEmbedder(Embedder[OpenAIEmbedderConfig]):
    """Vectors from an OpenAI-compatible embeddings endpoint."""

    config_model = OpenAIEmbedderConfig

    def __init__(self, config: OpenAIEmbedderConfig) -> None:
        super().__init__(config)
        url = config.url
        self.endpoint = url if url.endswith("/embeddings") else url + "/embeddings"
        headers = {"content-type": "application/json", "user-agent": "offramp-qdrant-sink"}
        if config.api_key is not None:
            headers["authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self._http = httpx.Client(headers=headers, timeout=config.timeout_ms / 1000.0)
        self._dimension = config.dimensions

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # Not configured: ask the model once; the answer's size is the dimension.
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension

    @property
    def max_batch(self) -> int:
        return self.config.batch_size

    @property
    def max_concurrency(self) -> int:
        return self.config.concurrency  # httpx.Client is thread-safe; nothing else is shared

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        size = self.config.batch_size
        out: list[list[float]] = []
        for start in range(0, len(texts), size):
            out.extend(self._request(texts[start : start + size]))
        return out

    def _request(self, texts: Sequence[str]) -> list[list[float]]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "input": list(texts),
            "encoding_format": "float",
        }
        if self.config.dimensions is not None:
            body["dimensions"] = self.config.dimensions
        try:
            response = self._http.post(self.endpoint, content=orjson.dumps(body))
        except httpx.TimeoutException as exc:
            raise RetriableError(f"embedder at {self.endpoint} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise RetriableError(f"embedder at {self.endpoint} unreachable: {exc}") from exc
        status = response.status_code
        if status == 200:
            return self._vectors(response, len(texts))
        message = _message(response)
        where = f"embedder at {self.endpoint} answered {status}"
        if status == 429 or status == 408 or status >= 500:
            raise RetriableError(f"{where}: {message}", retry_after_seconds(response.headers))
        if status in (401, 403):
            raise FatalError(f"{where} (check embedder.api.key): {message}")
        if status == 404:
            raise FatalError(f"{where} (check embedder.url and embedder.model): {message}")
        raise BatchError(f"{where}: {message}")

    def _vectors(self, response: httpx.Response, count: int) -> list[list[float]]:
        def broken(why: str) -> FatalError:
            return FatalError(f"embedder at {self.endpoint} sent an unusable answer: {why}")

        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise broken(f"not JSON ({exc})") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != count:
            got = len(data) if isinstance(data, list) else "no"
            raise broken(f"{got} embeddings for {count} inputs")
        if all(isinstance(item, dict) and isinstance(item.get("index"), int) for item in data):
            data = sorted(data, key=lambda item: item["index"])
        vectors: list[list[float]] = []
        for item in data:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vector, list) or not vector:
                raise broken("an item has no 'embedding' list (is encoding_format=float honoured?)")
            vectors.append(vector)
        if self.config.dimensions is not None and len(vectors[0]) != self.config.dimensions:
            raise broken(
                f"vectors of size {len(vectors[0])}, but embedder.dimensions is "
                f"{self.config.dimensions}"
            )
        return vectors

    def close(self) -> None:
        self._http.close()
