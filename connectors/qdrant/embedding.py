"""The embedder plug-in API: turn texts into dense vectors for the Qdrant sink.

An embedder is a class registered under the entry-point group ``offramp.embedders``
(or in-process with ``register_embedder``). A connector config names it with
``"embedder": "<alias>"`` (or its ``module:Class``); every other ``embedder.<key>`` of
the config is read by the embedder's own config model (a ``ConfigModel``, so ``api.key``
is the field ``api_key``), except ``embedder.text.field``, which the connector reads.

    class MyConfig(EmbedderConfig):
        url: str = Field(description="Where the model runs")

    class MyEmbedder(Embedder[MyConfig]):
        config_model = MyConfig

        @property
        def dimension(self) -> int:
            return 768

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            return call_my_model(self.config.url, texts)

What ``embed`` may raise (the connector does the rest):

- ``RetriableError(msg, retry_after)``: transient (429, 5xx, timeout); the batch is
  retried with backoff, ``retry_after`` first;
- ``FatalError``: can't go on (bad credentials, unknown model); the task fails;
- ``BatchError``: the service refused the batch without saying which text: the connector
  splits it to find the texts that fail alone and dead-letters their records.
  Any other exception is treated the same way.
"""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ValidationError

from offramp import ConfigModel

__all__ = [
    "ENTRY_POINT_GROUP",
    "Embedder",
    "EmbedderConfig",
    "embedder_class",
    "embedder_names",
    "option_errors",
    "register_embedder",
]

ENTRY_POINT_GROUP = "offramp.embedders"


class EmbedderConfig(ConfigModel):
    """Base of an embedder's settings, read from the connector's ``embedder.<key>`` keys."""


EmbedderConfigT = TypeVar("EmbedderConfigT", bound=EmbedderConfig)


class Embedder(ABC, Generic[EmbedderConfigT]):
    """Computes dense vectors for texts, in batches. One instance per task (thread)."""

    config_model: ClassVar[type[EmbedderConfig]] = EmbedderConfig

    def __init__(self, config: EmbedderConfigT) -> None:
        self.config = config

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Embedder[Any]:
        """Build from the connector's ``embedder.*`` keys (prefix removed)."""
        config: Any = cls.config_model.model_validate(options)
        return cls(config)

    @property
    @abstractmethod
    def dimension(self) -> int:
        """The size of the vectors ``embed`` returns (used to create collections)."""

    @property
    def max_batch(self) -> int:
        """The most texts the connector hands to one ``embed`` call. A refused call is
        split to find the bad texts, so this bounds how much a refusal costs."""
        return 256

    @property
    def max_concurrency(self) -> int:
        """How many ``embed`` calls (of up to ``max_batch`` texts) the connector may run
        at once, from threads of its own, so a remote model's latency doesn't cap the
        sink's throughput. 1 (the default) keeps every call on the task's thread, one at
        a time; an embedder returning more must make ``embed`` thread-safe."""
        return 1

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Batch as the service likes; see the module
        docstring for the errors to raise."""

    def close(self) -> None:
        """Release clients and models; the task is stopping."""


_lock = threading.Lock()
_registered: dict[str, type[Embedder[Any]]] = {}


def register_embedder(alias: str, cls: type[Embedder[Any]]) -> None:
    """Make ``cls`` available as ``"embedder": alias`` in this process (tests, apps)."""
    if not (isinstance(cls, type) and issubclass(cls, Embedder)):
        raise TypeError(f"{cls!r} is not an Embedder subclass")
    with _lock:
        _registered[alias] = cls


def embedder_names() -> list[str]:
    """Every alias an ``embedder`` key may name."""
    with _lock:
        names = set(_registered)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def embedder_class(name: str) -> type[Embedder[Any]]:
    """The embedder called ``name`` (alias or ``module:Class`` of a registered one).

    Raises ``ValueError`` with a did-you-mean: only registered embedders load, so a config
    can never make the worker import an arbitrary module."""
    name = name.strip()
    with _lock:
        found = _registered.get(name) or next(
            (c for c in _registered.values() if f"{c.__module__}:{c.__qualname__}" == name), None
        )
    if found is not None:
        return found
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if name in (ep.name, ep.value):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Embedder)):
                raise ValueError(f"entry point {ep.name!r} ({ep.value}) is not an Embedder")
            return cls
    known = embedder_names()
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ValueError(f"no embedder named {name!r}{hint} (known: {', '.join(known) or 'none'})")


def option_errors(cls: type[Embedder[Any]], options: dict[str, Any]) -> list[str]:
    """Problems with ``options`` for ``cls``, each naming its full ``embedder.*`` key."""
    try:
        cls.config_model.model_validate(options)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            key = "embedder." + ".".join(str(p) for p in err["loc"])
            reason = {
                "extra_forbidden": f"unknown key for embedder {cls.__name__}",
                "missing": "missing required configuration",
            }.get(err["type"], err["msg"].removeprefix("Value error, "))
            out.append(f"{key}: {reason}")
        return out
    return []
