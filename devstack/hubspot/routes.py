"""What each HubSpot path does: bearer tokens and their scopes, ``/account-info`` and
``/oauth`` (what a connector's ``check`` calls), and the ``/crm`` objects and
associations, with the per-input failures a test injects (``fail_when``,
``reject_when``). Every route ends by raising its ``Answer``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from devstack.hubspot.answers import Answer, error, now_iso
from devstack.hubspot.store import ObjectType, Store, StoredObject, public, resolve_type

__all__ = ["MAX_INPUTS", "Portal"]

MAX_INPUTS = 100


@dataclass
class Portal:
    """One portal's tokens, settings, injected failures and data. Callers hold the stub's
    lock; tests change the fields between calls."""

    tokens: dict[str, frozenset[str]]
    fail_when: dict[str, re.Pattern[str]] = field(default_factory=dict)
    reject_when: dict[str, re.Pattern[str]] = field(default_factory=dict)
    portal_id: int = 90210
    time_zone: str = "UTC"
    store: Store = field(default_factory=Store)

    def authenticate(self, headers: Mapping[str, str]) -> frozenset[str]:
        """The scopes of the request's bearer token; a 401 for an unknown one."""
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        scopes = self.tokens.get(token)
        if scopes is None:
            raise error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        return scopes

    # ----- /account-info and /oauth ------------------------------------------------------

    def serve_account(self, method: str, path: str, data: Any) -> None:
        if method == "GET" and path == "/account-info/v3/details":
            raise Answer(
                200,
                {
                    "portalId": self.portal_id,
                    "accountType": "STANDARD",
                    "timeZone": self.time_zone,
                    "companyCurrency": "USD",
                    "additionalCurrencies": [],
                    "utcOffset": "+00:00",
                    "utcOffsetMilliseconds": 0,
                    "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1",
                },
            )
        token_path = re.fullmatch(r"/oauth/v1/access-tokens/(.+)", path)
        if method == "GET" and token_path:
            token = unquote(token_path.group(1))
            if token not in self.tokens:
                raise error(404, "The access token was not found", "OBJECT_NOT_FOUND")
            raise Answer(
                200,
                {
                    "token": token,
                    "user": "dev@example.com",
                    "hub_domain": "dev-portal.example.com",
                    "scopes": sorted(self.tokens[token]),
                    "hub_id": self.portal_id,
                    "app_id": 4242,
                    "expires_in": 1800,
                    "user_id": 7,
                    "token_type": "access",
                },
            )
        if method == "POST" and path == "/oauth/v2/private-apps/get/access-token-info":
            token = data.get("tokenKey", "") if isinstance(data, dict) else ""
            if token not in self.tokens:
                raise error(404, "The access token was not found", "OBJECT_NOT_FOUND")
            raise Answer(
                200,
                {
                    "userId": 7,
                    "hubId": self.portal_id,
                    "appId": 4242,
                    "scopes": sorted(self.tokens[token]),
                },
            )
        raise error(404, f"No route for {method} {path}", "OBJECT_NOT_FOUND")

    # ----- /crm -------------------------------------------------------------------------

    def serve_crm(
        self, method: str, path: str, query: dict[str, str], data: Any, scopes: frozenset[str]
    ) -> None:
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/batch/(upsert|create|read)", path)
        if m and method == "POST":
            otype = _type_or_400(m.group(1))
            action = m.group(2)
            _require_scope(scopes, otype, "read" if action == "read" else "write")
            inputs = _inputs(data)
            if action == "upsert":
                self._upsert(otype, inputs)
            if action == "create":
                self._create(otype, inputs)
            self._read(otype, inputs, data)
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/([^/]+)", path)
        if m and method == "GET":
            otype = _type_or_400(m.group(1))
            _require_scope(scopes, otype, "read")
            prop = query.get("idProperty", "hs_object_id")
            obj = self.store.find(otype, prop, unquote(m.group(2)))
            if obj is None:
                raise error(404, "Object not found", "OBJECT_NOT_FOUND")
            raise Answer(200, public(obj))
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)", path)
        if m and method == "GET":
            otype = _type_or_400(m.group(1))
            _require_scope(scopes, otype, "read")
            self._page(otype, query)
        m = re.fullmatch(r"/crm/v4/associations/([^/]+)/([^/]+)/batch/associate/default", path)
        if m and method == "POST":
            from_type, to_type = _type_or_400(m.group(1)), _type_or_400(m.group(2))
            _require_scope(scopes, from_type, "write")
            self._associate(from_type, to_type, _inputs(data))
        m = re.fullmatch(r"/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)", path)
        if m and method == "GET":
            from_type, to_type = _type_or_400(m.group(1)), _type_or_400(m.group(3))
            _require_scope(scopes, from_type, "read")
            ids = self.store.associations.get((from_type.name, m.group(2), to_type.name), set())
            raise Answer(
                200,
                {
                    "results": [
                        {
                            "toObjectId": int(i),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}
                            ],
                        }
                        for i in sorted(ids)
                    ]
                },
            )
        raise error(404, f"No route for {method} {path}", "OBJECT_NOT_FOUND")

    def _upsert(self, otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
        id_props = {str(i.get("idProperty") or "") for i in inputs}
        for prop in id_props:
            if prop not in otype.unique_properties:
                raise error(
                    400,
                    f"Property '{prop}' is not a unique property of {otype.name}; idProperty "
                    "must name a property whose values are unique",
                    "VALIDATION_ERROR",
                )
        seen: dict[str, str] = {}
        duplicates = []
        for i in inputs:
            key = Store.normalize(str(i["idProperty"]), str(i.get("id", "")))
            if key in seen:
                duplicates.append(str(i.get("id")))
            seen[key] = str(i.get("id"))
        if duplicates:
            raise error(
                400,
                f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                "VALIDATION_ERROR",
            )
        self._reject_invalid(inputs)
        results, errors = [], []
        stamp = now_iso()
        for i in inputs:
            props = {k: _as_text(v) for k, v in (i.get("properties") or {}).items()}
            prop, value = str(i["idProperty"]), str(i.get("id", ""))
            failed = self._injected_failure(i, props, value)
            if failed is not None:
                errors.append(failed)
                continue
            obj = self.store.find(otype, prop, value)
            new = obj is None
            if obj is None:
                hs_id = self.store.new_id()
                obj = StoredObject(
                    hs_id, {"hs_object_id": hs_id, "createdate": stamp}, stamp, stamp
                )
                props.setdefault(prop, value.strip().lower() if prop == "email" else value)
            obj.properties.update(props)
            obj.properties[prop] = obj.properties.get(prop) or value
            obj.properties["lastmodifieddate"] = stamp
            obj.updated = stamp
            self.store.save(otype, obj)
            results.append({**public(obj), "new": new, **_trace(i)})
        _batch_answer(results, errors, stamp)

    def _create(self, otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
        self._reject_invalid(inputs)
        results, errors = [], []
        stamp = now_iso()
        for i in inputs:
            props = {k: _as_text(v) for k, v in (i.get("properties") or {}).items()}
            failed = self._injected_failure(i, props, "")
            if failed is not None:
                errors.append(failed)
                continue
            clash = next(
                (
                    existing
                    for p in otype.unique_properties
                    if p in props and (existing := self.store.find(otype, p, props[p]))
                ),
                None,
            )
            if clash is not None:
                errors.append(
                    {
                        "status": "error",
                        "category": "CONFLICT",
                        "message": f"Object already exists. Existing ID: {clash.id}",
                        "context": _context(i, ""),
                    }
                )
                continue
            hs_id = self.store.new_id()
            obj = StoredObject(hs_id, {"hs_object_id": hs_id, "createdate": stamp}, stamp, stamp)
            obj.properties.update(props)
            obj.properties["lastmodifieddate"] = stamp
            self.store.save(otype, obj)
            results.append({**public(obj), **_trace(i)})
        _batch_answer(results, errors, stamp, created=True)

    def _read(self, otype: ObjectType, inputs: list[dict[str, Any]], data: Any) -> None:
        prop = str(data.get("idProperty") or "hs_object_id")
        wanted = data.get("properties") or None
        results, missing = [], []
        for i in inputs:
            obj = self.store.find(otype, prop, str(i.get("id", "")))
            if obj is None:
                missing.append(str(i.get("id", "")))
                continue
            shown = public(obj)
            if wanted:
                shown["properties"] = {
                    k: v for k, v in obj.properties.items() if k in wanted or k == "hs_object_id"
                }
            results.append(shown)
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {otype.name} objects, they may be deleted "
                    "or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            )
        _batch_answer(results, errors, now_iso())

    def _page(self, otype: ObjectType, query: dict[str, str]) -> None:
        limit = min(100, int(query.get("limit", "10")))
        after = int(query.get("after", "0"))
        everything = sorted(self.store.objects[otype.name].values(), key=lambda o: int(o.id))
        page = [o for o in everything if int(o.id) > after][:limit]
        body: dict[str, Any] = {"results": [public(o) for o in page]}
        if page and int(page[-1].id) < int(everything[-1].id):
            body["paging"] = {"next": {"after": page[-1].id}}
        raise Answer(200, body)

    def _associate(
        self, from_type: ObjectType, to_type: ObjectType, inputs: list[dict[str, Any]]
    ) -> None:
        results, errors = [], []
        for i in inputs:
            from_id = str((i.get("from") or {}).get("id", ""))
            to_id = str((i.get("to") or {}).get("id", ""))
            if from_id not in self.store.objects[from_type.name]:
                missing, kind = from_id, from_type
            elif to_id not in self.store.objects[to_type.name]:
                missing, kind = to_id, to_type
            else:
                self.store.associate(from_type, from_id, to_type, to_id)
                results.append(
                    {
                        "from": {"id": from_id},
                        "to": {"id": to_id},
                        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "typeId": 1},
                    }
                )
                continue
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"No {kind.name} object with id {missing}",
                    "context": {"fromObjectId": [from_id], "toObjectId": [to_id]},
                }
            )
        _batch_answer(results, errors, now_iso())

    def _reject_invalid(self, inputs: list[dict[str, Any]]) -> None:
        """A whole-batch 400 like HubSpot's "Property values were not valid"."""
        for i in inputs:
            for prop, pattern in self.reject_when.items():
                value = _as_text((i.get("properties") or {}).get(prop, ""))
                if pattern.search(value):
                    detail = orjson.dumps(
                        [
                            {
                                "isValid": False,
                                "message": f"{value!r} is not a valid value for {prop}",
                                "error": "INVALID_OPTION",
                                "name": prop,
                            }
                        ]
                    ).decode()
                    raise error(
                        400, f"Property values were not valid: {detail}", "VALIDATION_ERROR"
                    )

    def _injected_failure(
        self, given: dict[str, Any], props: dict[str, str], id_value: str
    ) -> dict[str, Any] | None:
        for prop, pattern in self.fail_when.items():
            value = props.get(prop, id_value if prop == given.get("idProperty") else "")
            if pattern.search(value):
                return {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"Property values were not valid: {prop}={value!r} is rejected",
                    "context": _context(given, id_value),
                }
        return None


