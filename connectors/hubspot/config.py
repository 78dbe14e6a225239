"""The ``hubspot`` connector's settings, one pydantic model keyed by dotted names.

Two key families hold the mapping, one key per HubSpot property or association, so each
line of a config reads as "this property comes from there":

- ``hubspot.property.<property name>`` = an expression (see ``mapping``), e.g.
  ``"hubspot.property.email": "data.caller.email | trim | lower"``;
- ``hubspot.association.<object type>.<unique property>`` = an expression naming the
  object to associate each written object with, e.g.
  ``"hubspot.association.companies.domain": "data.company_domain"``.

Expressions are compiled here, so a typo fails validation naming its key.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from offramp import ConfigModel
from offramp.connectors.hubspot.mapping import MappingSyntaxError, compile_expression

__all__ = ["HubSpotSinkConfig", "required_write_scope"]

PROPERTY_PREFIX = "hubspot.property."
ASSOCIATION_PREFIX = "hubspot.association."
MAX_BATCH = 100  # HubSpot refuses batch calls with more inputs

_STANDARD_SCOPES = {
    "contacts": "crm.objects.contacts.write",
    "companies": "crm.objects.companies.write",
    "deals": "crm.objects.deals.write",
    "tickets": "tickets",
    "line_items": "crm.objects.line_items.write",
    "products": "e-commerce",
}
_OBJECT_TYPE = re.compile(r"[a-z][a-z0-9_]*|\d+-\d+")
_PROPERTY_NAME = re.compile(r"[a-z0-9_]+", re.IGNORECASE)


def _compiles(expression: str) -> str:
    try:
        compile_expression(expression)
    except MappingSyntaxError as exc:
        raise ValueError(str(exc)) from None
    return expression


# Checked value by value, so an error is reported under its own key
# (hubspot.property.tenant) rather than under the whole family.
ExpressionText = Annotated[str, AfterValidator(_compiles)]


def required_write_scope(object_type: str) -> str:
    """The scope a token needs to write objects of this type."""
    return _STANDARD_SCOPES.get(object_type, "crm.objects.custom.write")


class HubSpotSinkConfig(ConfigModel):
    """Upserts records into a HubSpot CRM object type, by a unique property."""

    hubspot_access_token: SecretStr = Field(
        description="Private app or OAuth access token (use ${env:…} or ${file:…})"
    )
    hubspot_object_type: str = Field(
        "contacts",
        description="contacts, companies, deals, tickets, or a custom object's type id "
        "(2-1234567) or fully qualified name (p_calls)",
    )
    hubspot_id_property: str | None = Field(
        None,
        description="The unique property records are upserted by (default: email for "
        "contacts; required for other object types); it must also be mapped",
    )
    hubspot_property: dict[str, ExpressionText] = Field(
        default_factory=dict,
        alias="hubspot.property",
        description="hubspot.property.<name> = expression: where each property's value "
        "comes from; fields not mapped are not sent",
    )
    hubspot_association: dict[str, ExpressionText] = Field(
        default_factory=dict,
        alias="hubspot.association",
        description="hubspot.association.<object type>.<unique property> = expression: "
        "associate each object with the one whose unique property has that value",
    )
    hubspot_batch_size: int = Field(
        MAX_BATCH, ge=1, le=MAX_BATCH, description="Inputs per batch call (HubSpot's limit: 100)"
    )
    hubspot_base_url: str = Field(
        "https://api.hubapi.com", description="API endpoint (a sandbox or a stand-in)"
    )
    hubspot_rate_limit_per_10s: int = Field(
        190,
        ge=1,
        description="Calls per rolling 10 s this connector may make (190: Professional and "
        "Enterprise; 100: Free and Starter; 250 with the API limit increase)",
    )
    hubspot_rate_limit_daily: int = Field(
        625_000,
        ge=1,
        description="Calls per day (625000: Professional; 250000: Free and Starter; "
        "1000000: Enterprise)",
    )
    hubspot_timezone: str = Field(
        "UTC", description="The account's time zone: the daily limit resets at its midnight"
    )
    hubspot_request_timeout_ms: int = Field(
        30_000, ge=100, description="Per-call connect and read timeout"
    )
    hubspot_behavior_on_null_values: Literal["fail", "ignore"] = Field(
        "fail",
        description="A record without a value (a tombstone): fail (dead-letter it) or "
        "ignore it; HubSpot objects are never deleted by this sink",
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_families(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        plain: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        associations: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith(PROPERTY_PREFIX):
                properties[key[len(PROPERTY_PREFIX) :]] = value
            elif isinstance(key, str) and key.startswith(ASSOCIATION_PREFIX):
                associations[key[len(ASSOCIATION_PREFIX) :]] = value
            else:
                plain[key] = value
        if properties:
            plain["hubspot.property"] = {**plain.get("hubspot.property", {}), **properties}
        if associations:
            plain["hubspot.association"] = {
                **plain.get("hubspot.association", {}),
                **associations,
            }
        return plain

    @field_validator("hubspot_access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the access token is empty")
        return value

    @field_validator("hubspot_object_type")
    @classmethod
    def _object_type(cls, value: str) -> str:
        value = value.strip()
        if not _OBJECT_TYPE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an object type: use contacts, companies, deals, tickets, "
                "a custom object's type id like 2-1234567 or its name like p_calls"
            )
        return value

    @field_validator("hubspot_property")
    @classmethod
    def _properties(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _PROPERTY_NAME.fullmatch(name):
                raise ValueError(f"{PROPERTY_PREFIX}{name}: {name!r} is not a property name")
        return value

    @field_validator("hubspot_association")
    @classmethod
    def _associations(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value:
            object_type, _, id_property = spec.partition(".")
            if not (_OBJECT_TYPE.fullmatch(object_type) and _PROPERTY_NAME.fullmatch(id_property)):
                raise ValueError(
                    f"{ASSOCIATION_PREFIX}{spec}: write hubspot.association.<object type>."
                    "<unique property>, e.g. hubspot.association.companies.domain"
                )
        return value

    @field_validator("hubspot_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("hubspot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. UTC, America/New_York)"
            ) from None
        return value

    @model_validator(mode="after")
    def _id_property_is_mapped(self) -> HubSpotSinkConfig:
        if self.id_property not in self.hubspot_property:
            raise ValueError(
                f"hubspot.id.property is {self.id_property!r}, so hubspot.property."
                f"{self.id_property} must say where its value comes from"
            )
        return self

    @property
    def id_property(self) -> str:
        """The unique property to upsert by, with the contacts default applied."""
        if self.hubspot_id_property:
            return self.hubspot_id_property
        if self.hubspot_object_type in ("contacts", "0-1"):
            return "email"
        raise ValueError(
            f"hubspot.id.property is required for object type {self.hubspot_object_type!r}"
        )

    @property
    def associations(self) -> list[tuple[str, str, str]]:
        """(object type, unique property, expression) for each association."""
        out = []
        for spec, expression in self.hubspot_association.items():
            object_type, _, id_property = spec.partition(".")
            out.append((object_type, id_property, expression))
        return out
