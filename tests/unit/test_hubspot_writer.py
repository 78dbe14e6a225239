"""The hubspot writer against the HubSpot stand-in over loopback HTTP (no Kafka)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.hubspot import ALL_SCOPES, HubSpotStub
from offramp import (
    FatalError,
    RawMessage,
    RetriableError,
    SinkRecord,
    TaskContext,
    ThrottledError,
)
from offramp.connectors.hubspot import HubSpotSinkConfig, HubSpotSinkConnector, HubSpotWriter
from offramp.connectors.hubspot.ratelimit import RateLimiter
from offramp.testing import write_all

MAPPING = {
    "hubspot.property.email": "email | trim",
    "hubspot.property.agent": "agent",
    "hubspot.property.tenant": "tenant",
    "hubspot.property.last_call_time": "ended_at | datetime",
}
NO_CONTACT_WRITE = ALL_SCOPES - {"crm.objects.contacts.write"}


@pytest.fixture
def stub() -> Iterator[HubSpotStub]:
    with HubSpotStub({"test-token": ALL_SCOPES, "read-only": NO_CONTACT_WRITE}) as server:
        yield server


def _config(stub: HubSpotStub, **extra: Any) -> HubSpotSinkConfig:
    return HubSpotSinkConfig.model_validate(
        {
            "hubspot.access.token": "test-token",
            "hubspot.base.url": stub.url,
            **MAPPING,
            **extra,
        }
    )


def _writer(stub: HubSpotStub, limiter: RateLimiter | None = None, **extra: Any) -> HubSpotWriter:
    return HubSpotWriter(_config(stub, **extra), TaskContext("crm", 0, {}), limiter)


def _records(values: list[dict[str, Any] | None], partition: int = 0) -> list[SinkRecord]:
    return [
        SinkRecord(RawMessage("calls", partition, offset), None, value)
        for offset, value in enumerate(values)
    ]


def _call(email: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"email": email, "agent": f"agent{n}", "tenant": "acme", **extra}


def _posts(stub: HubSpotStub) -> list[int]:
    return [c.inputs for c in stub.calls if c.method == "POST"]


def test_records_for_one_email_collapse_into_one_input_merged_in_order(stub: HubSpotStub) -> None:
    """Three records for one email (any case) make one input: later values win, and a
    property only an earlier record had is kept, as if sent one after another."""
    records = _records(
        [
            _call("Ada@Example.com", 1, ended_at="2026-11-20T08:00:00Z"),
            _call("ada@example.com", 2),
            _call("ADA@EXAMPLE.COM", 3, tenant="globex"),
        ]
    )
    failures, committable = write_all(_writer(stub), records)
    assert failures == []
    assert committable == {("calls", 0): 3}
    assert _posts(stub) == [1]
    contact = stub.get("contacts", "email", "ada@example.com")
    assert contact is not None
    assert (contact["agent"], contact["tenant"]) == ("agent3", "globex")
    assert contact["last_call_time"] == "1795161600000"


def test_inputs_go_out_at_most_batch_size_per_call(stub: HubSpotStub) -> None:
    """250 distinct emails with hubspot.batch.size=40 take 7 calls of at most 40 inputs."""
    records = _records([_call(f"c{i}@x.com", i) for i in range(250)])
    failures, _ = write_all(_writer(stub, **{"hubspot.batch.size": "40"}), records)
    assert failures == []
    assert _posts(stub) == [40, 40, 40, 40, 40, 40, 10]
    assert stub.count() == 250


def test_a_207_fails_only_the_inputs_it_names(stub: HubSpotStub) -> None:
    """Inputs HubSpot rejects in a 207 become RecordFailures carrying its category and
    message; every other record is written."""
    stub.fail_when = {"email": re.compile(r"^reject")}
    values = [_call(f"c{i}@x.com", i) for i in range(30)]
    values[4] = _call("reject-4@x.com")
    values[17] = _call("reject-17@x.com")
    failures, _ = write_all(_writer(stub), _records(values))
    assert sorted(f.record.kafka_offset for f in failures) == [4, 17]
    for failure in failures:
        assert failure.context["__offramp.errors.hubspot.category"] == "VALIDATION_ERROR"
        assert "is rejected" in failure.context["__offramp.errors.hubspot.message"]
        assert failure.context["__offramp.errors.hubspot.stage"] == "upsert"
        assert "reject-" in str(failure.error)
    assert stub.count() == 28
    assert stub.get("contacts", "email", "reject-4@x.com") is None


def test_a_whole_batch_400_is_bisected_to_the_bad_input(stub: HubSpotStub) -> None:
    """One invalid input among 64 costs a few extra calls and fails alone."""
    stub.reject_when = {"tenant": re.compile(r"^poison$")}
    values = [_call(f"c{i}@x.com", i) for i in range(64)]
    values[37]["tenant"] = "poison"
    failures, _ = write_all(_writer(stub), _records(values))
    assert [f.record.kafka_offset for f in failures] == [37]
    assert failures[0].context["__offramp.errors.hubspot.category"] == "VALIDATION_ERROR"
    assert "Property values were not valid" in str(failures[0].error)
    assert stub.count() == 63
    assert len(stub.calls) <= 1 + 2 * 6


def test_bad_records_fail_before_any_call(stub: HubSpotStub) -> None:
    """A tombstone, a missing email and an unparseable date fail with INVALID_RECORD."""
    values: list[dict[str, Any] | None] = [
        None,
        {"agent": "x"},
        _call("a@x.com", ended_at="yesterday-ish"),
        _call("ok@x.com"),
    ]
    failures, _ = write_all(_writer(stub), _records(values))
    assert [f.record.kafka_offset for f in failures] == [0, 1, 2]
    assert {f.context["__offramp.errors.hubspot.category"] for f in failures} == {"INVALID_RECORD"}
    assert "tombstone" in str(failures[0].error)
    assert "no value for the id property email" in str(failures[1].error)
    assert "last_call_time" in str(failures[2].error)
    assert stub.count() == 1


def test_tombstones_can_be_ignored(stub: HubSpotStub) -> None:
    """With hubspot.behavior.on.null.values=ignore a tombstone is skipped, not failed."""
    writer = _writer(stub, **{"hubspot.behavior.on.null.values": "ignore"})
    failures, _ = write_all(writer, _records([None, _call("a@x.com")]))
    assert failures == [] and stub.count() == 1


def test_a_refused_token_is_fatal_and_says_so(stub: HubSpotStub) -> None:
    """401: FatalError naming hubspot.access.token."""
    writer = _writer(stub, **{"hubspot.access.token": "wrong"})
    with pytest.raises(FatalError, match=r"refused hubspot.access.token \(401"):
        write_all(writer, _records([_call("a@x.com")]))


def test_a_missing_scope_is_fatal_and_names_the_scope(stub: HubSpotStub) -> None:
    """403: FatalError naming the scope HubSpot asked for."""
    writer = _writer(stub, **{"hubspot.access.token": "read-only"})
    with pytest.raises(FatalError, match=r"lacks the scopes.*crm\.objects\.contacts\.write"):
        write_all(writer, _records([_call("a@x.com")]))


def test_an_unknown_object_type_is_fatal(stub: HubSpotStub) -> None:
    """HubSpot's "Unable to infer object type" names hubspot.object.type."""
    writer = _writer(
        stub,
        **{
            "hubspot.object.type": "p_nothing",
            "hubspot.id.property": "email",
        },
    )
    with pytest.raises(FatalError, match=r"hubspot\.object\.type 'p_nothing'"):
        write_all(writer, _records([_call("a@x.com")]))


