"""The hubspot sink's config: key families, defaults, and errors that name their key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from offramp import ConfigError
from offramp.config import load_worker_config, validate_connector
from offramp.connectors.hubspot import HubSpotSinkConfig, HubSpotSinkConnector
from offramp.registry import PluginRegistry

BASE = {
    "hubspot.access.token": "pat-na1-secret",
    "hubspot.property.email": "data.caller.email | lower",
}


def _config(**extra: Any) -> HubSpotSinkConfig:
    return HubSpotSinkConfig.model_validate({**BASE, **extra})


def test_property_and_association_keys_are_gathered_per_name() -> None:
    """hubspot.property.<name> and hubspot.association.<type>.<prop> keys form the mapping."""
    config = _config(
        **{
            "hubspot.property.tenant": "data.tenant",
            "hubspot.association.companies.domain": "data.domain",
        }
    )
    assert config.hubspot_property == {
        "email": "data.caller.email | lower",
        "tenant": "data.tenant",
    }
    assert config.associations == [("companies", "domain", "data.domain")]


def test_defaults_fit_a_professional_portal_writing_contacts() -> None:
    """Contacts by email, 100 inputs per call, 190 calls per 10 s, 625,000 a day, UTC."""
    config = _config()
    assert config.hubspot_object_type == "contacts"
    assert config.id_property == "email"
    assert config.hubspot_batch_size == 100
    assert config.hubspot_rate_limit_per_10s == 190
    assert config.hubspot_rate_limit_daily == 625_000
    assert config.hubspot_timezone == "UTC"
    assert config.hubspot_base_url == "https://api.hubapi.com"


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"hubspot.batch.size": "101"}, "less than or equal to 100"),
        ({"hubspot.timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"hubspot.object.type": "Contacts!"}, "not an object type"),
        ({"hubspot.property.tenant": "data.tenant | shout"}, "unknown format 'shout'"),
        ({"hubspot.id.property": "call_id"}, "hubspot.property.call_id must say"),
        ({"hubspot.object.type": "p_calls"}, "required for object type 'p_calls'"),
        ({"hubspot.association.companies": "data.x"}, "hubspot.association.<object type>"),
        ({"hubspot.base.url": "api.hubapi.com"}, "not an http"),
        ({"hubspot.access.token": "  "}, "empty"),
        ({"hubspot.rate.limit.per.10s": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(extra: dict[str, str], complaint: str) -> None:
    """Each bad setting fails validation with a message saying what is wrong."""
    with pytest.raises(ValidationError, match=complaint):
        _config(**extra)


def test_custom_objects_upsert_by_their_own_unique_property() -> None:
    """A custom object type takes its id property from the config."""
    config = HubSpotSinkConfig.model_validate(
        {
            "hubspot.access.token": "t",
            "hubspot.object.type": "2-90001",
            "hubspot.id.property": "call_id",
            "hubspot.property.call_id": "data.call_id",
        }
    )
    assert config.id_property == "call_id"


def test_the_runtime_reports_errors_by_key_and_masks_the_token() -> None:
    """Validated through the runtime, an unknown key is named and the token is a secret."""
    registry = PluginRegistry(load_entry_points=False)
    registry.register("hubspot", HubSpotSinkConnector)
    worker = load_worker_config({}, environ={})
    raw = {"connector.class": "hubspot", "topics": "calls", **BASE}
    config = validate_connector("crm", raw, worker, registry)
    assert "pat-na1-secret" not in repr(config.plugin_config)
    with pytest.raises(ConfigError) as refused:
        validate_connector(
            "crm",
            {**raw, "hubspot.batch.sise": "10", "hubspot.property.tier": "data.tier | shout"},
            worker,
            registry,
        )
    errors = dict(refused.value.errors)
    assert errors["hubspot.batch.sise"] == "unknown configuration key"
    assert "unknown format 'shout'" in errors["hubspot.property.tier"]
