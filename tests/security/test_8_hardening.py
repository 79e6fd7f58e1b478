"""Hardening: malformed and deeply nested bodies are 400s everywhere, every error log line names its request,
policy dates stay in a sane range, PostgreSQL asks for a password, signing keys are sealed at rest."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import secrets
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter

from devstack.embedded import EmbeddedPostgres, free_port
from services.gateway.app import create_app
from services.gateway.identity.keys import KeyCipher, SigningKeyUnreadable
from services.gateway.settings import GatewaySettings
from shared.logs import JsonFormatter
from shared.web import create_service_app
from tests.support import assert_problem, fresh_database, running_app

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


def _send(http: httpx.Client, method: str, path: str, body: bytes) -> httpx.Response:
    """One request, repeated after the wait a 429 of the gateway's rate limit asks for (hundreds are sent)."""
    for _ in range(20):
        response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))
    return response


def test_malformed_and_deep_json_is_400_on_every_json_endpoint(suite):
    admin = suite.admin()
    operations = _json_operations(admin.get("/openapi.json"))
    services = {path.split("/")[1] for _, path in operations}
    assert {"registry", "subsidy", "projects", "auth"} <= services, services
    assert ("POST", "/registry/v1/workers/import") in operations
    seen: dict[str, list[str]] = {}
    for method, path in operations:
        for name, body in MALFORMED.items():
            response = _send(admin.http, method, path, body)
            problem = assert_problem(response, 400)
            assert problem["request_id"] == response.headers["x-request-id"], (method, path, name)
            seen.setdefault(path.split("/")[1], []).append(response.headers["x-request-id"])
    # The service that answered logged the request under the id the caller was given (the line is written once
    # the answer is sent: the last ones may take a moment).
    for service in ("registry", "subsidy", "projects"):
        deadline = time.monotonic() + 30
        while True:
            log = (suite.state / "logs" / f"{service}.log").read_text(encoding="utf-8", errors="replace")
            lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
            missing = set(seen[service]) - {line.get("request_id") for line in lines if line.get("status") == 400}
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not missing, (service, missing)


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



# --- the embedded PostgreSQL asks every connection for its password ------------------------------------------

async def _refused(**connect) -> str:
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)) as refused:
        conn = await asyncpg.connect(passfile="/nonexistent", **connect)
        await conn.close()
    return str(refused.value)


def _hba_methods(datadir: Path) -> set[str]:
    rules = [line.split() for line in (datadir / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {rule[-1] for rule in rules}


async def test_embedded_postgresql_refuses_connections_without_the_password(pg):
    assert _hba_methods(pg.datadir) == {"scram-sha-256"}
    for host in ("127.0.0.1", str(pg.datadir)):  # TCP and the unix socket
        assert "password" in await _refused(host=host, port=pg.port, user="postgres", database="postgres")
        assert "password" in await _refused(host=host, port=pg.port, user="postgres", database="postgres",
                                            password="not-it")
    conn = await asyncpg.connect(pg.dsn("postgres"))
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()


def test_the_dev_stack_postgresql_uses_the_password_from_secrets_json(suite):
    assert _hba_methods(suite.state / "pgdata") == {"scram-sha-256"}
    password = json.loads((suite.state / "secrets.json").read_text())["POSTGRES_PASSWORD"]
    assert password and password in suite.dsn("gateway")
    port = suite.ports["POSTGRES"]
    assert "password" in asyncio.run(_refused(host="127.0.0.1", port=port, user="postgres", database="gateway"))


async def test_a_data_folder_made_with_trust_is_switched_to_passwords(tmp_path):
    server = EmbeddedPostgres(tmp_path / "old", free_port(), fast=True, password="the-new-password")
    server.start()
    server.stop()
    hba = server.datadir / "pg_hba.conf"  # as the versions before password authentication wrote it
    hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
    try:
        server.start()
        assert _hba_methods(server.datadir) == {"scram-sha-256"}
        assert "password" in await _refused(host="127.0.0.1", port=server.port, user="postgres", database="postgres")
        conn = await asyncpg.connect(server.dsn("postgres"))
        await conn.close()
    finally:
        server.stop(mode="immediate")


# --- the gateway's signing private keys are sealed with a key from settings ------------------------------------

def _gateway_settings(url: str, key: bytes) -> GatewaySettings:
    return GatewaySettings(database_url=url, env="test", rate_limit_enabled=False,
                           signing_key_encryption_key=base64.urlsafe_b64encode(key).decode())


async def test_the_signing_key_row_alone_cannot_sign(pg):
    url = await fresh_database(pg, "gateway")
    key = secrets.token_bytes(32)
    async with running_app(create_app(_gateway_settings(url, key))) as gw:
        jwks = (await gw.get("/.well-known/jwks.json")).json()["keys"]
    conn = await asyncpg.connect(pg.dsn(url.rsplit("/", 1)[1]))
    try:
        rows = await conn.fetch("SELECT kid, private_key_sealed, private_key_pem FROM signing_keys")
        assert len(rows) == 1 and rows[0]["private_key_pem"] is None
        kid, sealed = rows[0]["kid"], rows[0]["private_key_sealed"]
        assert "PRIVATE KEY" not in sealed
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(sealed.encode(), password=None)
        with pytest.raises(SigningKeyUnreadable):
            KeyCipher(secrets.token_bytes(32)).open(kid, sealed)
        with pytest.raises(SigningKeyUnreadable):  # the kid is bound in: a sealed key cannot be moved to a new row
            KeyCipher(key).open("another-kid", sealed)
        private = serialization.load_pem_private_key(KeyCipher(key).open(kid, sealed).encode(), password=None)
        published = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))["x"]
        assert [k["x"] for k in jwks if k["kid"] == kid] == [published]

        # A key stored in clear by an older version is sealed at the next start, and still signs.
        clear = Ed25519PrivateKey.generate()
        pem = clear.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
        await conn.execute("UPDATE signing_keys SET retired_at = now()")
        await conn.execute("INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES ('old-clear', $1, "
                           "now())", pem)
        async with running_app(create_app(_gateway_settings(url, key))) as gw:
            assert "old-clear" in {k["kid"] for k in (await gw.get("/.well-known/jwks.json")).json()["keys"]}
        row = await conn.fetchrow("SELECT private_key_sealed, private_key_pem FROM signing_keys WHERE kid = "
                                  "'old-clear'")
        assert row["private_key_pem"] is None and "PRIVATE KEY" not in row["private_key_sealed"]
    finally:
        await conn.close()

    # Another encryption key cannot open them: the gateway refuses to start, saying why.
    other = create_app(_gateway_settings(url, secrets.token_bytes(32)))
    with pytest.raises(SigningKeyUnreadable, match="GATEWAY_SIGNING_KEY_ENCRYPTION_KEY"):
        async with other.router.lifespan_context(other):
            pass
