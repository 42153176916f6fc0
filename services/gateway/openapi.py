"""One OpenAPI 3.1 document for the whole API, merged from every service's own `/openapi.json`.

Each service contributes only the paths it owns in `topology.ROUTES` (services serve their routes
at the full `/api/...` path, and the gateway forwards paths unchanged, so paths need no rewriting)
and the components those paths use. Identical components shared by several services (FastAPI's
`HTTPValidationError`, say) appear once; a name two services define differently is prefixed with
the service name in both (`orders_Order`, `marketdata_Order`), and every `$ref` and security
requirement is rewritten to match.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson

from services.common.topology import ROUTES, SERVICES, route_for

log = logging.getLogger(__name__)

Json = dict[str, Any]
ComponentKey = tuple[str, str]  # (section, name), e.g. ("schemas", "Order")

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF_PREFIX = "#/components/"
# How soon to look again when a service was missing, so it shows up soon after it starts.
_MISSING_RETRY_S = 5.0


def merge_openapi(
    documents: Mapping[str, Json],
    missing: Mapping[str, str] | None = None,
    *,
    title: str = "Tradestack API",
    version: str = "0.1.0",
) -> Json:
    """Merge service documents (service name → its OpenAPI document, in a fixed order).

    `missing` (service name → why) is reported in `info.x-tradestack-missing`.
    """
    parts = {service: _owned_part(service, document) for service, document in documents.items()}
    conflicts = _conflicting_names(parts)

    paths: Json = {}
    components: dict[str, Json] = {}
    tags: dict[str, Json] = {}
    operation_ids: set[str] = set()
    for service, part in parts.items():
        part = _renamed(part, service, conflicts)
        for path, item in part["paths"].items():
            for operation in _operations(item):
                operation_id = operation.get("operationId")
                if isinstance(operation_id, str):
                    if operation_id in operation_ids:
                        operation["operationId"] = f"{service}_{operation_id}"
                    operation_ids.add(operation["operationId"])
            for operation in _operations(item):
                _add_gateway_responses(operation)
            paths[path] = item
        for section, items in part["components"].items():
            components.setdefault(section, {}).update(items)
        for tag in part["tags"]:
            tags.setdefault(tag["name"], tag)

    info: Json = {
        "title": title,
        "version": version,
        "description": "The Tradestack trading venue: every service's API through the gateway.",
    }
    if missing:
        info["x-tradestack-missing"] = [
            {"service": service, "reason": reason} for service, reason in missing.items()
        ]
    merged: Json = {"openapi": "3.1.0", "info": info, "paths": paths}
    if components:
        merged["components"] = {
            section: dict(sorted(items.items())) for section, items in sorted(components.items())
        }
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _owned_part(service: str, document: Json) -> Json:
    """The paths `service` owns per the route table, the components they reach, and tags."""
    paths = {
        path: copy.deepcopy(item)
        for path, item in (document.get("paths") or {}).items()
        if (route := route_for(path)) is not None and route.service == service
    }
    # A document-wide security requirement moves onto each operation, since it will not be
    # document-wide any more.
    default_security = document.get("security")
    if default_security is not None:
        for item in paths.values():
            for operation in _operations(item):
                operation.setdefault("security", copy.deepcopy(default_security))

    available = document.get("components") or {}
    used: set[ComponentKey] = set()
    queue = list(_references(paths))
    while queue:
        key = queue.pop()
        if key in used:
            continue
        section, name = key
        value = (available.get(section) or {}).get(name)
        if value is None:
            continue
        used.add(key)
        queue.extend(_references(value))
    components: dict[str, Json] = {}
    for section, name in sorted(used):
        components.setdefault(section, {})[name] = copy.deepcopy(available[section][name])
    used_tags = {
        tag for item in paths.values() for op in _operations(item) for tag in op.get("tags", ())
    }
    tags = [tag for tag in document.get("tags") or () if tag.get("name") in used_tags]
    return {"paths": paths, "components": components, "tags": tags}


def _conflicting_names(parts: Mapping[str, Json]) -> set[ComponentKey]:
    """Component names that services define differently. Renaming one component changes the
    components that refer to it, so repeat until nothing new conflicts."""
    conflicts: set[ComponentKey] = set()
    while True:
        first_seen: dict[ComponentKey, Any] = {}
        found: set[ComponentKey] = set()
        for service, part in parts.items():
            renamed = _renamed(part, service, conflicts)["components"]
            for section, items in part["components"].items():
                for name in items:
                    key = (section, name)
                    if key in conflicts:
                        continue
                    value = renamed[section][name]  # refs inside it already renamed
                    if key in first_seen and first_seen[key] != value:
                        found.add(key)
                    first_seen.setdefault(key, value)
        if not found:
            return conflicts
        conflicts |= found


def _renamed(part: Json, service: str, conflicts: set[ComponentKey]) -> Json:
    """A copy of `part` with every conflicting component name prefixed by `service`."""
    if not conflicts:
        return copy.deepcopy(part)
    renames = {
        f"{_REF_PREFIX}{section}/{name}": f"{_REF_PREFIX}{section}/{service}_{name}"
        for section, name in conflicts
    }
    schemes = {
        name: f"{service}_{name}" for section, name in conflicts if section == "securitySchemes"
    }
    result = _rewrite_refs(part, renames)
    result["components"] = {
        section: {
            (f"{service}_{name}" if (section, name) in conflicts else name): value
            for name, value in items.items()
        }
        for section, items in result["components"].items()
    }
    if schemes:
        for item in result["paths"].values():
            for operation in _operations(item):
                if "security" in operation:
                    operation["security"] = [
                        {schemes.get(name, name): scopes for name, scopes in requirement.items()}
                        for requirement in operation["security"]
                    ]
    return result


def _rewrite_refs(value: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                out[key] = renames.get(item, item)
            elif key == "mapping" and isinstance(item, dict):  # discriminator mappings are refs
                out[key] = {
                    k: renames.get(v, v) if isinstance(v, str) else v for k, v in item.items()
                }
            else:
                out[key] = _rewrite_refs(item, renames)
        return out
    if isinstance(value, list):
        return [_rewrite_refs(item, renames) for item in value]
    return value


def _references(value: Any) -> Iterator[ComponentKey]:
    """Every component a piece of a document refers to: `$ref`s and security requirements."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(_REF_PREFIX):
                section, _, name = item[len(_REF_PREFIX) :].partition("/")
                yield section, name
            elif key == "mapping" and isinstance(item, dict):
                for target in item.values():
                    if isinstance(target, str) and target.startswith(_REF_PREFIX):
                        section, _, name = target[len(_REF_PREFIX) :].partition("/")
                        yield section, name
            elif key == "security" and isinstance(item, list):
                for requirement in item:
                    if isinstance(requirement, dict):
                        for scheme in requirement:
                            yield "securitySchemes", scheme
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


