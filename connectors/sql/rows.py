"""From a batch of records to rows: per table, column by column.

Work is done per column over the whole batch (one comprehension per column, or per
level of a nested path) rather than per record, because a batch of thousands of
records is the common case and per-record Python is what limits throughput. The
common batch (every value an object, no tombstones, keys unique) takes the shortest
path through each step.

A ``TableBatch`` holds, for one table: the columns with the kind of value each holds
(for ``auto.create``/``auto.evolve``), the rows to write and the keys to delete, and
the records that could not become a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

from offramp import ConversionError, FatalError, RecordFailure, SinkRecord
from offramp.connectors.sql.config import TOPIC_PLACEHOLDER, SqlSinkConfig
from offramp.connectors.sql.kinds import (
    ColumnSpec,
    Kind,
    field_schema,
    kind_of_schema,
    kind_of_values,
    logical_conversion,
    to_json,
)

__all__ = ["RowBuilder", "Segment", "TableBatch"]

Row = tuple[Any, ...]


@dataclass
class Segment:
    """Rows applied by one kind of statement, in order; ``origins`` index the records.

    ``payload`` is the rows already encoded for the bulk path (PostgreSQL's COPY text),
    when that was done ahead of the write.
    """

    delete: bool
    rows: list[Row] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    payload: bytes | None = None


@dataclass
class TableBatch:
    """One table's share of a batch: columns, rows to write, keys to delete, refusals.

    Rows are tuples in ``columns`` order, key columns first; delete rows hold only the
    key. ``writes``/``deletes`` give each row's record index. The writer may refuse
    more records (or drop columns the table lacks) before asking for ``segments``.
    """

    table: str
    records: list[SinkRecord]
    columns: list[ColumnSpec]
    key_columns: tuple[str, ...]
    writes: list[int]
    write_rows: list[Row]
    deletes: list[int] = field(default_factory=list)
    delete_rows: list[Row] = field(default_factory=list)
    failures: list[RecordFailure] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)
    # The last ``segments`` asked for (dedupe, segments), kept while nothing changes so
    # what was encoded ahead of the write is what the write applies.
    _planned: tuple[bool, list[Segment]] | None = field(default=None, repr=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def refuse(
        self, index: int, error: BaseException, context: dict[str, str] | None = None
    ) -> None:
        """Record ``index`` won't be written; it goes back to the runtime as a failure."""
        if index not in self.failed:
            self._planned = None
            self.failed.add(index)
            self.failures.append(RecordFailure(self.records[index], error, context or {}))

    def drop_columns(self, names: set[str], why: str) -> None:
        """Write without ``names``: records with a value for one of them are refused
        (``why`` is formatted with ``columns``)."""
        positions = [p for p, c in enumerate(self.columns) if c.name in names]
        if not positions:
            return
        for i, row in zip(self.writes, self.write_rows, strict=True):
            given = [self.columns[p].name for p in positions if row[p] is not None]
            if given:
                self.refuse(i, ConversionError(why.format(columns=", ".join(given))))
        self._planned = None
        keep = [p for p in range(len(self.columns)) if p not in positions]
        self.columns = [self.columns[p] for p in keep]
        self.write_rows = [tuple(row[p] for p in keep) for row in self.write_rows]

    def segments(self, dedupe: bool) -> list[Segment]:
        """Operations in the order they must be applied, without refused records.

        With ``dedupe`` (upsert, update) only the last operation per key matters, since
        every write sets every column: at most two segments, over disjoint keys. Without
        it (insert): runs of writes and deletes in record order, so insert-delete-insert
        of one key ends with the row present. Asked again with nothing changed, the same
        segments come back (with any payload encoded meanwhile).
        """
        if self._planned is not None and self._planned[0] == dedupe:
            return self._planned[1]
        planned = self._plan(dedupe)
        self._planned = (dedupe, planned)
        return planned

    def _plan(self, dedupe: bool) -> list[Segment]:
        if not self.deletes and not self.failed:
            if not self.write_rows:
                return []
            written = Segment(False, self.write_rows, self.writes)
            return [_last_per_key(written, len(self.key_columns))] if dedupe else [written]
        ops = [(i, False, row) for i, row in zip(self.writes, self.write_rows, strict=True)]
        ops += [(i, True, row) for i, row in zip(self.deletes, self.delete_rows, strict=True)]
        ops = sorted(op for op in ops if op[0] not in self.failed)
        if dedupe:
            width = len(self.key_columns)
            last = {row[:width]: pos for pos, (_, _, row) in enumerate(ops)}
            keep = set(last.values())
            ops = [op for pos, op in enumerate(ops) if pos in keep]
            removed = Segment(True, [r for _, d, r in ops if d], [i for i, d, _ in ops if d])
            written = Segment(
                False, [r for _, d, r in ops if not d], [i for i, d, _ in ops if not d]
            )
            return [s for s in (removed, written) if s.rows]
        segments: list[Segment] = []
        for i, is_delete, row in ops:
            if not segments or segments[-1].delete != is_delete:
                segments.append(Segment(is_delete))
            segments[-1].rows.append(row)
            segments[-1].origins.append(i)
        return segments


def _last_per_key(segment: Segment, width: int) -> Segment:
    """Keep each key's last row (a batch may carry several versions of a row)."""
    rows = segment.rows
    key_of = itemgetter(0) if width == 1 else itemgetter(slice(0, width))
    last = dict(zip(map(key_of, rows), range(len(rows)), strict=True))
    if len(last) == len(rows):
        return segment
    keep = sorted(last.values())
    return Segment(False, [rows[p] for p in keep], [segment.origins[p] for p in keep])


def _field_names(values: list[dict[str, Any]]) -> list[str]:
    """Every top-level field in the batch, in order of first appearance."""
    if not values:
        return []
    names = list(values[0])
    extra = set().union(*values).difference(names)  # the usual batch has none
    if extra:
        for value in values:
            for name in value:
                if name in extra:
                    names.append(name)
                    extra.discard(name)
    return names


@dataclass
class _PathNode:
    """A trie of mapping paths, so a shared prefix (``data``) is walked once."""

    columns: list[str] = field(default_factory=list)
    children: dict[str, _PathNode] = field(default_factory=dict)


def _dig_columns(values: list[dict[str, Any]], root: _PathNode) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}

    def walk(node: _PathNode, current: list[Any]) -> None:
        all_objects = set(map(type, current)) == {dict}
        for name, child in node.children.items():
            if all_objects:  # the usual case: let C do the loop
                level = list(map(dict.get, current, repeat(name)))
            else:
                level = [v.get(name) if type(v) is dict else None for v in current]
            for column in child.columns:
                out[column] = level
            if child.children:
                walk(child, level)

    walk(root, values)
    return out


