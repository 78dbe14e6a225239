"""A connector's transform chain, built from its Kafka Connect-style config.

::

    "transforms": "onlyCompleted,addTopic",
    "transforms.onlyCompleted.type": "Filter",
    "transforms.onlyCompleted.predicate": "isCompleted",
    "transforms.onlyCompleted.negate": "true",
    "transforms.addTopic.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.addTopic.topic.field": "source_topic",
    "predicates": "isCompleted",
    "predicates.isCompleted.type": "dev.offramp.transforms.predicates.HeaderValueMatches",
    "predicates.isCompleted.header.name": "ce-type",
    "predicates.isCompleted.pattern": "com\\.example\\.call\\.completed\\.v1"

Types resolve through ``offramp.transforms.registry``: the built-ins by Kafka Connect
name and the ``offramp.transforms``/``offramp.predicates`` entry points by alias or
``module:Class``. Transforms run in the listed order; a predicate-guarded one runs only
on the records its predicate accepts (rejects, with ``negate``). A record a transform drops is gone;
a record a transform or predicate fails on is returned as a failure, with the record
as consumed, so the runtime can dead-letter the original.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from offramp.errors import ConfigError, TransformError
from offramp.records import SinkRecord
from offramp.transforms.base import Predicate, Transformation
from offramp.transforms.config import parse_bool, split_list
from offramp.transforms.registry import predicate_class, short_name, transformation_class

__all__ = ["Stage", "TransformChain"]

# Keys the chain itself reads under ``transforms.<alias>.``; the rest go to the transform.
_CHAIN_KEYS = ("type", "predicate", "negate")


class Stage(NamedTuple):
    """One step of the chain: a transform, maybe guarded by a predicate."""

    alias: str
    type_name: str
    transform: Transformation
    predicate_alias: str | None = None
    predicate: Predicate | None = None
    negate: bool = False


class _Step(NamedTuple):
    # The per-record view of a Stage: bound methods looked up once, not per record.
    stage: Stage
    apply: Callable[[SinkRecord], SinkRecord | None]
    test: Callable[[SinkRecord], bool] | None
    negate: bool


Failure = tuple[SinkRecord, Exception]


class TransformChain:
    """The transforms of one connector, applied to batches of records."""

    __slots__ = ("_steps", "stages")

    def __init__(self, stages: list[Stage] | tuple[Stage, ...] = ()) -> None:
        self.stages = tuple(stages)
        self._steps = tuple(
            _Step(
                stage,
                stage.transform.apply,
                None if stage.predicate is None else stage.predicate.test,
                stage.negate,
            )
            for stage in self.stages
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransformChain:
        """Build the chain from a whole connector config.

        Raises ``ConfigError`` listing every problem: unknown types (with a suggestion),
        missing ``type``, predicates not declared in ``predicates``, and each
        transform's or predicate's own bad or unknown keys.
        """
        errors: list[tuple[str, str]] = []
        predicates = _build_predicates(config, errors)
        stages: list[Stage] = []
        for alias in _aliases(config, "transforms", errors):
            stage = _build_stage(alias, config, predicates, errors)
            if stage is not None:
                stages.append(stage)
        if errors:
            raise ConfigError(errors)
        return cls(stages)

    def __bool__(self) -> bool:
        return bool(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"TransformChain({', '.join(stage.alias for stage in self.stages)})"

    @property
    def aliases(self) -> list[str]:
        return [stage.alias for stage in self.stages]

    def apply_batch(self, records: list[SinkRecord]) -> tuple[list[SinkRecord], list[Failure]]:
        """Transform ``records``: the survivors in order, and the records that failed.

        Each failure pairs the record as it was passed in with a ``TransformError``
        naming the transform (and predicate) alias; its ``__cause__`` is the original
        exception. An empty chain returns ``records`` itself, untouched.
        """
        if not self._steps:
            return records, []
        survivors: list[SinkRecord] = []
        failures: list[Failure] = []
        keep, fail = survivors.append, failures.append
        steps = self._steps
        for record in records:
            current = record
            for step in steps:
                test = step.test
                if test is not None:
                    try:
                        if test(current) == step.negate:
                            continue  # the guard says this transform doesn't apply
                    except Exception as exc:
                        fail((record, _failure(step, exc, in_predicate=True)))
                        break
                try:
                    result = step.apply(current)
                except Exception as exc:
                    fail((record, _failure(step, exc)))
                    break
                if result is None:
                    break  # dropped
                current = result
            else:
                keep(current)
        return survivors, failures

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        """One record through the chain (None if dropped); raises ``TransformError``."""
        survivors, failures = self.apply_batch([record])
        if failures:
            raise failures[0][1]
        return survivors[0] if survivors else None


def _failure(step: _Step, exc: Exception, *, in_predicate: bool = False) -> TransformError:
    stage = step.stage
    where = f"transform {stage.alias!r} ({short_name(stage.type_name)})"
    if in_predicate:
        where = f"predicate {stage.predicate_alias!r} of {where}"
    error = TransformError(f"{where} failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _aliases(config: Mapping[str, Any], key: str, errors: list[tuple[str, str]]) -> list[str]:
    """The names listed in ``transforms`` or ``predicates`` (comma list or JSON list)."""
    raw = config.get(key)
    if raw is None:
        return []
    if isinstance(raw, str) and raw.lstrip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            errors.append((key, "looks like a JSON list but doesn't parse"))
            return []
    names = split_list(raw)
    if names is None:
        errors.append((key, "expected a comma-separated string or a list of names"))
        return []
    unique: list[str] = []
    for name in names:
        if name in unique:
            errors.append((key, f"{name!r} is listed more than once"))
        else:
            unique.append(name)
    return unique


def _own_keys(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The keys under ``prefix``, with the prefix stripped."""
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def _type_name(own: dict[str, Any], prefix: str, errors: list[tuple[str, str]]) -> str | None:
    type_name = own.get("type")
    if type_name is None or (isinstance(type_name, str) and not type_name.strip()):
        errors.append((prefix + "type", "is required: name the class to use"))
        return None
    if not isinstance(type_name, str):
        errors.append((prefix + "type", f"expected a class name, got {type(type_name).__name__}"))
        return None
    return type_name.strip()


