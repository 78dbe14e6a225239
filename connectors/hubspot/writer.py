"""The ``hubspot`` batch writer: records → collapsed inputs → budgeted batch upserts.

Per ``write``:

1. Each record is mapped to properties (``mapping``). Records for the same id (the
   ``hubspot.id.property`` value; emails compared case-insensitively, as HubSpot does)
   collapse into one input, later records' properties overriding earlier ones: the
   same end state as sending them one after another, in one input instead of many.
2. Inputs go out ``hubspot.batch.size`` at a time through the rate limiter. A 207 fails
   the inputs its errors name; a call refused as a whole (a 400 "Property values were
   not valid", naming no input) is split in halves down to the bad inputs
   (``settle_in_halves``), each split call budgeted by the rate limiter like any other.
   Every record of a failed input becomes a ``RecordFailure`` with HubSpot's category
   and message as dead-letter headers.
3. With associations configured, written objects are then linked (``associations``).

Progress survives a retry: when a call fails transiently mid-batch (a 429, a 5xx) the
runtime calls ``write`` again with the same records, and inputs already settled by an
earlier attempt are not sent again — otherwise a budget smaller than a batch's calls
would resend the same first calls forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from offramp import (
    BatchWriter,
    RecordFailure,
    SinkRecord,
    TaskContext,
    TopicPartition,
    settle_in_halves,
)
from offramp.connectors.hubspot.associations import AssociationLinker, LinkTask
from offramp.connectors.hubspot.client import HubSpotClient, chunked
from offramp.connectors.hubspot.config import HubSpotSinkConfig
from offramp.connectors.hubspot.errors import (
    HubSpotProblem,
    HubSpotRejection,
    attribute_errors,
    call_refused,
    refused_problem,
)
from offramp.connectors.hubspot.mapping import MappingError, PropertyMapping, compile_expression
from offramp.connectors.hubspot.ratelimit import RateLimiter, release_limiter, shared_limiter

__all__ = ["HubSpotWriter"]

Coordinates = tuple[str, int, int]


@dataclass
class _Input:
    """One upsert input and the records it stands for."""

    key: str  # the id as compared: lower-case for emails
    id: str
    properties: dict[str, str]
    records: list[SinkRecord]
    links: dict[int, str] = field(default_factory=dict)
    object_id: str | None = None
    problem: HubSpotProblem | None = None
    stage: str = "upsert"
    linked: bool = False


@dataclass(frozen=True)
class _Settled:
    object_id: str | None
    problem: HubSpotProblem | None
    stage: str
    linked: bool


class HubSpotWriter(BatchWriter):
    fills_batches = True  # every call spends the ten-second budget: fewer, fuller calls

    def __init__(
        self,
        config: HubSpotSinkConfig,
        context: TaskContext,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.log = context.logger
        self.object_type = config.hubspot_object_type
        self.id_property = config.id_property
        self._fold_case = self.id_property == "email"
        self._mapping = PropertyMapping(config.hubspot_property)
        self._link_values = [compile_expression(e) for _, _, e in config.associations]
        token = config.hubspot_access_token.get_secret_value()
        self._shared = limiter is None
        self.limiter = limiter or shared_limiter(
            config.hubspot_base_url,
            token,
            config.hubspot_rate_limit_per_10s,
            config.hubspot_rate_limit_daily,
            config.hubspot_timezone,
        )
        self.client = HubSpotClient(
            config.hubspot_base_url,
            token,
            self.limiter,
            self.object_type,
            config.hubspot_request_timeout_ms / 1000.0,
        )
        self._linker = (
            AssociationLinker(
                self.client,
                self.object_type,
                [(t, p) for t, p, _ in config.associations],
                config.hubspot_batch_size,
            )
            if config.associations
            else None
        )
        self._settled: dict[Coordinates, _Settled] = {}

    # ----- the batch ------------------------------------------------------------------

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        failures: list[RecordFailure] = []
        inputs = self._collapse(records, failures)
        pending = [i for i in inputs if not self._restore(i)]
        for chunk in chunked(pending, self.config.hubspot_batch_size):
            settle_in_halves(chunk, self._upsert, self._fail, call_refused)
        if self._linker is not None:
            self._link([i for i in inputs if i.problem is None and not i.linked])
        for i in inputs:
            if i.problem is not None:
                failures.extend(self._failure(r, i) for r in i.records)
        self._settled.clear()  # the batch is settled: a new one starts afresh
        return failures

    def _collapse(
        self, records: Sequence[SinkRecord], failures: list[RecordFailure]
    ) -> list[_Input]:
        inputs: dict[str, _Input] = {}
        ignore_nulls = self.config.hubspot_behavior_on_null_values == "ignore"
        for record in records:
            if record.value is None:
                if not ignore_nulls:
                    failures.append(
                        _invalid(
                            record,
                            "the record has no value (a tombstone); this sink never deletes "
                            "(set hubspot.behavior.on.null.values=ignore to skip them)",
                        )
                    )
                continue
            try:
                properties = self._mapping.properties(record)
                links = {n: e.text(record) for n, e in enumerate(self._link_values)}
            except MappingError as exc:
                failures.append(_invalid(record, str(exc)))
                continue
            id_value = properties.get(self.id_property, "")
            if not id_value.strip():
                expression = self._mapping.expressions[self.id_property].text_form
                failures.append(
                    _invalid(
                        record,
                        f"no value for the id property {self.id_property} ({expression})",
                    )
                )
                continue
            key = id_value.strip().lower() if self._fold_case else id_value
            found = inputs.get(key)
            known_links = {n: v for n, v in links.items() if v}
            if found is None:
                inputs[key] = _Input(key, id_value, properties, [record], known_links)
            else:
                found.id = id_value
                found.properties.update(properties)
                found.records.append(record)
                found.links.update(known_links)
        return list(inputs.values())

    def _upsert(self, chunk: Sequence[_Input]) -> None:
        payload = [
            {
                "idProperty": self.id_property,
                "id": i.id,
                "properties": i.properties,
                "objectWriteTraceId": str(n),
            }
            for n, i in enumerate(chunk)
        ]
        body = self.client.upsert(self.object_type, payload)
        traces = {str(n): n for n in range(len(chunk))}
        ids = {i.key.lower(): n for n, i in enumerate(chunk)}
        failed = attribute_errors(body, traces, ids, len(chunk))
        results = body.get("results")
        for result in results if isinstance(results, list) else ():
            trace = str(result.get("objectWriteTraceId", ""))
            own = str((result.get("properties") or {}).get(self.id_property, "")).strip().lower()
            n = traces.get(trace, ids.get(own))
            if n is not None:
                chunk[n].object_id = str(result.get("id"))
        for n, i in enumerate(chunk):
            if n in failed:
                i.problem, i.stage = failed[n], "upsert"
            self._remember(i)

    def _fail(self, item: _Input, refused: Exception) -> None:
        item.problem, item.stage = refused_problem(refused), "upsert"
        self._remember(item)

    def _link(self, inputs: list[_Input]) -> None:
        assert self._linker is not None
        unidentified = HubSpotProblem(
            207, "UNIDENTIFIED_RESULT", "HubSpot's answer did not say which object was written"
        )
        for i in inputs:
            if i.links and not i.object_id:
                i.problem, i.stage = unidentified, "association"
                self._remember(i)
        todo = [i for i in inputs if i.problem is None and i.links]
        for chunk in chunked(todo, self.config.hubspot_batch_size):
            failed = self._linker.link([LinkTask(i.object_id or "", i.links) for i in chunk])
            for n, i in enumerate(chunk):
                if n in failed:
                    i.problem, i.stage = failed[n], "association"
                i.linked = True
                self._remember(i)

    # ----- progress across retries of one batch -----------------------------------------

    def _remember(self, item: _Input) -> None:
        settled = _Settled(item.object_id, item.problem, item.stage, item.linked)
        for record in item.records:
            self._settled[_coordinates(record)] = settled

    def _restore(self, item: _Input) -> bool:
        """True if an earlier attempt at this batch already upserted (or failed) it."""
        if not self._settled:
            return False
        found = {self._settled.get(_coordinates(r)) for r in item.records}
        if len(found) != 1 or None in found:
            return False
        settled = found.pop()
        assert settled is not None
        item.object_id, item.problem = settled.object_id, settled.problem
        item.stage, item.linked = settled.stage, settled.linked
        return True

    def _failure(self, record: SinkRecord, item: _Input) -> RecordFailure:
        problem = item.problem
        assert problem is not None
        error = HubSpotRejection(
            f"HubSpot refused {self.object_type} {self.id_property}={item.id!r} "
            f"({item.stage}): {problem}"
        )
        return RecordFailure(record, error, problem.headers(item.stage))

    # ----- lifecycle ------------------------------------------------------------------

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        gone = set(partitions)
        self._settled = {
            c: s for c, s in self._settled.items() if TopicPartition(c[0], c[1]) not in gone
        }

    def stop(self) -> None:
        self.client.close()
        if self._shared:
            release_limiter(
                self.config.hubspot_base_url,
                self.config.hubspot_access_token.get_secret_value(),
            )


def _coordinates(record: SinkRecord) -> Coordinates:
    return (record.kafka_topic, record.kafka_partition, record.kafka_offset)


def _invalid(record: SinkRecord, why: str) -> RecordFailure:
    problem = HubSpotProblem(0, "INVALID_RECORD", why)
    return RecordFailure(
        record, HubSpotRejection(f"record cannot be sent: {why}"), problem.headers("mapping")
    )
