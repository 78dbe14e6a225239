"""Associating each written object with another object found by a unique property.

For ``hubspot.association.companies.domain = data.company_domain`` and a batch of
written contacts, two calls per batch of up to 100 contacts:

1. upsert the companies named by the distinct ``domain`` values (creating the ones that
   don't exist yet; an upsert that only sets the unique property changes nothing on an
   existing company) — which also gives each company's object id;
2. ``associate/default`` each contact with its company (HubSpot's default, unlabelled
   association; creating one that exists is a no-op).

Both calls are idempotent, so a batch redelivered after a crash repeats them safely. A
failure of either names the contacts it concerns, which go to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from offramp import settle_in_halves
from offramp.connectors.hubspot.client import HubSpotClient, chunked
from offramp.connectors.hubspot.errors import (
    HubSpotProblem,
    attribute_errors,
    call_refused,
    refused_problem,
)

__all__ = ["AssociationLinker", "LinkTask"]

_FROM_KEYS = ("fromObjectId", "fromId", "from", "ids")


@dataclass(frozen=True)
class LinkTask:
    """One written object and, per association spec (by index), the value naming its
    target; ``values`` lacks a spec whose expression had no value for this record."""

    object_id: str
    values: Mapping[int, str]


@dataclass
class _Target:
    value: str
    object_id: str | None = None
    problem: HubSpotProblem | None = None


@dataclass
class _Pair:
    task: int
    from_id: str
    to_id: str
    problem: HubSpotProblem | None = None


class AssociationLinker:
    """Links written objects of ``from_type`` to targets named by ``specs``:
    ``(to object type, unique property)`` each."""

    def __init__(
        self,
        client: HubSpotClient,
        from_type: str,
        specs: Sequence[tuple[str, str]],
        batch_size: int,
    ) -> None:
        self.client = client
        self.from_type = from_type
        self.specs = list(specs)
        self.batch_size = batch_size

    def link(self, tasks: Sequence[LinkTask]) -> dict[int, HubSpotProblem]:
        """Associate every task's object; the problems of those that failed, by index."""
        failed: dict[int, HubSpotProblem] = {}
        for spec, (to_type, id_property) in enumerate(self.specs):
            wanted: dict[str, list[int]] = {}
            for n, task in enumerate(tasks):
                value = task.values.get(spec)
                if n not in failed and value:
                    wanted.setdefault(value, []).append(n)
            if not wanted:
                continue
            targets = self._ensure_targets(to_type, id_property, list(wanted))
            pairs = []
            for target in targets:
                for n in wanted[target.value]:
                    if target.problem is not None or target.object_id is None:
                        failed[n] = target.problem or HubSpotProblem(
                            207, "UNIDENTIFIED_RESULT", f"no {to_type} id for {target.value!r}"
                        )
                    else:
                        pairs.append(_Pair(n, tasks[n].object_id, target.object_id))
            for chunk in chunked(pairs, self.batch_size):
                settle_in_halves(chunk, partial(self._associate, to_type), _fail_pair, call_refused)
            failed.update({p.task: p.problem for p in pairs if p.problem is not None})
        return failed

    def _ensure_targets(self, to_type: str, id_property: str, values: list[str]) -> list[_Target]:
        targets = [_Target(v) for v in values]
        for chunk in chunked(targets, self.batch_size):
            settle_in_halves(
                chunk,
                partial(self._upsert_targets, to_type, id_property),
                _fail_target,
                call_refused,
            )
        return targets

    def _upsert_targets(self, to_type: str, id_property: str, chunk: Sequence[_Target]) -> None:
        inputs = [
            {
                "idProperty": id_property,
                "id": t.value,
                "properties": {id_property: t.value},
                "objectWriteTraceId": str(n),
            }
            for n, t in enumerate(chunk)
        ]
        body = self.client.upsert(to_type, inputs)
        traces = {str(n): n for n in range(len(chunk))}
        ids = {t.value.strip().lower(): n for n, t in enumerate(chunk)}
        failed = attribute_errors(body, traces, ids, len(chunk))
        results = body.get("results")
        for result in results if isinstance(results, list) else ():
            trace = str(result.get("objectWriteTraceId", ""))
            value = str((result.get("properties") or {}).get(id_property, "")).strip().lower()
            n = traces.get(trace, ids.get(value))
            if n is not None and n not in failed:
                chunk[n].object_id = str(result.get("id"))
        for n, problem in failed.items():
            chunk[n].problem = problem

    def _associate(self, to_type: str, chunk: Sequence[_Pair]) -> None:
        body = self.client.associate_default(
            self.from_type, to_type, [(p.from_id, p.to_id) for p in chunk]
        )
        ids = {p.from_id: n for n, p in enumerate(chunk)}
        for n, problem in attribute_errors(body, {}, ids, len(chunk), _FROM_KEYS).items():
            chunk[n].problem = problem


def _fail_target(target: _Target, refused: Exception) -> None:
    target.problem = refused_problem(refused)


def _fail_pair(pair: _Pair, refused: Exception) -> None:
    pair.problem = refused_problem(refused)
