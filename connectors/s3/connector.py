"""The ``s3`` connector: the config model, the writer factory and the bucket check."""

from __future__ import annotations

import uuid

from botocore.exceptions import BotoCoreError, ClientError

from offramp import BatchWriter, FatalError, SinkConnector, SinkError, TaskContext
from offramp.connectors.s3.client import create_client
from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.errors import translate
from offramp.connectors.s3.uploader import S3ObjectStore
from offramp.connectors.s3.writer import S3Writer
from offramp.converters import Converter

__all__ = ["S3SinkConnector"]


class S3SinkConnector(SinkConnector[S3SinkConfig]):
    """Archives records as objects in S3 or an S3-compatible store, exactly once."""

    config_model = S3SinkConfig
    description = "Archives records as objects in S3 (or an S3-compatible store), exactly once"

    def check(self, config: S3SinkConfig) -> str:
        """The bucket exists and a probe object can be written (and is then deleted)."""
        bucket = config.s3_bucket_name
        where = f"s3://{bucket}" + (f" at {config.store_url}" if config.store_url else "")
        probe = "/".join(filter(None, [config.topics_dir, f".offramp-check-{uuid.uuid4().hex}"]))
        client = create_client(config)
        try:
            try:
                # Not HEAD: its errors have no body, and "403" can't tell a denied
                # request from an unknown key.
                client.list_objects_v2(Bucket=bucket, MaxKeys=1)
            except (BotoCoreError, ClientError) as exc:
                raise _fatal(translate(exc, "checking", where)) from exc
            try:
                client.put_object(Bucket=bucket, Key=probe, Body=b"offramp write check")
            except (BotoCoreError, ClientError) as exc:
                raise _fatal(translate(exc, "writing a probe object to", where)) from exc
            try:
                client.delete_object(Bucket=bucket, Key=probe)
            except (BotoCoreError, ClientError) as exc:
                return (
                    f"{where} ({config.s3_region}) is writable; the probe object {probe} "
                    f"could not be deleted ({exc}), delete it by hand"
                )
        finally:
            client.close()
        return f"{where} ({config.s3_region}) exists and is writable"

    @classmethod
    def converter_problems(
        cls, config: S3SinkConfig, value_converter: Converter
    ) -> list[tuple[str, str]]:
        """Avro files need each record's schema: a converter known to give none is
        refused here (one that may is checked per record, dead-lettering those without)."""
        if config.format_class != "avro" or value_converter.gives_schemas is not False:
            return []
        return [
            (
                "value.converter",
                f"format.class=avro writes each record with its schema, and "
                f"{type(value_converter).__name__}"
                + (
                    " with schemas.enable=false"
                    if getattr(value_converter, "schemas_enable", True) is False
                    else ""
                )
                + " gives none: use a Schema Registry converter (io.confluent.connect.avro."
                "AvroConverter, …) or JsonConverter with schemas.enable=true",
            )
        ]

    def create_writer(self, config: S3SinkConfig, context: TaskContext) -> BatchWriter:
        store = S3ObjectStore(
            create_client(config),
            config.s3_bucket_name,
            config.s3_part_size,
            conditional=config.s3_conditional_writes,
        )
        transforms = str(context.connector_config.get("transforms") or "").strip()
        return S3Writer(
            config,
            store,
            context.logger,
            topics_may_change=bool(transforms),
            on_write_refused=context.write_refused,
        )


def _fatal(error: BaseException) -> SinkError:
    # A check has no retry loop around it: a transient failure is reported as is.
    if isinstance(error, SinkError):
        return error if isinstance(error, FatalError) else FatalError(str(error))
    return FatalError(str(error))
