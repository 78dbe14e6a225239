"""The stand-in's portal data: its object types, and the objects of each with an index
per unique property and the associations between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_SCOPES",
    "OBJECT_TYPES",
    "ObjectType",
    "Store",
    "StoredObject",
    "public",
    "resolve_type",
]


@dataclass(frozen=True)
class ObjectType:
    name: str
    type_id: str
    unique_properties: tuple[str, ...]
    scope: str  # crm.objects.<scope>.read / .write
    aliases: tuple[str, ...] = ()


OBJECT_TYPES = (
    ObjectType("contacts", "0-1", ("email",), "contacts", ("contact",)),
    ObjectType("companies", "0-2", ("domain",), "companies", ("company",)),
    ObjectType("deals", "0-3", (), "deals", ("deal",)),
    ObjectType("p_calls", "2-90001", ("call_id",), "custom", ("calls_log",)),
)

ALL_SCOPES = frozenset(
    f"crm.objects.{t.scope}.{mode}" for t in OBJECT_TYPES for mode in ("read", "write")
)


def resolve_type(name: str) -> ObjectType:
    """An object type by its name, type id (``0-1``) or alias (``contact``)."""
    for t in OBJECT_TYPES:
        if name in (t.name, t.type_id, *t.aliases):
            return t
    raise KeyError(f"the stand-in has no object type {name!r}")


@dataclass
class StoredObject:
    id: str
    properties: dict[str, str]
    created: str
    updated: str


def public(obj: StoredObject) -> dict[str, Any]:
    """An object as HubSpot's API shows it."""
    return {
        "id": obj.id,
        "properties": dict(obj.properties),
        "createdAt": obj.created,
        "updatedAt": obj.updated,
        "archived": False,
    }


class Store:
    """Objects by type, with an index per unique property. Callers hold the stub's lock."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, StoredObject]] = {t.name: {} for t in OBJECT_TYPES}
        self.index: dict[tuple[str, str], dict[str, str]] = {}
        self.associations: dict[tuple[str, str, str], set[str]] = {}
        self._next_id = 1000

    @staticmethod
    def normalize(prop: str, value: str) -> str:
        return value.strip().lower() if prop == "email" else value

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def find(self, otype: ObjectType, prop: str, value: str) -> StoredObject | None:
        if prop == "hs_object_id":
            return self.objects[otype.name].get(value)
        hs_id = self.index.get((otype.name, prop), {}).get(self.normalize(prop, value))
        return None if hs_id is None else self.objects[otype.name][hs_id]

    def save(self, otype: ObjectType, obj: StoredObject) -> None:
        self.objects[otype.name][obj.id] = obj
        for prop in otype.unique_properties:
            if prop in obj.properties:
                key = self.normalize(prop, obj.properties[prop])
                self.index.setdefault((otype.name, prop), {})[key] = obj.id

    def associate(
        self, from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str
    ) -> None:
        """Both ways, as HubSpot's default association is."""
        self.associations.setdefault((from_type.name, from_id, to_type.name), set()).add(to_id)
        self.associations.setdefault((to_type.name, to_id, from_type.name), set()).add(from_id)
