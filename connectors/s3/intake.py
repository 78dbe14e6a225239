"""Taking records in: each record into its segment's open file, rotating at the
deterministic points (see ``files``).

Rotation, per Kafka partition and for the whole segment at once:

- after ``flush.size`` records;
- before a record whose timestamp is ``rotate.interval.ms`` or more past the segment's
  first record;
- with a time-based partitioner and ``rotate.interval.ms`` set, before a record whose
  time partition differs from the previous record's (Confluent's rule: one file per
  time partition when records arrive in order);
- with a format whose files hold one schema (Avro, Parquet), before a record whose
  schema differs from its file's (Confluent's ``schema.compatibility=NONE``: the whole
  segment rotates, as Confluent commits all of a partition's files).

A segment that starts where another writer already stored an object (found by ``probe``,
see ``files``) ends exactly before that object's end offset instead.

Two ways in, with the same result: the common archive (default partitioner, no time
rotation) takes each run of one partition's records in bulk — encoded at once (see
``RecordFormat.encode_run``), cut into files at ``flush.size`` — and everything else, or a run
holding a record that needs individual treatment (null, unencodable), goes record by
record.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence

from offramp import RecordFailure, SinkRecord, TopicPartition
from offramp.connectors.s3.buffer import MemoryBudget, SpillBuffer, SpillFull
from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.errors import RecordEncodingError
from offramp.connectors.s3.fields import timestamp_extractor
from offramp.connectors.s3.files import OpenFile, PartitionFiles, Segment
from offramp.connectors.s3.formats import RecordFormat
from offramp.connectors.s3.partitioners import DefaultPartitioner, create_partitioner

__all__ = ["RecordIntake"]

_REASON = "__offramp.errors.reason"

# The end offset of an object already stored under the key of a new segment's first
# file (Kafka partition, file), or None if there is none. Never raises.
Probe = Callable[[int, OpenFile], "int | None"]


class RecordIntake:
    def __init__(
        self,
        config: S3SinkConfig,
        record_format: RecordFormat,
        partitions: dict[TopicPartition, PartitionFiles],
        topics_may_change: bool,
        probe: Probe | None = None,
    ) -> None:
        self.config = config
        self.probe = probe
        self.memory = MemoryBudget(config.s3_spill_memory_bytes)  # all open files together
        self.format = record_format
        self.partitions = partitions
        self.topics_may_change = topics_may_change
        self.partitioner = create_partitioner(config)
        self.timestamp = timestamp_extractor(config.timestamp_extractor, config.timestamp_field)
        self.in_bulk = isinstance(self.partitioner, DefaultPartitioner) and not (
            config.needs_timestamps
        )

    def take(self, records: Sequence[SinkRecord], failures: list[RecordFailure]) -> None:
        """Place ``records``; records that can't be placed are added to ``failures``.
        Records at offsets taken in before (a retried batch) are skipped. Raises
        ``SpillFull`` once all are placed if an open file's bytes could not be written
        to its buffer (they wait in the file's ``pending``)."""
        touched: list[PartitionFiles] = []
        if self.in_bulk:
            for tp, files, run in self._runs(records):
                touched.append(files)
                self._take_run(tp, files, run, failures)
        else:
            for tp, files, run in self._runs(records):
                touched.append(files)
                self._take_each(tp, files, run, failures)
        full: SpillFull | None = None
        for files in touched:
            if files.current is not None:
                try:
                    files.current.flush()  # memory holds at most one batch beyond the buffers
                except SpillFull as exc:  # every record is placed: only bytes wait
                    full = full or exc
        if full is not None:
            raise full

    def _files(self, tp: TopicPartition) -> PartitionFiles:
        files = self.partitions.get(tp)
        if files is None:
            files = self.partitions[tp] = PartitionFiles(f"partition={tp.partition}")
        return files

    def _runs(
        self, records: Sequence[SinkRecord]
    ) -> list[tuple[TopicPartition, PartitionFiles, Sequence[SinkRecord]]]:
        """Consecutive records of one Kafka partition (consume() returns them so)."""
        runs: list[tuple[TopicPartition, PartitionFiles, Sequence[SinkRecord]]] = []
        start, count = 0, len(records)
        while start < count:
            first = records[start].message
            topic, partition = first.topic(), first.partition()
            end = start + 1
            while end < count:
                message = records[end].message
                if message.partition() != partition or message.topic() != topic:
                    break
                end += 1
            tp = TopicPartition(topic or "", partition or 0)
            runs.append((tp, self._files(tp), records[start:end]))
            start = end
        return runs

    # ----- in bulk --------------------------------------------------------------------

    def _take_run(
        self,
        tp: TopicPartition,
        files: PartitionFiles,
        run: Sequence[SinkRecord],
        failures: list[RecordFailure],
    ) -> None:
        skip = 0
        while skip < len(run) and run[skip].kafka_offset < files.next_offset:
            skip += 1  # already taken in by an earlier attempt at this batch
        run = run[skip:]
        if not run:
            return
        encoded = self.format.encode_run(run)
        topic = run[0].topic if self.topics_may_change else run[0].kafka_topic
        if encoded is None or (
            self.topics_may_change and any(record.topic != topic for record in run)
        ):
            self._take_each(tp, files, run, failures)
            return
        files.next_offset = run[-1].kafka_offset + 1
        flush_size = self.config.flush_size
        directory = files.default_directory
        done, count = 0, len(run)
        while done < count:
            offset = run[done].kafka_offset
            segment = files.current
            if segment is not None and segment.limit is not None and offset >= segment.limit:
                segment.end_offset = segment.limit  # everything below it was read
                files.seal()
                segment = None
            fresh = segment is None
            if segment is None:
                segment = files.current = Segment(offset, 0)
            file = self._file(segment, topic, directory, offset)
            if fresh and files.probing:
                self._probe(tp, files, segment, file)
            limit = segment.limit
            if limit is None:
                size = min(count - done, flush_size - segment.records)
            else:  # up to the limit: offsets increase, but may skip (compaction, markers)
                size = bisect_left(run, limit, done, count, key=_offset) - done
            file.pending.append(encoded.chunk(done, done + size))
            file.records += size
            segment.records += size
            segment.last_encoded = directory
            done += size
            segment.end_offset = run[done - 1].kafka_offset + 1
            if segment.records >= flush_size if limit is None else segment.end_offset >= limit:
                files.seal()

    # ----- record by record -----------------------------------------------------------

    def _take_each(
        self,
        tp: TopicPartition,
        files: PartitionFiles,
        run: Sequence[SinkRecord],
        failures: list[RecordFailure],
    ) -> None:
        config = self.config
        needs_time = config.needs_timestamps
        rotate_ms = config.rotate_interval_ms
        time_based = config.time_based
        flush_size = config.flush_size
        ignore_nulls = config.behavior_on_null_values == "ignore"
        renamed = self.topics_may_change
        encode = self.format.encode_record
        schema_of = self.format.schema_of if self.format.schema_aware else None
        encode_with = self.format.encode_with
        schema = None
        place = None if isinstance(self.partitioner, DefaultPartitioner) else self.partitioner
        stamp = self.timestamp
        for record in run:
            offset = record.kafka_offset
            if offset < files.next_offset:
                continue  # already taken in by an earlier attempt at this batch
            files.next_offset = offset + 1
            # A value kept as JSON text is never null, and stays undecoded unless read.
            null = record.value_json is None and record.value is None
            if null and ignore_nulls:
                continue
            stage = "format"
            try:
                if null:
                    raise RecordEncodingError("the value is null (behavior.on.null.values=fail)")
                timestamp = 0
                if needs_time:
                    stage = "timestamp"
                    timestamp = stamp(record)
                stage = "partitioner"
                if place is None:
                    encoded = files.default_directory
                else:
                    encoded = place.encode(record, timestamp)
                stage = "format"
                if schema_of is None:
                    data = encode(record)
                else:
                    schema = schema_of(record)
                    data = encode_with(record, schema)
            except RecordEncodingError as exc:
                failures.append(RecordFailure(record, exc, {_REASON: f"s3.{stage}"}))
                continue
            topic = record.topic if renamed else record.kafka_topic
            segment = files.current
            if segment is None:
                pass
            elif segment.limit is not None and offset >= segment.limit:
                segment.end_offset = segment.limit  # everything below it was read
                files.seal()
                segment = None
            elif (
                segment.limit is None
                and rotate_ms > 0
                and (
                    timestamp - segment.base_timestamp >= rotate_ms
                    or (time_based and encoded != segment.last_encoded)
                )
            ) or (schema_of is not None and self._other_schema(segment, topic, encoded, schema)):
                files.seal()
                segment = None
            fresh = segment is None
            if segment is None:
                segment = files.current = Segment(offset, timestamp)
            file = self._file(segment, topic, encoded, offset, schema)
            if fresh and files.probing:
                self._probe(tp, files, segment, file)
            file.pending.append(data)
            file.records += 1
            segment.last_encoded = encoded
            segment.records += 1
            segment.end_offset = offset + 1
            limit = segment.limit
            if segment.records >= flush_size if limit is None else offset + 1 >= limit:
                files.seal()

    def _probe(
        self, tp: TopicPartition, files: PartitionFiles, segment: Segment, file: OpenFile
    ) -> None:
        """A new segment's first file: if another writer stored an object at its key,
        end this segment where that one ended; probe again at the next segment, until
        a key is free."""
        end = self.probe(tp.partition, file) if self.probe is not None else None
        if end is not None and end > segment.start_offset:
            segment.limit = end
        else:
            files.probing = False

    @staticmethod
    def _other_schema(segment: Segment, topic: str, encoded: str, schema: object) -> bool:
        """Whether the segment's file for (topic, directory) holds another schema."""
        file = segment.files.get((topic, encoded))
        return file is not None and file.schema is not schema

    def _file(
        self, segment: Segment, topic: str, encoded: str, offset: int, schema: object = None
    ) -> OpenFile:
        """The segment's open file for (topic, directory), opened at ``offset`` (for
        records of ``schema``) if new."""
        file = segment.last_file
        if file is not None and file.encoded_partition == encoded and file.topic == topic:
            return file
        file = segment.files.get((topic, encoded))
        if file is None:
            buffer = SpillBuffer(
                self.config.s3_spill_threshold_bytes, self.config.s3_spill_dir, self.memory
            )
            file = segment.files[(topic, encoded)] = OpenFile(
                topic, encoded, offset, buffer, schema=schema
            )
        segment.last_file = file
        return file


def _offset(record: SinkRecord) -> int:
    return record.kafka_offset
