"""The transform chain: building it from a connector config, running it, naming plug-ins."""

from __future__ import annotations

from typing import Any

import pytest

from offramp.errors import ConfigError, PluginNotFoundError, TransformError
from offramp.records import Headers, RawMessage, SinkRecord
from offramp.transforms import (
    Predicate,
    Transformation,
    TransformChain,
    available_plugins,
    predicate_class,
    transformation_class,
)
from offramp.transforms.config import ConfigReader
from offramp.transforms.insert import InsertFieldValue

KAFKA = "org.apache.kafka.connect.transforms."
COMPLETED = "com.example.call.completed.v1"


def make_record(
    value: Any = None, *, topic: str = "calls", offset: int = 5, headers: Headers | None = None
) -> SinkRecord:
    message = RawMessage(
        topic, 0, offset, key=b"k", value=b"..", headers=headers or [], timestamp=1_700_000_000_000
    )
    return SinkRecord(message, "k", {"id": offset} if value is None else value)


def errors_of(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        TransformChain.from_config(config)
    return dict(caught.value.errors)


# --- building the chain from a connector config -------------------------------------------


def test_no_transforms_key_gives_an_empty_falsy_chain() -> None:
    """A connector without ``transforms`` gets a chain that is False and has no stages."""
    chain = TransformChain.from_config({"topics": "calls"})
    assert not chain
    assert len(chain) == 0


def test_transforms_run_in_listed_order() -> None:
    """Aliases run in the order ``transforms`` lists them, each seeing the previous output."""
    chain = TransformChain.from_config(
        {
            "transforms": "hoist, rename",
            "transforms.hoist.type": "HoistField$Value",
            "transforms.hoist.field": "inner",
            "transforms.rename.type": "ReplaceField$Value",
            "transforms.rename.renames": "inner:payload",
        }
    )
    survivors, failures = chain.apply_batch([make_record({"a": 1})])
    assert chain.aliases == ["hoist", "rename"]
    assert [r.value for r in survivors] == [{"payload": {"a": 1}}]
    assert failures == []


def test_transforms_and_predicates_may_be_json_lists() -> None:
    """``transforms`` and ``predicates`` accept a JSON list, native or as a string."""
    chain = TransformChain.from_config(
        {
            "transforms": ["drop"],
            "transforms.drop.type": "Filter",
            "transforms.drop.predicate": "tomb",
            "predicates": '["tomb"]',
            "predicates.tomb.type": "RecordIsTombstone",
        }
    )
    assert chain.aliases == ["drop"]


def test_native_json_values_are_accepted_for_settings() -> None:
    """Booleans and lists may be given as JSON values instead of strings."""
    chain = TransformChain.from_config(
        {
            "transforms": "drop,mask",
            "transforms.drop.type": "Filter",
            "transforms.drop.predicate": "isCalls",
            "transforms.drop.negate": True,
            "transforms.mask.type": "MaskField$Value",
            "transforms.mask.fields": ["secret"],
            "predicates": "isCalls",
            "predicates.isCalls.type": "TopicNameMatches",
            "predicates.isCalls.pattern": "calls",
        }
    )
    survivors, _ = chain.apply_batch([make_record({"secret": "s"})])
    assert [r.value for r in survivors] == [{"secret": ""}]


def test_every_config_problem_is_reported_at_once() -> None:
    """One ConfigError lists unknown types, missing types, undeclared predicates and bad keys."""
    errors = errors_of(
        {
            "transforms": "a,b,c,d",
            "transforms.a.type": "InsertFeld$Value",
            "transforms.c.type": "Cast$Value",
            "transforms.c.spce": "int8",
            "transforms.d.type": "Filter",
            "transforms.d.predicate": "nope",
            "predicates": "p",
            "predicates.p.type": "TopicNameMatch",
        }
    )
    assert "did you mean 'InsertField$Value'" in errors["transforms.a.type"]
    assert "is required" in errors["transforms.b.type"]
    assert "is required" in errors["transforms.c.spec"]
    assert "did you mean 'transforms.c.spec'" in errors["transforms.c.spce"]
    assert "not declared in 'predicates'" in errors["transforms.d.predicate"]
    assert "did you mean 'TopicNameMatches'" in errors["predicates.p.type"]


def test_full_class_names_get_full_name_suggestions() -> None:
    """A misspelt Kafka class name is matched against the full names."""
    errors = errors_of({"transforms": "a", "transforms.a.type": KAFKA + "InsertField$Valeu"})
    assert f"did you mean '{KAFKA}InsertField$Value'" in errors["transforms.a.type"]


def test_a_predicate_used_as_a_transform_is_named_as_such() -> None:
    """Naming a predicate class in ``transforms.<a>.type`` says it's a predicate."""
    errors = errors_of({"transforms": "a", "transforms.a.type": "RecordIsTombstone"})
    assert "is a predicate, not a transformation" in errors["transforms.a.type"]


def test_a_predicate_without_type_is_reported() -> None:
    """Every alias in ``predicates`` needs ``predicates.<p>.type``."""
    errors = errors_of({"predicates": "p"})
    assert "is required" in errors["predicates.p.type"]


def test_duplicate_aliases_are_refused() -> None:
    """Listing an alias twice is an error rather than running it twice."""
    errors = errors_of({"transforms": "a,a", "transforms.a.type": "Filter"})
    assert "more than once" in errors["transforms"]


def test_bad_negate_value_is_reported() -> None:
    """``negate`` must be a boolean."""
    errors = errors_of(
        {
            "transforms": "a",
            "transforms.a.type": "Filter",
            "transforms.a.predicate": "p",
            "transforms.a.negate": "maybe",
            "predicates": "p",
            "predicates.p.type": "RecordIsTombstone",
        }
    )
    assert "true or false" in errors["transforms.a.negate"]


def test_settings_of_a_transform_that_takes_none_are_unknown() -> None:
    """A key given to a transform without settings is reported, saying so."""
    errors = errors_of({"transforms": "a", "transforms.a.type": "Filter", "transforms.a.x": "1"})
    assert "takes no settings" in errors["transforms.a.x"]


def test_keys_of_unlisted_aliases_are_ignored() -> None:
    """Settings for an alias not in ``transforms`` are inert, as in Kafka Connect."""
    chain = TransformChain.from_config({"transforms.off.type": "NoSuchThing"})
    assert not chain


def test_a_transform_alone_names_keys_relative_to_its_prefix() -> None:
    """Built directly, a transform's errors use the key prefix it was given."""
    with pytest.raises(ConfigError) as caught:
        InsertFieldValue({"static.field": "x"}, key_prefix="transforms.add.")
    assert caught.value.errors == [
        ("transforms.add.static.value", "is required when static.field is set")
    ]


# --- running the chain ------------------------------------------------------------------------


def test_empty_chain_returns_the_input_list_itself() -> None:
    """The hot path: an empty chain hands back the very same list, no per-record work."""
    records = [make_record(), make_record()]
    survivors, failures = TransformChain().apply_batch(records)
    assert survivors is records
    assert failures == []


def test_dropped_records_are_neither_survivors_nor_failures() -> None:
    """A Filter-dropped record simply disappears; order of the rest is kept."""
    chain = TransformChain.from_config(
        {
            "transforms": "dropOdd",
            "transforms.dropOdd.type": "Filter",
            "transforms.dropOdd.predicate": "odd",
            "predicates": "odd",
            "predicates.odd.type": "dev.offramp.transforms.predicates.HeaderValueMatches",
            "predicates.odd.header.name": "parity",
            "predicates.odd.pattern": "odd",
        }
    )
    records = [
        make_record(offset=i, headers=[("parity", b"odd" if i % 2 else b"even")]) for i in range(5)
    ]
    survivors, failures = chain.apply_batch(records)
    assert [r.offset for r in survivors] == [0, 2, 4]
    assert failures == []


def test_only_one_cloudevent_type_is_kept() -> None:
    """Filter + negated HeaderValueMatches keeps only ``ce-type == call.completed``."""
    chain = TransformChain.from_config(
        {
            "transforms": "onlyCompleted",
            "transforms.onlyCompleted.type": "Filter",
            "transforms.onlyCompleted.predicate": "isCompleted",
            "transforms.onlyCompleted.negate": "true",
            "predicates": "isCompleted",
            "predicates.isCompleted.type": "HeaderValueMatches",
            "predicates.isCompleted.header.name": "ce-type",
            "predicates.isCompleted.pattern": r"com\.example\.call\.completed\.v1",
        }
    )
    completed = make_record(offset=1, headers=[("ce-type", COMPLETED.encode())])
    started = make_record(offset=2, headers=[("ce-type", b"com.example.call.started.v1")])
    no_header = make_record(offset=3)
    survivors, _ = chain.apply_batch([completed, started, no_header])
    assert survivors == [completed]


def test_field_value_matches_picks_records_by_a_nested_field() -> None:
    """Filter + negated FieldValueMatches on ``data.status`` keeps the failed calls only;
    records without the field, with null, or not an object are not matched."""
    chain = TransformChain.from_config(
        {
            "transforms": "onlyFailed",
            "transforms.onlyFailed.type": "Filter",
            "transforms.onlyFailed.predicate": "failed",
            "transforms.onlyFailed.negate": "true",
            "predicates": "failed",
            "predicates.failed.type": "FieldValueMatches",
            "predicates.failed.field": "data.status",
            "predicates.failed.pattern": "failed|error",
        }
    )
    failed = make_record({"data": {"status": "failed"}}, offset=1)
    errored = make_record({"data": {"status": "error"}}, offset=2)
    ok = make_record({"data": {"status": "completed"}}, offset=3)
    partial = make_record({"data": {"status": "failed-over"}}, offset=4)  # a full match
    missing = make_record({"data": {}}, offset=5)
    null = make_record({"data": {"status": None}}, offset=6)
    bare = make_record("failed", offset=7)
    survivors, failures = chain.apply_batch([failed, errored, ok, partial, missing, null, bare])
    assert survivors == [failed, errored] and failures == []


@pytest.mark.parametrize(
    ("value", "pattern", "matched"),
    [(True, "true", True), (42, "4[0-9]", True), (1.5, "1\\.5", True), (["a"], '\\["a"\\]', True)],
)
def test_field_value_matches_reads_non_text_values_as_json(
    value: object, pattern: str, matched: bool
) -> None:
    """Booleans, numbers and lists are matched in their JSON text."""
    predicate = predicate_class("FieldValueMatches")({"field": "v", "pattern": pattern})
    assert predicate.test(make_record({"v": value})) is matched


def test_field_value_matches_v1_takes_a_dotted_name_whole() -> None:
    """With field.syntax.version=V1 the field ``a.b`` is one name, as in Kafka Connect."""
    predicate = predicate_class("dev.offramp.transforms.predicates.FieldValueMatches")(
        {"field": "a.b", "field.syntax.version": "V1", "pattern": "x"}
    )
    assert predicate.test(make_record({"a.b": "x"}))
    assert not predicate.test(make_record({"a": {"b": "x"}}))


def test_failures_carry_the_original_record_and_name_the_alias() -> None:
    """A failing record is reported as consumed, with a TransformError naming the alias."""
    chain = TransformChain.from_config(
        {
            "transforms": "hoist,cast",
            "transforms.hoist.type": "HoistField$Value",
            "transforms.hoist.field": "n",
            "transforms.cast.type": "Cast$Value",
            "transforms.cast.spec": "n:int8",
        }
    )
    good, bad = make_record("7", offset=1), make_record("nine", offset=2)
    survivors, failures = chain.apply_batch([bad, good])
    assert [r.value for r in survivors] == [{"n": 7}]
    [(record, error)] = failures
    assert record is bad
    assert isinstance(error, TransformError)
    assert "transform 'cast' (Cast$Value) failed" in str(error)
    assert isinstance(error.__cause__, ValueError)


def test_a_failing_predicate_is_named_in_the_error() -> None:
    """An exception inside a predicate names the predicate and the transform it guards."""

    class Exploding(Predicate):
        def test(self, record: SinkRecord) -> bool:
            raise RuntimeError("boom")

    class Dropping(Transformation):
        def apply(self, record: SinkRecord) -> SinkRecord | None:
            return None

    from offramp.transforms import Stage

    chain = TransformChain([Stage("drop", "Filter", Dropping({}), "bad", Exploding({}))])
    _, [(_, error)] = chain.apply_batch([make_record()])
    assert "predicate 'bad' of transform 'drop' (Filter) failed: RuntimeError: boom" in str(error)


def test_the_consumed_record_is_never_mutated() -> None:
    """Transforms return copies: the record passed in keeps its value, topic and headers."""
    chain = TransformChain.from_config(
        {
            "transforms": "ins,route,hdr",
            "transforms.ins.type": "InsertField$Value",
            "transforms.ins.static.field": "env",
            "transforms.ins.static.value": "prod",
            "transforms.route.type": "RegexRouter",
            "transforms.route.regex": ".*",
            "transforms.route.replacement": "other",
            "transforms.hdr.type": "InsertHeader",
            "transforms.hdr.header": "h",
            "transforms.hdr.value.literal": "v",
        }
    )
    original = make_record({"a": 1})
    [out], _ = chain.apply_batch([original])
    assert (original.value, original.topic, original.headers) == ({"a": 1}, "calls", [])
    assert (out.value, out.topic, out.headers) == ({"a": 1, "env": "prod"}, "other", [("h", b"v")])
    assert out.kafka_topic == "calls"


def test_apply_runs_one_record_and_raises_its_failure() -> None:
    """``apply`` is the one-record form: the result, None when dropped, or TransformError."""
    chain = TransformChain.from_config(
        {"transforms": "c", "transforms.c.type": "Cast$Value", "transforms.c.spec": "int8"}
    )
    assert chain.apply(make_record("5")) is not None
    with pytest.raises(TransformError):
        chain.apply(make_record("500"))


def test_custom_transformations_use_the_config_reader() -> None:
    """A Transformation subclass reads settings via ``configure`` and gets unknown-key checks."""

    class Tag(Transformation):
        def configure(self, config: ConfigReader) -> None:
            self.tag = config.required_string("tag")

        def apply(self, record: SinkRecord) -> SinkRecord | None:
            return record.replace(value={**record.value, "tag": self.tag})

    assert Tag({"tag": "x"}).apply(make_record({})).value == {"tag": "x"}  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as caught:
        Tag({"tga": "x"})
    assert ("tag", "is required") in caught.value.errors


# --- the name registry --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["InsertField$Value", KAFKA + "InsertField$Value"])
def test_short_and_full_names_resolve_to_the_same_class(name: str) -> None:
    """Both spellings of a transform name the same class."""
    assert transformation_class(name) is InsertFieldValue


def test_predicates_resolve_by_short_and_full_name() -> None:
    """Kafka's predicates live under ``...transforms.predicates.``; offramp's under dev.offramp."""
    full = predicate_class(KAFKA + "predicates.TopicNameMatches")
    assert predicate_class("TopicNameMatches") is full
    ours = predicate_class("dev.offramp.transforms.predicates.HeaderValueMatches")
    assert predicate_class("HeaderValueMatches") is ours


def test_module_paths_do_not_resolve() -> None:
    """A Python path is not a registered name: configs can't import arbitrary code."""
    with pytest.raises(PluginNotFoundError):
        transformation_class("os:system")
    with pytest.raises(PluginNotFoundError):
        transformation_class("offramp.transforms.filter.Filter")


def test_available_plugins_lists_every_class_once_by_kafka_name() -> None:
    """The REST plug-in list has Kafka class names, the right type and a version."""
    plugins = available_plugins()
    by_class = {p["class"]: p for p in plugins}
    assert len(by_class) == len(plugins)
    assert by_class[KAFKA + "Cast$Key"] == {
        "class": KAFKA + "Cast$Key",
        "type": "transformation",
        "version": "0.1.0",
    }
    assert by_class[KAFKA + "predicates.HasHeaderKey"]["type"] == "predicate"
    assert by_class["dev.offramp.transforms.predicates.HeaderValueMatches"]["type"] == "predicate"
    assert {p["type"] for p in plugins} == {"transformation", "predicate"}
    # Installed plug-in packages add their own (module:Class) entries; 24 are built in.
    built_in = [p for p in plugins if p["type"] == "transformation" and ":" not in p["class"]]
    assert len(built_in) == 24


# --- plug-ins from entry points, and config models ----------------------------------------


def test_registered_plugins_resolve_by_alias_and_module_path() -> None:
    """A plug-in registered under an alias (as an entry point is) answers to the alias
    and to its module:Class; a built-in answers to its own module:Class too."""
    from offramp.transforms.registry import TRANSFORMATION_PLUGINS

    class Marker(Transformation):
        def apply(self, record: SinkRecord) -> SinkRecord | None:
            return record.replace(value="marked")

    TRANSFORMATION_PLUGINS.register("marker-test", Marker, version="9.9")
    path = f"{Marker.__module__}:{Marker.__qualname__}"
    assert transformation_class("marker-test") is Marker
    assert transformation_class(path) is Marker
    assert {"class": path, "type": "transformation", "version": "9.9"} in available_plugins()
    assert transformation_class("offramp.transforms.insert:InsertFieldValue") is InsertFieldValue
    chain = TransformChain.from_config({"transforms": "m", "transforms.m.type": "marker-test"})
    assert chain.apply(make_record({})).value == "marked"  # type: ignore[union-attr]


def test_a_config_model_is_validated_like_a_connector_config() -> None:
    """``config_model`` keys are read through the connector path: coerced, checked,
    unknown ones refused, each error under the full key; ``configure`` still runs."""
    from pydantic import Field

    from offramp import ConfigModel

    class StampConfig(ConfigModel):
        stamp_field: str = Field(min_length=1)
        stamp_count: int = 1

    class Stamp(Transformation):
        config_model = StampConfig
        settings: StampConfig

        def configure(self, config: ConfigReader) -> None:
            self.upper = config.boolean("upper", False)

        def apply(self, record: SinkRecord) -> SinkRecord | None:
            return record

    stamp = Stamp({"stamp.field": "s", "stamp.count": "3", "upper": "true"})
    assert (stamp.settings.stamp_field, stamp.settings.stamp_count, stamp.upper) == ("s", 3, True)
    with pytest.raises(ConfigError) as caught:
        Stamp({"stamp.count": "x", "stamp.feild": "s"}, key_prefix="transforms.st.")
    errors = dict(caught.value.errors)
    assert errors["transforms.st.stamp.field"] == "missing required configuration"
    assert "valid integer" in errors["transforms.st.stamp.count"]
    assert "did you mean 'transforms.st.stamp.field'" in errors["transforms.st.stamp.feild"]


def test_a_plugin_that_crashes_while_configuring_is_a_config_error() -> None:
    """A third-party plug-in's bug in configure is reported under its type key."""
    from offramp.transforms.registry import TRANSFORMATION_PLUGINS

    class Broken(Transformation):
        def configure(self, config: ConfigReader) -> None:
            raise RuntimeError("oops")

        def apply(self, record: SinkRecord) -> SinkRecord | None:
            return record

    TRANSFORMATION_PLUGINS.register("broken-test", Broken)
    errors = errors_of({"transforms": "b", "transforms.b.type": "broken-test"})
    assert "failed to start: RuntimeError('oops')" in errors["transforms.b.type"]
