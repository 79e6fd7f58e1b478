"""One API description: the gateway's own OpenAPI merged with every service's, under its prefix."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from services.gateway.proxy.upstream import Upstream

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Components every service takes from `shared` (errors, auth): the merged description has one copy of each,
# under its own name, and every service's references point at it.
SHARED_COMPONENTS = {"schemas": {"Problem"}, "securitySchemes": {"OAuth2"}}


def _rewrite_refs(node: Any, service: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, section, name = value.split("/", 3)
                if name not in SHARED_COMPONENTS.get(section, ()):
                    value = f"#/components/{section}/{service}_{name}"
                out[key] = value
            else:
                out[key] = _rewrite_refs(value, service)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, service) for v in node]
    return node


def prefix_spec(service: str, spec: dict) -> tuple[dict, dict]:
    """Paths under /<service>, component names `<service>_<Name>` (refs rewritten), operationIds prefixed.

    Shared components keep their names. Schema titles are set to the component's name: client generators name
    their classes by title, and every service has its own `Approval` or `WorkerRead`.
    """
    spec = _rewrite_refs(copy.deepcopy(spec), service)
    paths = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                if "operationId" in operation:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
                operation["tags"] = [f"{service}: {t}" for t in operation.get("tags", [])] or [service]
        paths[f"/{service}{path}"] = item
    components: dict[str, dict] = {}
    for section, entries in spec.get("components", {}).items():
        shared = SHARED_COMPONENTS.get(section, set())
        components[section] = {
            (name if name in shared else f"{service}_{name}"): value for name, value in entries.items()}
    return paths, components


def _titled(schemas: dict) -> None:
    for name, schema in schemas.items():
        if isinstance(schema, dict) and "$ref" not in schema:
            schema["title"] = name


def merge(own: dict, upstream_specs: dict[str, dict | None]) -> dict:
    merged = copy.deepcopy(own)
    merged["info"] = {**merged.get("info", {}), "title": "Social-work platform API"}
    merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    missing = []
    for service, spec in upstream_specs.items():
        if spec is None:
            missing.append(service)
            continue
        paths, comps = prefix_spec(service, spec)
        merged["paths"].update(paths)
        for section, entries in comps.items():
            target = components.setdefault(section, {})
            for name, value in entries.items():
                target.setdefault(name, value)  # a shared component: the first copy (they are the same code)
    _titled(components.get("schemas", {}))
    if missing:
        merged["info"]["x-unavailable-services"] = missing
    return merged


class MergedOpenAPI:
    """Fetches the services' descriptions through the pooled clients and keeps the merge for a while."""

    def __init__(self, *, ttl: float):
        self.ttl = ttl
        self._cached: dict | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    @staticmethod
    async def _fetch(upstream: Upstream) -> dict | None:
        status, spec = await upstream.get_json("/openapi.json", timeout=5.0)
        return spec if status == 200 and isinstance(spec, dict) else None

    async def get(self, own: dict, upstreams: dict) -> dict:
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._at < self.ttl:
                return self._cached
            names = list(upstreams)
            specs = await asyncio.gather(*(self._fetch(upstreams[n]) for n in names))
            merged = merge(own, dict(zip(names, specs, strict=True)))
            # An incomplete description is not kept long: the missing service may just be starting.
            self._cached, self._at = merged, time.monotonic() - (self.ttl - 5 if None in specs else 0)
            return merged
