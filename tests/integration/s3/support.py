"""Reading back what the ``s3`` connector wrote."""

from __future__ import annotations

import gzip
import hashlib
from typing import TYPE_CHECKING, Any

import orjson
import zstandard

from devstack.s3 import S3Server
from tests.integration.runtime_support import sink_config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_sink(server: S3Server, bucket: str, topic: str, **extra: Any) -> dict[str, Any]:
    """A connector config for the ``s3`` sink on ``topic`` (schemaless JSON values)."""
    return sink_config(topic, "s3", **server.config(bucket), **extra)


def keys(client: S3Client, bucket: str, prefix: str = "") -> list[str]:
    """Every object key under ``prefix`` (latest versions), sorted."""
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(found)


def body(client: S3Client, bucket: str, key: str, version: str | None = None) -> bytes:
    extra = {"VersionId": version} if version else {}
    response = client.get_object(Bucket=bucket, Key=key, **extra)  # type: ignore[arg-type]
    data: bytes = response["Body"].read()
    response["Body"].close()
    return data


def decode(key: str, data: bytes) -> bytes:
    """An object's JSON lines, decompressed as its extension says."""
    if key.endswith(".gz"):
        return gzip.decompress(data)
    if key.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def records(client: S3Client, bucket: str, key: str) -> list[Any]:
    """The values stored in one JSON-lines object."""
    return [orjson.loads(line) for line in decode(key, body(client, bucket, key)).splitlines()]


def archive(client: S3Client, bucket: str, prefix: str = "") -> dict[str, list[Any]]:
    """Every object under ``prefix`` with the values it holds."""
    return {key: records(client, bucket, key) for key in keys(client, bucket, prefix)}


def version_hashes(client: S3Client, bucket: str) -> dict[str, list[str]]:
    """Per key, the SHA-256 of every version ever written (the bucket is versioned)."""
    hashes: dict[str, list[str]] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            data = body(client, bucket, version["Key"], version["VersionId"])
            hashes.setdefault(version["Key"], []).append(hashlib.sha256(data).hexdigest())
    return hashes
