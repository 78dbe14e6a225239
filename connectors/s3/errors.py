"""Where each failure of the ``s3`` connector goes.

- A record that can't be placed or encoded (missing partition field, bad timestamp,
  a value the format can't hold) raises ``RecordEncodingError``; the writer returns it as
  a ``RecordFailure`` so it goes to the dead-letter queue and the rest is archived.
- S3 and network failures are translated by ``translate`` into the runtime's errors:
  throttling, 5xx and timeouts are ``RetriableError`` (the runtime retries with
  backoff); bad credentials, denied access, a missing bucket or any other refusal is
  ``FatalError`` with a message that says what to fix.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from offramp import FatalError, RetriableError, SinkError

__all__ = ["RecordEncodingError", "translate"]


class RecordEncodingError(ValueError):
    """One record can't be written by this connector's settings (goes to the DLQ)."""


_RETRIABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "BadDigest",
        "IncompleteBody",
        "NoSuchUpload",  # our multipart upload vanished (aborted elsewhere): start again
        # Two conditional writes of one key at once (AWS): the one that lost may find
        # the other's object when tried again.
        "ConditionalRequestConflict",
    }
)

_FATAL_HINTS = {
    "AccessDenied": "access denied: the credentials lack s3:PutObject (or s3:ListBucket) "
    "on this bucket",
    "AllAccessDisabled": "all access to this bucket has been disabled",
    "AccountProblem": "the AWS account has a problem that blocks this operation",
    "InvalidAccessKeyId": "the access key id is unknown to the store: check "
    "aws.access.key.id or the default credential chain",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check "
    "aws.secret.access.key",
    "ExpiredToken": "the session token has expired: refresh aws.session.token",
    "InvalidToken": "the session token is invalid: check aws.session.token",
    "NoSuchBucket": "the bucket does not exist: create it or fix s3.bucket.name",
    "InvalidBucketName": "the bucket name is invalid",
    "PermanentRedirect": "the bucket is in another region: fix s3.region",
    "AuthorizationHeaderMalformed": "the request was signed for the wrong region: fix s3.region",
}


def _client_error(exc: ClientError, action: str, where: str) -> SinkError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    detail = f"{code}: {message}" if message else code
    if code in _RETRIABLE_CODES or status >= 500 or status == 429:
        return RetriableError(f"S3 {action} {where} failed transiently ({detail or status})")
    if code in ("404", "NotFound") and action == "checking":
        code, detail = "NoSuchBucket", "Not Found"
    elif code == "403" and action == "checking":
        code, detail = "AccessDenied", "Forbidden"
    hint = _FATAL_HINTS.get(code)
    if hint:
        return FatalError(f"S3 {action} {where} failed: {hint} ({detail})")
    return FatalError(f"S3 refused {action} {where}: {detail or f'HTTP {status}'}")


def translate(exc: BaseException, action: str, where: str) -> BaseException:
    """The runtime error for a boto3/botocore failure of ``action`` on ``where`` (e.g.
    ``uploading``, ``s3://bucket/key``); anything else is returned unchanged."""
    if isinstance(exc, ClientError):
        return _client_error(exc, action, where)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return FatalError(
            f"no usable AWS credentials for {action} {where}: set aws.access.key.id and "
            f"aws.secret.access.key, or configure boto3's default chain ({exc})"
        )
    if isinstance(exc, NoRegionError | ParamValidationError):
        return FatalError(f"S3 {action} {where} is misconfigured: {exc}")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return RetriableError(f"S3 {action} {where} failed: cannot reach the store ({exc})")
    if isinstance(exc, BotoCoreError):
        return RetriableError(f"S3 {action} {where} failed: {exc}")
    return exc