def _build_predicates(
    config: Mapping[str, Any], errors: list[tuple[str, str]]
) -> dict[str, Predicate | None]:
    """Every declared predicate by alias (None where its config was refused)."""
    predicates: dict[str, Predicate | None] = {}
    for alias in _aliases(config, "predicates", errors):
        prefix = f"predicates.{alias}."
        own = _own_keys(config, prefix)
        predicates[alias] = None
        type_name = _type_name(own, prefix, errors)
        if type_name is None:
            continue
        try:
            cls = predicate_class(type_name)
            del own["type"]
            predicates[alias] = cls(own, key_prefix=prefix)
        except ConfigError as exc:
            errors.extend(_under(prefix + "type", exc))
        except Exception as exc:  # a third-party plug-in's own bug: still an answer
            errors.append((prefix + "type", f"{type_name} failed to start: {exc!r}"))
    return predicates


def _build_stage(
    alias: str,
    config: Mapping[str, Any],
    predicates: dict[str, Predicate | None],
    errors: list[tuple[str, str]],
) -> Stage | None:
    prefix = f"transforms.{alias}."
    own = _own_keys(config, prefix)
    type_name = _type_name(own, prefix, errors)
    predicate_alias = own.pop("predicate", None)
    predicate: Predicate | None = None
    if predicate_alias is not None:
        if not isinstance(predicate_alias, str) or predicate_alias not in predicates:
            declared = ", ".join(predicates) or "none"
            errors.append(
                (
                    prefix + "predicate",
                    f"{predicate_alias!r} is not declared in 'predicates' (declared: {declared})",
                )
            )
        else:
            predicate = predicates[predicate_alias]
    raw_negate = own.pop("negate", False)
    negate = parse_bool(raw_negate)
    if negate is None:
        errors.append((prefix + "negate", f"expected true or false, got {raw_negate!r}"))
    if type_name is None:
        return None
    try:
        cls = transformation_class(type_name)
        del own["type"]
        transform = cls(own, key_prefix=prefix)
    except ConfigError as exc:
        errors.extend(_under(prefix + "type", exc))
        return None
    except Exception as exc:  # a third-party plug-in's own bug: still an answer
        errors.append((prefix + "type", f"{type_name} failed to start: {exc!r}"))
        return None
    if predicate is None and predicate_alias is not None:
        return None  # the predicate's own errors are already reported
    return Stage(alias, type_name, transform, predicate_alias, predicate, bool(negate))


def _under(key: str, exc: ConfigError) -> list[tuple[str, str]]:
    """``exc``'s errors, with an unnamed one (an unknown class) put under ``key``."""
    return [(error_key or key, reason) for error_key, reason in exc.errors]
