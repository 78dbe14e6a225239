"""Which S3 failures are retried and which stop the task."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from offramp import FatalError, RetriableError
from offramp.connectors.s3.errors import translate


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    "error",
    [
        _client_error("SlowDown", 503, "Please reduce your request rate."),
        _client_error("InternalError", 500),
        _client_error("ServiceUnavailable", 503),
        _client_error("Throttling", 400),
        _client_error("RequestTimeout", 400),
        _client_error("TooManyRequests", 429),
        _client_error("", 502),
        ReadTimeoutError(endpoint_url="http://s3"),
        ConnectTimeoutError(endpoint_url="http://s3"),
        EndpointConnectionError(endpoint_url="http://s3"),
    ],
)
def test_throttling_5xx_and_timeouts_are_transient(error: Exception) -> None:
    """Throttling codes, 5xx, 429 and network timeouts become ``RetriableError``."""
    translated = translate(error, "uploading", "s3://b/k")
    assert type(translated) is RetriableError
    assert "s3://b/k" in str(translated)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (_client_error("AccessDenied", 403, "Access Denied"), "access denied"),
        (_client_error("NoSuchBucket", 404), "the bucket does not exist"),
        (_client_error("InvalidAccessKeyId", 403), "access key id is unknown"),
        (_client_error("SignatureDoesNotMatch", 403), "check aws.secret.access.key"),
        (_client_error("PermanentRedirect", 301), "fix s3.region"),
        (_client_error("EntityTooLarge", 400, "too big"), "S3 refused uploading s3://b/k"),
        (NoCredentialsError(), "no usable AWS credentials"),
    ],
)
def test_refusals_are_fatal_and_say_what_to_fix(error: Exception, message: str) -> None:
    """Credentials, permissions, a missing bucket or any other refusal is a
    ``FatalError`` whose message names the cause."""
    translated = translate(error, "uploading", "s3://b/k")
    assert isinstance(translated, FatalError)
    assert message in str(translated)


def test_headless_404_and_403_of_a_check_are_read_as_bucket_and_access() -> None:
    """A HEAD has no error body: 404 means the bucket is missing, 403 access denied."""
    assert "does not exist" in str(translate(_client_error("404", 404), "checking", "s3://b"))
    assert "access denied" in str(translate(_client_error("403", 403), "checking", "s3://b"))


def test_other_exceptions_pass_through() -> None:
    """Errors that aren't boto3's are left for the caller to judge."""
    error = ValueError("bug")
    assert translate(error, "uploading", "s3://b/k") is error
