"""Point ids: ints and UUIDs kept, everything else hashed to a stable UUIDv5."""

from __future__ import annotations

import uuid

import pytest

from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE, PointIdError, to_point_id


def test_unsigned_integers_and_their_canonical_strings_stay_integers() -> None:
    """42, "42" and b"42" all name point 42; the u64 bounds are respected."""
    assert to_point_id(42) == 42
    assert to_point_id("42") == 42
    assert to_point_id(b"42") == 42
    assert to_point_id(0) == 0 and to_point_id("0") == 0
    assert to_point_id(2**64 - 1) == 2**64 - 1


def test_non_canonical_and_out_of_range_numbers_are_hashed_not_merged() -> None:
    """ "007" must not collide with 7, and negatives or > u64 still get a stable id."""
    assert to_point_id("007") == str(uuid.uuid5(DEFAULT_NAMESPACE, "007"))
    assert to_point_id(-5) == str(uuid.uuid5(DEFAULT_NAMESPACE, "-5"))
    assert to_point_id(str(2**64)) == str(uuid.uuid5(DEFAULT_NAMESPACE, str(2**64)))
    assert to_point_id("٣") == str(uuid.uuid5(DEFAULT_NAMESPACE, "٣"))  # not ASCII


def test_uuids_in_any_spelling_become_the_canonical_form() -> None:
    """Hyphenated, simple and braced spellings of one UUID name one point."""
    u = uuid.uuid4()
    for spelling in (str(u), u.hex, "{" + str(u).upper() + "}", u):
        assert to_point_id(spelling) == str(u)


def test_other_strings_map_to_a_deterministic_uuid5() -> None:
    """The same key always gives the same id; the namespace is configurable."""
    first = to_point_id("call-1")
    assert first == to_point_id("call-1") == str(uuid.uuid5(DEFAULT_NAMESPACE, "call-1"))
    other = uuid.uuid4()
    assert to_point_id("call-1", other) == str(uuid.uuid5(other, "call-1")) != first


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (None, "no key"),
        ("", "empty"),
        (True, "boolean"),
        (1.5, "float"),
        ({"id": 1}, "dict"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_values_that_cannot_name_a_point_are_refused_clearly(raw: object, says: str) -> None:
    """Missing, empty, boolean, float, object and non-UTF-8 ids raise with a reason."""
    with pytest.raises(PointIdError, match=says):
        to_point_id(raw)
