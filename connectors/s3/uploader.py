"""Putting one object: a single PUT when it fits in a part, multipart when it doesn't.

The body is streamed from the open file through the codec and cut into parts of
``s3.part.size`` (S3 refuses parts under 5 MiB except the last), so memory holds one
part at a time. Bodies are handed to boto3 as a ``bytearray``: it goes out in one socket
write (bytes would be wrapped in a file and sent in 128 KiB reads, each needing the GIL
back, which is slow while the task thread is busy encoding). A failed multipart upload
is aborted, so no half-written object and no orphaned parts are left behind (a killed
worker's parts are never visible as an object either; a lifecycle rule can expire them).

With ``s3.conditional.writes`` (the default) the PUT and the multipart completion carry
``If-None-Match: *``: a store that already holds an object at the key answers 412 and
keeps it, and ``put`` raises ``ObjectExists`` so the caller can decide what the object
there means (see ``uploads``). Every object carries its segment's end offset in user
metadata, which ``head`` reads back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from offramp.connectors.s3.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["END_OFFSET", "ObjectExists", "ObjectStore", "S3ObjectStore", "StoredObject"]

log = logging.getLogger("offramp.connector.s3")

# User metadata (``x-amz-meta-offramp-end-offset``): one past the last Kafka offset of
# the segment the object belongs to. S3 hands metadata keys back in lower case.
END_OFFSET = "offramp-end-offset"


class ObjectExists(Exception):
    """A conditional write found an object at ``key`` already (HTTP 412) and left it as
    it was. ``size``: the bytes of the body that was refused."""

    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"an object is already stored at {key}")
        self.key = key
        self.size = size


@dataclass(frozen=True)
class StoredObject:
    size: int
    end_offset: int | None  # None: stored without offramp's metadata (an older offramp)


class ObjectStore(Protocol):
    """Where finished files go. ``put`` returns only once the object is stored, or
    raises ``ObjectExists`` (conditional writes) without touching the object there."""

    def put(
        self,
        key: str,
        body: Iterable[bytes | memoryview],
        content_type: str,
        metadata: Mapping[str, str],
    ) -> None: ...

    def head(self, key: str) -> StoredObject | None:
        """The object at ``key``, or None if there is none."""

    def close(self) -> None:
        """Release connections."""


class S3ObjectStore:
    def __init__(
        self, client: S3Client, bucket: str, part_size: int, conditional: bool = True
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.part_size = part_size
        self._condition: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        # Mirror s3transfer: declare CRC32 on multipart uploads when boto3 sends
        # checksums by default, so the parts' checksums can be completed together.
        self._checksums = (
            getattr(client.meta.config, "request_checksum_calculation", None) != "when_required"
        )

    def put(
        self,
        key: str,
        body: Iterable[bytes | memoryview],
        content_type: str,
        metadata: Mapping[str, str],
    ) -> None:
        pending = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            for chunk in body:
                pending += chunk
                size += len(chunk)
                # Only cut a part once more data is known to follow: an object that fits
                # in one part is a single PUT.
                while len(pending) > self.part_size:
                    if upload_id is None:
                        upload_id = self._create(key, content_type, metadata)
                    self._upload_part(key, upload_id, parts, pending[: self.part_size])
                    del pending[: self.part_size]
            if upload_id is None:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=pending,  # type: ignore[arg-type]  # botocore takes bytearray blobs
                    ContentType=content_type,
                    Metadata=dict(metadata),
                    **self._condition,
                )
                return
            self._upload_part(key, upload_id, parts, pending)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                **self._condition,
            )
        except BaseException as exc:
            if upload_id is not None:
                self._abort(key, upload_id)
            if isinstance(exc, ClientError) and _precondition_failed(exc):
                raise ObjectExists(key, size) from exc
            if isinstance(exc, BotoCoreError | ClientError):
                raise translate(exc, "uploading", f"s3://{self.bucket}/{key}") from exc
            raise

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey"):
                return None
            raise translate(exc, "reading", f"s3://{self.bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise translate(exc, "reading", f"s3://{self.bucket}/{key}") from exc
        end = response.get("Metadata", {}).get(END_OFFSET)
        return StoredObject(
            int(response.get("ContentLength", 0)),
            int(end) if end is not None and end.isdigit() else None,
        )

    def close(self) -> None:
        self.client.close()

    def _create(self, key: str, content_type: str, metadata: Mapping[str, str]) -> str:
        extra: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"} if self._checksums else {}
        response = self.client.create_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            ContentType=content_type,
            Metadata=dict(metadata),
            **extra,
        )
        return response["UploadId"]

    def _upload_part(
        self, key: str, upload_id: str, parts: list[dict[str, Any]], data: bytearray
    ) -> None:
        number = len(parts) + 1
        extra: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"} if self._checksums else {}
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,  # type: ignore[arg-type]  # botocore takes bytearray blobs
            **extra,
        )
        part: dict[str, Any] = {"ETag": response["ETag"], "PartNumber": number}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        parts.append(part)

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "could not abort multipart upload %s of s3://%s/%s (%s); a lifecycle rule "
                "for incomplete uploads will clear its parts",
                upload_id,
                self.bucket,
                key,
                exc,
            )


def _precondition_failed(exc: ClientError) -> bool:
    """The store refused a conditional write because the key exists (HTTP 412)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code == "PreconditionFailed" or status == 412