def test_server_errors_are_retriable_with_retry_after(stub: HubSpotStub) -> None:
    """A 503 with Retry-After is a RetriableError carrying it; the retry succeeds."""
    stub.fail_next(503, retry_after=1.5)
    writer = _writer(stub)
    records = _records([_call("a@x.com")])
    with pytest.raises(RetriableError) as outage:
        writer.write(records)
    assert outage.value.retry_after == 1.5
    assert not isinstance(outage.value, ThrottledError)
    assert writer.write(records) == []
    writer.stop()
    assert stub.count() == 1


def test_a_timeout_is_retriable() -> None:
    """A call slower than hubspot.request.timeout.ms is a RetriableError."""
    with HubSpotStub(latency=1.0) as slow:
        writer = _writer(slow, **{"hubspot.request.timeout.ms": "200"})
        with pytest.raises(RetriableError, match="unreachable"):
            writer.write(_records([_call("a@x.com")]))
        writer.stop()


def test_a_window_429_waits_and_the_retry_resends_only_what_was_not_written() -> None:
    """With a server budget of 2 per window, the third call is refused with the window's
    remainder as retry_after; the retried batch sends only the third chunk."""
    with HubSpotStub(per_10s=2, window_seconds=0.5) as tight:
        limiter = RateLimiter(50, 1000, window=0.5)
        writer = _writer(tight, limiter)
        records = _records([_call(f"c{i}@x.com", i) for i in range(300)])
        with pytest.raises(RetriableError, match="TEN_SECONDLY_ROLLING") as refused:
            writer.write(records)
        assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 0.5
        assert limiter.effective_limit() == 2
        assert writer.write(records) == []  # the limiter waits out the window first
        writer.stop()
        assert [c.status for c in tight.calls] == [200, 200, 429, 200]
        assert tight.count() == 300


def test_retry_after_on_a_429_is_honoured() -> None:
    """A 429 with Retry-After: 0.25 gives retry_after 0.25."""
    with HubSpotStub(per_10s=1, retry_after=0.25) as tight:
        writer = _writer(tight)
        with pytest.raises(RetriableError) as refused:
            writer.write(_records([_call(f"c{i}@x.com") for i in range(101)]))
        assert refused.value.retry_after == 0.25
        writer.stop()


