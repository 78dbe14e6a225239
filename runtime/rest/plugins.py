"""``/connector-plugins``: what is installed, each connector's config definitions, and
``config/validate``."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from offramp.converters import CONVERTER_PLUGINS
from offramp.errors import ConfigError
from offramp.registry import PluginInfo, PluginRegistry
from offramp.rest.definitions import plugin_definitions, validation_result
from offramp.rest.deps import WorkerDep
from offramp.rest.errors import ApiError
from offramp.rest.models import (
    ConfigKeyInfo,
    ConfigValue,
    ErrorBody,
    PluginInfoBody,
    ValidationResult,
)
from offramp.rest.responses import JSONBody
from offramp.rest.shapes import as_config_string
from offramp.transforms.registry import available_plugins

__all__ = ["find_plugin", "loadable_plugins", "router"]

log = logging.getLogger("offramp.rest")

router = APIRouter(tags=["plugins"])


def loadable_plugins(registry: PluginRegistry) -> list[PluginInfo]:
    """Every connector plug-in that loads; one that doesn't is logged (once) and left
    out, so a broken third-party package can't take the listing down."""
    plugins = registry.plugins()
    for alias, reason in registry.broken.items():
        if alias not in _reported:
            _reported.add(alias)
            log.warning("connector plug-in %r does not load: %s", alias, reason)
    return plugins


_reported: set[str] = set()


def find_plugin(registry: PluginRegistry, name: str) -> PluginInfo:
    """By alias, ``module:Class``, or the bare class name Kafka Connect users type."""
    try:
        return registry.get(name)
    except ConfigError:
        pass
    for info in loadable_plugins(registry):
        if info.class_name.rpartition(":")[2] == name:
            return info
    raise ApiError(404, f"Failed to find any connector plug-in named {name!r}")


@router.get("/connector-plugins", responses={200: {"model": list[PluginInfoBody]}})
def list_plugins(
    worker: WorkerDep,
    connectors_only: Annotated[bool, Query(alias="connectorsOnly")] = True,
) -> Response:
    plugins = loadable_plugins(worker.registry)
    entries: list[dict[str, str]] = [
        {"class": p.class_name, "type": "sink", "version": p.version} for p in plugins
    ]
    if not connectors_only:
        # Kafka Connect's order: connectors, converters, transformations, predicates.
        entries += sorted(CONVERTER_PLUGINS.listing(), key=lambda entry: entry["class"])
        entries += [e for e in available_plugins() if e["type"] == "transformation"]
        entries += [e for e in available_plugins() if e["type"] == "predicate"]
    return JSONBody(entries)


@router.get(
    "/connector-plugins/{plugin}/config",
    responses={200: {"model": list[ConfigKeyInfo]}, 404: {"model": ErrorBody}},
)
def plugin_config(plugin: str, worker: WorkerDep) -> Response:
    info = find_plugin(worker.registry, plugin)
    return JSONBody(plugin_definitions(info))


@router.put(
    "/connector-plugins/{plugin}/config/validate",
    responses={
        200: {"model": ValidationResult, "description": "Even when the config has errors"},
        400: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
)
def validate_config(
    plugin: str,
    worker: WorkerDep,
    config: Annotated[dict[str, ConfigValue], Body()],
    check: Annotated[
        bool,
        Query(
            description="offramp: also run the plug-in's check() on a valid config "
            "(its failure is an error under the key it names, else connector.class)"
        ),
    ] = False,
) -> Response:
    info = find_plugin(worker.registry, plugin)
    raw: dict[str, Any] = {k: as_config_string(v) for k, v in config.items()}
    given = raw.get("connector.class")
    if given is None:
        raw["connector.class"] = info.alias
    else:
        try:
            named = find_plugin(worker.registry, given)
        except ApiError:
            named = None  # validation reports the unknown class under its key
        if named is not None and named.class_name != info.class_name:
            raise ApiError(
                400,
                f"Included connector type {given} does not match request type {plugin}",
            )
    return JSONBody(validation_result(worker, info, raw, check))