# What the gateway itself may answer on any forwarded operation, in the API's error shape
# (docs/gateway.md), so the document tells clients (and schemathesis) the truth. 502/504 are
# left out: the document describes a healthy venue, and a 5xx is a failure either way.
_ERROR_SCHEMA: Json = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _add_gateway_responses(operation: Json) -> None:
    responses = operation.setdefault("responses", {})
    answers = {"429": "Throttled by the gateway (see Retry-After)"}
    if "requestBody" in operation:
        answers["413"] = "Request body over the gateway's limit"
    for status, description in answers.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": copy.deepcopy(_ERROR_SCHEMA)}},
            },
        )


def _operations(path_item: Json) -> Iterator[Json]:
    for method in _HTTP_METHODS:
        operation = path_item.get(method)
        if isinstance(operation, dict):
            yield operation


class MergedOpenApi:
    """The merged document, fetched from the services and cached for `ttl_s` seconds."""

    def __init__(
        self, service_urls: Mapping[str, str], *, ttl_s: float, timeout_s: float = 2.0
    ) -> None:
        owners = {route.service for route in ROUTES}
        # Topology order, so the merged document does not depend on which service answers first.
        self.service_urls = {s.name: service_urls[s.name] for s in SERVICES if s.name in owners}
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self._document: bytes | None = None
        self._expires = 0.0

    async def document(self) -> bytes:
        """The merged document as JSON bytes, rebuilt once the cached one is older than the TTL."""
        if self._document is not None and time.monotonic() < self._expires:
            return self._document
        async with self._lock:  # one refresh at a time; waiters get its result
            if self._document is None or time.monotonic() >= self._expires:
                documents, missing = await self._fetch_all()
                self._document = orjson.dumps(merge_openapi(documents, missing))
                ttl = min(self.ttl_s, _MISSING_RETRY_S) if missing else self.ttl_s
                self._expires = time.monotonic() + ttl
            return self._document

    async def _fetch_all(self) -> tuple[dict[str, Json], dict[str, str]]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, trust_env=False)
        names = list(self.service_urls)
        results = await asyncio.gather(*(self._fetch(name) for name in names))
        documents: dict[str, Json] = {}
        missing: dict[str, str] = {}
        for name, (document, problem) in zip(names, results, strict=True):
            if document is not None:
                documents[name] = document
            else:
                missing[name] = problem
                log.warning("OpenAPI document of %s left out: %s", name, problem)
        return documents, missing

    async def _fetch(self, name: str) -> tuple[Json | None, str]:
        assert self._client is not None
        try:
            response = await self._client.get(self.service_urls[name] + "/openapi.json")
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError:
            return None, "unreachable"
        if response.status_code != 200:
            return None, f"HTTP {response.status_code}"
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return None, "not JSON"
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
            return None, "not an OpenAPI 3 document"
        return document, ""

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
