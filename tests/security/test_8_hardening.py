"""Hardening: malformed and deeply nested bodies are 400s everywhere, every error log line names its request,
policy dates stay in a sane range."""

from __future__ import annotations

import io
import json
import logging
import uuid

import httpx
import pytest
from fastapi import APIRouter

from devstack.embedded import free_port
from services.gateway.settings import GatewaySettings
from shared.logs import JsonFormatter
from shared.web import create_service_app
from tests.support import assert_problem, fresh_database

DEEP = ("[" * 1000 + "]" * 1000).encode()
MALFORMED = {"deep": DEEP, "deep object": ('{"a":' * 1000 + "1" + "}" * 1000).encode(),
             "deep with NUL": ("[" * 1000 + '"\\u0000"' + "]" * 1000).encode(),
             "truncated": b'[{"name": "x"', "not UTF-8": b'{"name": "\xff\xfe"}', "mismatched": b"[" * 2000 + b"}"}


def _json_operations(spec: dict) -> list[tuple[str, str]]:
    """(method, path) of every operation of the merged description that takes a JSON body, ids filled in."""
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "application/json" in operation.get("requestBody", {}).get(
                    "content", {}):
                concrete = "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))
                found.append((method.upper(), concrete))
    return found


def test_malformed_and_deep_json_is_400_on_every_json_endpoint(suite):
    admin = suite.admin()
    operations = _json_operations(admin.get("/openapi.json"))
    services = {path.split("/")[1] for _, path in operations}
    assert {"registry", "subsidy", "projects", "auth"} <= services, services
    assert ("POST", "/registry/v1/workers/import") in operations
    seen: dict[str, list[str]] = {}
    for method, path in operations:
        for name, body in MALFORMED.items():
            response = admin.http.request(method, path, content=body, headers={"Content-Type": "application/json"})
            problem = assert_problem(response, 400)
            assert problem["request_id"] == response.headers["x-request-id"], (method, path, name)
            seen.setdefault(path.split("/")[1], []).append(response.headers["x-request-id"])
    # The service that answered logged the request under the id the caller was given.
    for service in ("registry", "subsidy", "projects"):
        log = (suite.state / "logs" / f"{service}.log").read_text(encoding="utf-8", errors="replace")
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        ids = {line.get("request_id") for line in lines if line.get("status") == 400}
        assert set(seen[service]) <= ids, service


@pytest.mark.parametrize("field,value", [("effective_from", "0009-01-01"), ("certificates_from", "6015-02-12"),
                                         ("effective_to", "2101-01-01"), ("certificates_from", "1999-12-31")])
def test_policy_versions_refuse_dates_outside_2000_to_2100(suite, field, value):
    admin = suite.admin()
    body = {"effective_from": "2027-01-01", field: value}
    response = admin.http.post("/subsidy/v1/policies/otog-talent-subsidy/versions", json=body)
    problem = assert_problem(response, 422)
    assert problem["field"] == field, problem
    patch = admin.http.patch("/subsidy/v1/policies/otog-talent-subsidy/versions/1", json={field: value})
    assert assert_problem(patch, 422)["field"] == field
    policies = admin.get("/subsidy/v1/policies")["items"]
    assert all(p[field] != value for p in policies if field in p)


router = APIRouter()


@router.post("/v1/boom")
async def boom() -> dict:
    raise RuntimeError("a bug")


async def test_an_unhandled_error_is_logged_and_answered_with_the_request_id(pg, mint):
    settings = GatewaySettings(database_url=await fresh_database(pg, "gateway"), env="test", run_relay=False,
                               kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", auth_jwks_json=mint.jwks_json)
    app = create_service_app(settings=settings, title="t", routers=[router], configure_logs=False)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("t"))  # formats as the record is emitted, like the services' logs
    logging.getLogger().addHandler(handler)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post("/v1/boom", headers={"X-Request-ID": "boom-123"})
                deep = await client.post("/v1/boom", content=DEEP, headers={"Content-Type": "application/json"})
    finally:
        logging.getLogger().removeHandler(handler)
    problem = assert_problem(response, 500)
    assert problem["request_id"] == "boom-123" and response.headers["x-request-id"] == "boom-123"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert errors and all(line["request_id"] == "boom-123" for line in errors), errors
    assert "RuntimeError: a bug" in errors[0]["exception"]
    assert_problem(deep, 400, field="body")  # refused before the handler: no 500 for it

