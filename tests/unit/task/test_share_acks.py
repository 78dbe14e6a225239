"""Share-group tasks (group.type=share) over a scripted share group: every record
acknowledged, poison records dead-lettered at the attempt limit, outages ridden out
without spending deliveries."""

from __future__ import annotations

import pytest

from offramp.config import ConnectorSettings
from offramp.testing import RunResult, ScriptedShareConsumer, run_connector

pytestmark = pytest.mark.timeout(60)

SHARE = {
    "connector.class": "scripted",
    "topics": "calls",
    "group.type": "share",
    "value.converter": "string",
    "key.converter": "string",
}
DLQ = {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq"}


def _settled(group: ScriptedShareConsumer, total: int) -> object:
    def until(_: RunResult) -> bool:
        states = group.states()
        return states.get("available", 0) + states.get("acquired", 0) == 0 and (
            sum(states.values()) == total
        )

    return until


def _group(values: list[bytes], **kw: int) -> ScriptedShareConsumer:
    group = ScriptedShareConsumer(**kw)
    group.append("calls", 0, values[::2])
    group.append("calls", 1, values[1::2])
    return group


def test_every_written_record_is_accepted_once() -> None:
    """With a healthy sink every record is written, ACCEPTed on its first delivery, and
    the share consumer runs in explicit acknowledgement mode on connect-<name>."""
    values = [f"v{i}".encode() for i in range(250)]
    group = _group(values)
    result = run_connector(SHARE, share=group, until=_settled(group, 250))  # type: ignore[arg-type]
    assert group.states() == {"accepted": 250}
    assert set(group.counts().values()) == {1}
    assert sorted(r.value for r in result.recorded["test-connector"]) == sorted(
        v.decode() for v in values
    )
    assert group.config["share.acknowledgement.mode"] == "explicit"
    assert group.config["group.id"] == "connect-test-connector"
    assert result.metrics.share_accepted == 250


def test_a_poison_record_is_released_until_the_attempt_limit_then_dead_lettered() -> None:
    """A record the sink refuses by name is RELEASEd and delivered again until its
    delivery count reaches share.record.attempts (3, below the group's limit of 5);
    then it is dead-lettered and ACCEPTed, while the rest is accepted at once."""
    group = _group([b"ok1", b"bad", b"ok2", b"ok3"], delivery_limit=5)
    config = {**SHARE, **DLQ, "script.fail.values": "bad"}
    result = run_connector(config, share=group, until=_settled(group, 4))  # type: ignore[arg-type]
    assert group.states() == {"accepted": 4}
    counts = group.counts()
    assert counts[("calls", 1, 0)] == 3  # "bad"
    assert [v for k, v in counts.items() if k != ("calls", 1, 0)] == [1, 1, 1]
    assert [d.value for d in result.dead_letters] == [b"bad"]
    assert result.metrics.share_released == 2
    assert result.metrics.share_redeliveries == 2


def test_a_poison_record_without_a_dead_letter_topic_is_rejected() -> None:
    """Under errors.tolerance=all with no dead-letter topic, a record at its attempt
    limit is REJECTed: never delivered again, and not archived by the broker's limit."""
    group = _group([b"ok1", b"bad"], delivery_limit=5)
    config = {**SHARE, "errors.tolerance": "all", "script.fail.values": "bad"}
    result = run_connector(config, share=group, until=_settled(group, 2))  # type: ignore[arg-type]
    assert group.states() == {"accepted": 1, "rejected": 1}
    assert result.metrics.share_rejected == 1


def test_an_outage_longer_than_the_delivery_limit_times_the_lock_archives_nothing() -> None:
    """The destination down for 1.5 s, longer than delivery limit (3) x lock (0.2 s):
    the task retries in place, releases before the lock runs out and stops acquiring
    until the sink answers; afterwards every record is accepted, none archived, and no
    record was delivered more than twice."""
    values = [f"v{i}".encode() for i in range(40)]
    group = _group(values, delivery_limit=3, lock_ms=200)
    config = {
        **SHARE,
        "script.transient.seconds": "1.5",
        "errors.retry.delay.max.ms": "20",
    }
    result = run_connector(config, share=group, until=_settled(group, 40), timeout=20)  # type: ignore[arg-type]
    assert group.states() == {"accepted": 40}
    assert max(group.counts().values()) <= 2
    assert result.metrics.share_released >= 1
    assert group.joins >= 2  # it left the group during the outage and came back


def test_topics_regex_is_refused_for_a_share_group() -> None:
    """A share consumer has no regex subscription: group.type=share with topics.regex
    is refused with a message saying so."""
    with pytest.raises(ValueError, match=r"topics\.regex is refused with group\.type=share"):
        ConnectorSettings.model_validate(
            {"name": "n", "connector.class": "x", "group.type": "share", "topics.regex": "a.*"}
        )
