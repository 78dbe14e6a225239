"""Config key definitions from pydantic models, in Kafka Connect's ``ConfigKeyInfo``
shape, and the ``config/validate`` answer built from them.

A field's ``description`` is its documentation; its type maps to Kafka Connect's
(``SecretStr`` → PASSWORD, ``CommaList`` → LIST, ``Literal`` → STRING with recommended
values). A plug-in may set ``Field(json_schema_extra={"importance": "LOW", "group":
"Connection"})`` to override the importance (HIGH when required, MEDIUM otherwise) or
the group (the plug-in's alias).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from offramp.config import ConnectorSettings
from offramp.errors import ConfigError
from offramp.masking import HIDDEN, mask_value
from offramp.plugin import check_errors
from offramp.registry import PluginInfo
from offramp.rest.shapes import as_config_string
from offramp.worker import Worker

__all__ = ["describe", "plugin_definitions", "validation_result"]

COMMON_GROUPS = (
    "Common",
    "Transforms",
    "Predicates",
    "Error Handling",
    "Batching",
    "Task Restarts",
)
OTHER_GROUP = "Other"


def common_group(key: str) -> str:
    """Kafka Connect's groups for the keys every connector has (plus offramp's own)."""
    if key.startswith("errors."):
        return "Error Handling"
    if key.startswith("batch."):
        return "Batching"
    if key.startswith("task."):
        return "Task Restarts"
    if key == "transforms" or key.startswith("transforms."):
        return "Transforms"
    if key == "predicates" or key.startswith("predicates."):
        return "Predicates"
    return "Common"


def _kind(annotation: Any, key: str) -> tuple[str, list[str]]:
    """Kafka Connect's type name and the recommended values for an annotation."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _kind(args[0], key) if len(args) == 1 else ("STRING", [])
    if origin is Literal:
        return "STRING", [as_config_string(v) for v in get_args(annotation)]
    if annotation is SecretStr:
        return "PASSWORD", []
    if annotation is bool:
        return "BOOLEAN", ["true", "false"]
    if annotation is int:
        return ("LONG" if key.endswith(".ms") or key.endswith("bytes") else "INT"), []
    if annotation is float:
        return "DOUBLE", []
    if origin in (list, tuple, set, frozenset) or annotation is list:
        return "LIST", []
    return "STRING", []


def _default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return HIDDEN
    return as_config_string(value)


def describe(model: type[BaseModel], group_for: Callable[[str], str]) -> list[dict[str, Any]]:
    """One ``ConfigKeyInfo`` per field of ``model``, with ``recommended_values`` kept
    aside under ``_recommended`` for the validate answer."""
    out = []
    for order, (name, info) in enumerate(model.model_fields.items(), start=1):
        key = info.alias or name
        kind, recommended = _kind(info.annotation, key)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        required = info.is_required()
        out.append(
            {
                "name": key,
                "type": kind,
                "required": required,
                "default_value": None
                if required
                else _default(info.get_default(call_default_factory=True)),
                "importance": str(extra.get("importance") or ("HIGH" if required else "MEDIUM")),
                "documentation": info.description or "",
                "group": str(extra.get("group") or group_for(key)),
                "width": "NONE",
                "display_name": key,
                "dependents": [],
                "order": order,
                "_recommended": recommended,
            }
        )
    return out


def _public(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if not k.startswith("_")}


def plugin_definitions(plugin: PluginInfo) -> list[dict[str, Any]]:
    """``GET /connector-plugins/{p}/config``: the plug-in's own keys, as Kafka Connect
    answers (the keys every connector has are in ``config/validate``)."""
    return [_public(d) for d in describe(plugin.connector.config_model, lambda _: plugin.alias)]


def _synthetic(key: str, order: int) -> dict[str, Any]:
    """A definition for a key outside the models (``transforms.x.type``, converter and
    consumer overrides), so its value and errors have a place in the answer."""
    group = common_group(key)
    return {
        "name": key,
        "type": "STRING",
        "required": False,
        "default_value": None,
        "importance": "LOW",
        "documentation": "",
        "group": group if group != "Common" or "." not in key else OTHER_GROUP,
        "width": "NONE",
        "display_name": key,
        "dependents": [],
        "order": order,
        "_recommended": [],
    }


def validation_result(
    worker: Worker, plugin: PluginInfo, raw: Mapping[str, Any], check: bool = False
) -> dict[str, Any]:
    """``PUT /connector-plugins/{p}/config/validate``: the same validation as create and
    update, every error under its key, every given value (secrets masked). With
    ``check``, a config without errors is also given to the plug-in's ``check()``: what
    it found is the answer's ``check``, its failure an error under the key it names."""
    name = str(raw.get("name") or "")
    errors: list[tuple[str, str]] = []
    found: str | None = None
    try:
        config = worker.validate(name, raw)
    except ConfigError as exc:
        errors = exc.errors
    else:
        if check:
            text, errors = check_errors(config.plugin.connector(), config.plugin_config, raw)
            found = None if errors else text
    by_key: dict[str, list[str]] = {}
    for key, reason in errors:
        by_key.setdefault(key, []).append(reason)
    model = plugin.connector.config_model
    definitions = describe(ConnectorSettings, common_group) + describe(
        model, lambda _: plugin.alias
    )
    known = {d["name"] for d in definitions}
    extra = sorted((set(raw) | set(by_key)) - known)
    definitions += [_synthetic(key, len(definitions) + i + 1) for i, key in enumerate(extra)]
    configs = []
    for definition in definitions:
        key = definition["name"]
        value = mask_value(key, raw.get(key), model)
        configs.append(
            {
                "definition": _public(definition),
                "value": {
                    "name": key,
                    "value": None if value is None else as_config_string(value),
                    "recommended_values": definition["_recommended"],
                    "errors": by_key.get(key, []),
                    "visible": True,
                },
            }
        )
    present = {d["group"] for d in definitions}
    groups = [g for g in COMMON_GROUPS if g in present]
    groups += sorted(present - set(COMMON_GROUPS) - {OTHER_GROUP})
    groups += [OTHER_GROUP] if OTHER_GROUP in present else []
    result: dict[str, Any] = {
        "name": plugin.class_name,
        "error_count": len(errors),
        "groups": groups,
        "configs": configs,
    }
    if check:
        result["check"] = found  # None when it failed or did not run; secrets: layer 3
    return result