def test_a_daily_429_throttles_until_midnight_in_the_account_zone() -> None:
    """HubSpot's DAILY 429 is a ThrottledError whose reason says when it resets, and
    the limiter then makes no call until then."""
    with HubSpotStub(daily=0) as spent:
        writer = _writer(spent, **{"hubspot.timezone": "America/New_York"})
        with pytest.raises(ThrottledError) as throttled:
            writer.write(_records([_call(f"c{i}@x.com") for i in range(150)]))
        assert "429 DAILY" in throttled.value.reason
        assert "midnight America/New_York" in throttled.value.reason
        assert 0 < throttled.value.retry_after <= 25 * 3600
        with pytest.raises(ThrottledError):
            writer.write(_records([_call("more@x.com")]))
        assert len(spent.calls) == 1
        writer.stop()


def test_the_daily_remaining_header_stops_calls_before_a_429() -> None:
    """When HubSpot reports 0 calls left today, the next call is not made at all."""
    with HubSpotStub(daily=1) as spent:
        writer = _writer(spent)
        with pytest.raises(ThrottledError, match="used up"):
            writer.write(_records([_call(f"c{i}@x.com") for i in range(150)]))
        assert [c.status for c in spent.calls] == [200]
        writer.stop()


def test_contacts_are_associated_with_companies_found_by_domain(stub: HubSpotStub) -> None:
    """hubspot.association.companies.domain creates each company once and links each
    contact to its company."""
    writer = _writer(stub, **{"hubspot.association.companies.domain": "company"})
    values = [_call(f"c{i}@x.com", i, company=f"firm{i % 3}.com") for i in range(10)]
    failures, _ = write_all(writer, _records(values))
    assert failures == []
    assert stub.count("companies") == 3
    contact = stub.get("contacts", "email", "c4@x.com")
    company = stub.get("companies", "domain", "firm1.com")
    assert contact is not None and company is not None
    assert stub.associated("contacts", contact["hs_object_id"], "companies") == {
        company["hs_object_id"]
    }


def test_custom_objects_are_upserted_by_their_unique_property(stub: HubSpotStub) -> None:
    """A custom object type (p_calls) is upserted by call_id, twice without duplicates."""
    writer = _writer(
        stub,
        **{
            "hubspot.object.type": "p_calls",
            "hubspot.id.property": "call_id",
            "hubspot.property.call_id": "id",
            "hubspot.property.email": "email",
        },
    )
    values = [{"id": f"call-{i % 5}", "email": f"c{i}@x.com"} for i in range(12)]
    failures, _ = write_all(writer, _records(values))
    assert failures == [] and stub.count("p_calls") == 5
    assert (stub.get("p_calls", "call_id", "call-1") or {})["email"] == "c11@x.com"


def test_check_reports_the_portal_and_the_scopes(stub: HubSpotStub) -> None:
    """check() names the portal and the token's scopes, and notes a time zone mismatch."""
    stub.time_zone = "Europe/Berlin"
    found = HubSpotSinkConnector().check(_config(stub))
    assert "portal 90210" in found
    assert "crm.objects.contacts.write" in found
    assert "the account's time zone is Europe/Berlin" in found
    assert stub.calls == []  # not budgeted, and not a /crm/ call


def test_check_fails_on_a_missing_scope_or_a_bad_token(stub: HubSpotStub) -> None:
    """check() raises FatalError for a token without the write scope or an unknown one."""
    with pytest.raises(FatalError, match=r"lacks the scopes crm\.objects\.contacts\.write"):
        HubSpotSinkConnector().check(_config(stub, **{"hubspot.access.token": "read-only"}))
    with pytest.raises(FatalError, match="401"):
        HubSpotSinkConnector().check(_config(stub, **{"hubspot.access.token": "nope"}))


def test_check_reads_private_app_scopes() -> None:
    """A pat- token's scopes come from the private-app introspection endpoint."""
    with HubSpotStub({"pat-na1-abc": {"crm.objects.contacts.write"}}) as server:
        found = HubSpotSinkConnector().check(
            HubSpotSinkConfig.model_validate(
                {
                    "hubspot.access.token": "pat-na1-abc",
                    "hubspot.base.url": server.url,
                    **MAPPING,
                }
            )
        )
    assert "token scopes: crm.objects.contacts.write" in found


def test_check_fails_when_hubspot_is_unreachable() -> None:
    """No server at hubspot.base.url: a FatalError saying so."""
    with HubSpotStub() as server:
        url = server.url
    config = HubSpotSinkConfig.model_validate(
        {"hubspot.access.token": "t", "hubspot.base.url": url, **MAPPING}
    )
    with pytest.raises(FatalError, match="unreachable"):
        HubSpotSinkConnector().check(config)