class RowBuilder:
    """Turns records into ``TableBatch``es following the connector's config.

    ``adapt`` lets the dialect change values of a kind its driver can't bind (SQLite
    has no date or decimal types).
    """

    def __init__(
        self,
        config: SqlSinkConfig,
        adapt: Callable[[Kind, list[Any]], list[Any]] | None = None,
    ) -> None:
        self.config = config
        self.adapt = adapt
        self.mappings = config.mappings
        self.whitelist = set(config.fields_whitelist)
        self.trie = _PathNode()
        for mapping in self.mappings:
            node = self.trie
            for part in mapping.path:
                node = node.children.setdefault(part, _PathNode())
            node.columns.append(mapping.column)

    def build(self, records: Sequence[SinkRecord]) -> list[TableBatch]:
        if not records:
            return []
        table_name = self.config.table_name
        if TOPIC_PLACEHOLDER not in self.config.table_name_format:
            return [self._table(table_name(""), list(records))]
        topics = [r.topic for r in records]
        if len(set(topics)) == 1:
            return [self._table(table_name(topics[0]), list(records))]
        by_table: dict[str, list[SinkRecord]] = {}
        for topic, record in zip(topics, records, strict=True):
            by_table.setdefault(table_name(topic), []).append(record)
        return [self._table(name, recs) for name, recs in by_table.items()]

    # ----- one table --------------------------------------------------------------------

    def _table(self, table: str, records: list[SinkRecord]) -> TableBatch:
        cfg = self.config
        batch = TableBatch(table, records, columns=[], key_columns=(), writes=[], write_rows=[])
        values = [r.value for r in records]
        if set(map(type, values)) == {dict}:
            writes = list(range(len(records)))
            deletes: list[int] = []
            write_values: list[dict[str, Any]] = values
        else:
            writes, deletes = [], []
            for i, value in enumerate(values):
                if type(value) is dict:
                    writes.append(i)
                elif value is None:
                    if cfg.delete_enabled:
                        deletes.append(i)
                    # else: a tombstone with deletes off carries nothing to write
                else:
                    batch.refuse(
                        i,
                        ConversionError(
                            f"the value must be a JSON object to become a row of {table!r}, "
                            f"got {type(value).__name__}"
                        ),
                    )
            write_values = [values[i] for i in writes]
        order = writes + deletes
        key_specs, key_data = self._keys(batch, order)
        value_specs, value_data = self._values(records, writes, write_values, set(key_data))
        if cfg.pk_mode == "record_value":
            key_specs = self._value_keys(batch, writes, value_specs, value_data)
        key_columns = tuple(s.name for s in key_specs)
        columns = key_specs + [s for s in value_specs if s.name not in key_columns]
        nw = len(writes)
        write_columns = [
            key_data[c.name][:nw] if c.name in key_data else value_data[c.name] for c in columns
        ]
        batch.columns = columns
        batch.key_columns = key_columns
        batch.writes = writes
        batch.deletes = deletes
        batch.write_rows = (
            list(zip(*write_columns, strict=True)) if write_columns else [() for _ in writes]
        )
        if deletes:
            batch.delete_rows = list(zip(*(key_data[n][nw:] for n in key_columns), strict=True))
        return batch

    def _keys(
        self, batch: TableBatch, order: list[int]
    ) -> tuple[list[ColumnSpec], dict[str, list[Any]]]:
        """Key columns (record_key or kafka) with values aligned to ``order``."""
        cfg = self.config
        records = batch.records
        if cfg.pk_mode == "kafka":
            topic_col, partition_col, offset_col = cfg.key_columns
            messages = [records[i].message for i in order]
            data: dict[str, list[Any]] = {
                topic_col: [records[i].topic for i in order],
                partition_col: [m.partition() for m in messages],
                offset_col: [m.offset() for m in messages],
            }
            specs = [
                ColumnSpec(topic_col, Kind.TEXT, False),
                ColumnSpec(partition_col, Kind.INTEGER, False),
                ColumnSpec(offset_col, Kind.BIGINT, False),
            ]
            return specs, data
        if cfg.pk_mode != "record_key":
            return [], {}
        in_order = order == list(range(len(records)))  # no tombstones: the usual batch
        keys = [r.key for r in records] if in_order else [records[i].key for i in order]
        key_types = set(map(type, keys))
        if type(None) in key_types:
            for i, key in zip(order, keys, strict=True):
                if key is None:
                    batch.refuse(i, ConversionError("pk.mode=record_key needs a key; it is null"))
        present = next((k for k in keys if k is not None), None)
        schema = records[order[0]].key_schema if order else None
        if type(present) is dict:
            return self._struct_keys(batch, order, keys, present, schema)
        if len(cfg.pk_fields) != 1:
            raise FatalError(
                f"records for {batch.table!r} have {type(present).__name__} keys: with "
                "pk.mode=record_key, pk.fields must name exactly one column to hold them"
            )
        if dict in key_types:
            for i, key in zip(order, keys, strict=True):
                if type(key) is dict:
                    batch.refuse(i, ConversionError("a JSON object key among plain keys"))
        name = cfg.pk_fields[0]
        spec = kind_of_schema(schema)
        kind = spec.kind if spec else kind_of_values(key_types)
        column = self._normalise(keys, spec, kind, key_types)
        return [
            ColumnSpec(
                name, kind, False, spec.scale if spec else None, spec.precision if spec else None
            )
        ], {name: column}

    def _struct_keys(
        self,
        batch: TableBatch,
        order: list[int],
        keys: list[Any],
        first: dict[str, Any],
        schema: Any,
    ) -> tuple[list[ColumnSpec], dict[str, list[Any]]]:
        names = list(self.config.pk_fields) or list(first)
        for i, key in zip(order, keys, strict=True):
            if key is not None and type(key) is not dict:
                batch.refuse(i, ConversionError("a plain key among JSON object keys"))
        specs: list[ColumnSpec] = []
        data: dict[str, list[Any]] = {}
        for name in names:
            column = [k.get(name) if type(k) is dict else None for k in keys]
            for i, key, value in zip(order, keys, column, strict=True):
                if value is None and key is not None:
                    batch.refuse(i, ConversionError(f"key field {name!r} is missing or null"))
            types = set(map(type, column))
            spec = kind_of_schema(field_schema(schema, (name,)))
            kind = spec.kind if spec else kind_of_values(types)
            data[name] = self._normalise(column, spec, kind, types)
            specs.append(
                ColumnSpec(
                    name,
                    kind,
                    False,
                    spec.scale if spec else None,
                    spec.precision if spec else None,
                )
            )
        return specs, data

    def _value_keys(
        self,
        batch: TableBatch,
        writes: list[int],
        value_specs: list[ColumnSpec],
        value_data: dict[str, list[Any]],
    ) -> list[ColumnSpec]:
        """record_value: the key columns are value columns that must not be null."""
        by_name = {s.name: s for s in value_specs}
        specs = []
        for name in self.config.pk_fields:
            column = value_data.setdefault(name, [None] * len(writes))
            if None in column:
                for i, value in zip(writes, column, strict=True):
                    if value is None:
                        batch.refuse(i, ConversionError(f"pk field {name!r} is missing or null"))
            spec = by_name.get(name) or ColumnSpec(name, Kind.TEXT)
            specs.append(ColumnSpec(name, spec.kind, False, spec.scale, spec.precision))
        return specs

    def _values(
        self,
        records: list[SinkRecord],
        writes: list[int],
        values: list[dict[str, Any]],
        key_names: set[str],
    ) -> tuple[list[ColumnSpec], dict[str, list[Any]]]:
        """Value columns of the written records, as column-major lists."""
        # One converter made the whole batch: schemas are on every record or on none.
        schema = records[writes[0]].value_schema if writes else None
        if self.mappings:
            raw = _dig_columns(values, self.trie)
            paths = {m.column: m.path for m in self.mappings}
            names = [m.column for m in self.mappings]
        else:
            names = _field_names(values)
            raw = {name: list(map(dict.get, values, repeat(name))) for name in names}
            paths = {name: (name,) for name in names}
        if self.whitelist:
            keep = self.whitelist | set(self.config.pk_fields)
            names = [n for n in names if n in keep]
        specs: list[ColumnSpec] = []
        data: dict[str, list[Any]] = {}
        for name in names:
            if name in key_names:
                continue  # the key's column wins over a value field of the same name
            column = raw[name]
            types = set(map(type, column))
            spec = kind_of_schema(field_schema(schema, paths[name])) if schema else None
            if spec is None:
                specs.append(ColumnSpec(name, kind_of_values(types)))
            else:
                specs.append(ColumnSpec(name, spec.kind, spec.nullable, spec.scale, spec.precision))
            data[name] = self._normalise(column, spec, specs[-1].kind, types)
        return specs, data

    def _normalise(
        self, column: list[Any], spec: ColumnSpec | None, kind: Kind, types: set[type]
    ) -> list[Any]:
        """Values as the driver binds them: schema'd encodings decoded, nested objects
        as JSON text, then whatever the dialect needs."""
        if spec is not None:
            convert = logical_conversion(spec.kind, spec.scale)
            if convert is not None:
                column = [None if v is None else convert(v) for v in column]
                types = set(map(type, column))
        if dict in types or list in types:
            column = [to_json(v) for v in column]
        if self.adapt is not None:
            column = self.adapt(kind, column)
        return column