def _batch_answer(
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    started: str,
    created: bool = False,
) -> None:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = [{**e, "links": {}, "errors": []} for e in errors]
        raise Answer(207, body)
    raise Answer(201 if created else 200, body)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _trace(given: dict[str, Any]) -> dict[str, str]:
    trace = given.get("objectWriteTraceId")
    return {"objectWriteTraceId": str(trace)} if trace is not None else {}


def _context(given: dict[str, Any], id_value: str) -> dict[str, list[str]]:
    trace = given.get("objectWriteTraceId")
    if trace is not None:
        return {"objectWriteTraceId": [str(trace)]}
    return {"ids": [id_value]}


def _type_or_400(name: str) -> ObjectType:
    try:
        return resolve_type(unquote(name))
    except KeyError:
        raise error(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR") from None


def _require_scope(scopes: frozenset[str], otype: ObjectType, mode: str) -> None:
    needed = f"crm.objects.{otype.scope}.{mode}"
    if needed not in scopes:
        raise error(
            403,
            "This app hasn't been granted all required scopes to make this call. Read more "
            "about required scopes here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [needed]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )


def _inputs(data: Any) -> list[dict[str, Any]]:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise error(
            400, "Invalid input JSON: 'inputs' must be a list of objects", "VALIDATION_ERROR"
        )
    if len(inputs) > MAX_INPUTS:
        raise error(
            400,
            f"Batch input length must be less than or equal to {MAX_INPUTS}; got {len(inputs)}",
            "VALIDATION_ERROR",
        )
    return inputs
