"""The HubSpot stand-in answers with HubSpot's semantics and JSON shapes."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import Client
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts.exceptions import ApiException
from urllib3.util.retry import Retry

from devstack.hubspot import ALL_SCOPES, HubSpotStub


@pytest.fixture
def stub() -> Iterator[HubSpotStub]:
    with HubSpotStub({"test-token": ALL_SCOPES, "no-write": {"crm.objects.contacts.read"}}) as s:
        yield s


def _call(
    stub: HubSpotStub, method: str, path: str, body: Any = None, token: str = "test-token"
) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(
        stub.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), dict(error.headers)


def _upsert(emails: list[str], **props: str) -> dict[str, Any]:
    return {"inputs": [{"idProperty": "email", "id": e, "properties": dict(props)} for e in emails]}


UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def test_upsert_creates_then_updates_by_email_ignoring_case(stub: HubSpotStub) -> None:
    """results[].new is true once; a differently-cased email updates the same contact."""
    status, first, _ = _call(stub, "POST", UPSERT, _upsert(["Ada@x.com"], tier="a"))
    assert status == 200 and first["status"] == "COMPLETE"
    assert [r["new"] for r in first["results"]] == [True]
    status, second, _ = _call(stub, "POST", UPSERT, _upsert(["ada@X.COM"], tier="b"))
    assert [r["new"] for r in second["results"]] == [False]
    assert second["results"][0]["id"] == first["results"][0]["id"]
    assert stub.count() == 1
    assert (stub.get("contacts", "email", "ADA@x.com") or {})["tier"] == "b"


def test_more_than_100_inputs_or_duplicate_ids_are_refused(stub: HubSpotStub) -> None:
    """HubSpot's batch limits: 101 inputs → 400, a repeated id → 400, nothing written."""
    status, body, _ = _call(stub, "POST", UPSERT, _upsert([f"c{i}@x" for i in range(101)]))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "less than or equal to 100" in body["message"]
    status, body, _ = _call(stub, "POST", UPSERT, _upsert(["a@x", "A@x"]))
    assert status == 400 and "Duplicate IDs" in body["message"]
    assert stub.count() == 0


def test_a_non_unique_id_property_is_refused(stub: HubSpotStub) -> None:
    """idProperty must be a unique property of the object type."""
    body = {"inputs": [{"idProperty": "firstname", "id": "Ada", "properties": {}}]}
    status, answer, _ = _call(stub, "POST", UPSERT, body)
    assert status == 400 and "not a unique property" in answer["message"]


def test_rate_limits_answer_hubspots_429_body(stub: HubSpotStub) -> None:
    """Over the window budget: 429 with errorType RATE_LIMIT and the policy's name;
    accepted calls carry X-HubSpot-RateLimit headers."""
    stub.set_limits(per_10s=1, daily=10)
    stub.retry_after = 3
    status, _, headers = _call(stub, "POST", UPSERT, _upsert(["a@x"]))
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "9"
    status, body, headers = _call(stub, "POST", UPSERT, _upsert(["b@x"]))
    assert status == 429 and headers["Retry-After"] == "3"
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] and body["correlationId"]
    assert [c.refused for c in stub.calls] == [False, True]
    assert stub.max_accepted_in_window() == 1


def test_the_daily_limit_answers_daily(stub: HubSpotStub) -> None:
    """Past the daily budget every call is a 429 DAILY until reset_daily()."""
    stub.set_limits(daily=1)
    assert _call(stub, "POST", UPSERT, _upsert(["a@x"]))[0] == 200
    status, body, _ = _call(stub, "POST", UPSERT, _upsert(["b@x"]))
    assert status == 429 and body["policyName"] == "DAILY"
    stub.reset_daily()
    assert _call(stub, "POST", UPSERT, _upsert(["b@x"]))[0] == 200


def test_tokens_and_scopes_are_checked(stub: HubSpotStub) -> None:
    """Unknown token → 401 INVALID_AUTHENTICATION; no write scope → 403 MISSING_SCOPES."""
    status, body, _ = _call(stub, "POST", UPSERT, _upsert(["a@x"]), token="nope")
    assert status == 401 and body["category"] == "INVALID_AUTHENTICATION"
    status, body, _ = _call(stub, "POST", UPSERT, _upsert(["a@x"]), token="no-write")
    assert status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]


def test_injected_failures_answer_the_next_calls(stub: HubSpotStub) -> None:
    """fail_next(502, 2) answers two calls with 502, then normal service resumes."""
    stub.fail_next(502, times=2)
    assert [_call(stub, "POST", UPSERT, _upsert(["a@x"]))[0] for _ in range(3)] == [
        502,
        502,
        200,
    ]


def test_read_page_and_associations(stub: HubSpotStub) -> None:
    """batch/read by idProperty reports missing ids in a 207; GET pages; associations
    made with associate/default can be read back."""
    _call(stub, "POST", UPSERT, _upsert(["a@x", "b@x"]))
    body = {"idProperty": "email", "inputs": [{"id": "a@x"}, {"id": "zz@x"}]}
    status, read, _ = _call(stub, "POST", "/crm/v3/objects/contacts/batch/read", body)
    assert status == 207 and read["numErrors"] == 1
    assert read["errors"][0]["context"] == {"ids": ["zz@x"]}
    status, page, _ = _call(stub, "GET", "/crm/v3/objects/contacts?limit=1")
    assert len(page["results"]) == 1 and page["paging"]["next"]["after"]
    company = {"inputs": [{"idProperty": "domain", "id": "acme.com", "properties": {}}]}
    _, made, _ = _call(stub, "POST", "/crm/v3/objects/companies/batch/upsert", company)
    contact_id = (stub.get("contacts", "email", "a@x") or {})["hs_object_id"]
    company_id = made["results"][0]["id"]
    link = {"inputs": [{"from": {"id": contact_id}, "to": {"id": company_id}}]}
    path = "/crm/v4/associations/contacts/companies/batch/associate/default"
    assert _call(stub, "POST", path, link)[0] == 200
    status, linked, _ = _call(
        stub, "GET", f"/crm/v4/objects/contacts/{contact_id}/associations/companies"
    )
    assert [r["toObjectId"] for r in linked["results"]] == [int(company_id)]


def test_hubspot_api_client_parses_the_answers(stub: HubSpotStub) -> None:
    """The official client's typed upsert reads a 207 as a …WithErrors object and a 401
    as an ApiException, so the stand-in's JSON fits HubSpot's schema."""
    stub.fail_when = {"email": re.compile("^bad")}
    client = Client.create(access_token="test-token", host=stub.url, retry=Retry(0))
    api = client.crm.contacts.batch_api
    try:
        body = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(id="ok@x", id_property="email", properties={}),
                SimplePublicObjectBatchInputUpsert(id="bad@x", id_property="email", properties={}),
            ]
        )
        answer = api.upsert(body)
        assert type(answer).__name__ == "BatchResponseSimplePublicUpsertObjectWithErrors"
        assert answer.num_errors == 1 and answer.errors[0].category == "VALIDATION_ERROR"
        assert [r.new for r in answer.results] == [True]
        client.access_token = "nope"
        refusing = client.crm.contacts.batch_api
        try:
            with pytest.raises(ApiException) as refused:
                refusing.upsert(body)
        finally:
            refusing.api_client.rest_client.pool_manager.clear()
        assert refused.value.status == 401
    finally:
        api.api_client.rest_client.pool_manager.clear()
