"""The service factory: problem+json everywhere, request ids, pagination, health, readiness, metrics."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from services.gateway.settings import GatewaySettings
from shared.auth import CurrentPrincipal, JwksVerifier
from shared.db import SessionDep
from shared.errors import Conflict, Unauthorized
from shared.pagination import Page, PageParams, paginate
from shared.web import create_service_app
from tests.support import AUDIENCE, ISSUER, assert_problem, fresh_database, running_app

router = APIRouter()


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


@router.post("/v1/things", status_code=201)
async def create_thing(body: Thing, session: SessionDep) -> dict:
    await session.execute(text("INSERT INTO things (id, name, created_at) VALUES (:i, :n, :c)"),
                          {"i": uuid.uuid4(), "n": body.name, "c": datetime.now(UTC)})
    if body.name == "conflict":
        raise Conflict("that thing exists", field="name")  # raised after the insert: must roll back
    return {"ok": True}


class Row(BaseModel):
    id: uuid.UUID
    name: str


@router.get("/v1/things")
async def list_things(session: SessionDep, cursor: str | None = None, limit: int = 2) -> Page[Row]:
    from sqlalchemy import column, select, table

    things = table("things", column("id"), column("name"), column("created_at"))
    rows, next_cursor = await paginate(session, select(things), PageParams(cursor=cursor, limit=limit),
                                       keys=[things.c.created_at, things.c.id])
    return Page(items=[Row(id=r.id, name=r.name) for r in rows], next_cursor=next_cursor)


@router.get("/v1/me")
async def me(principal: CurrentPrincipal) -> dict:
    return {"sub": principal.subject, "roles": sorted(principal.roles)}


@pytest.fixture(scope="module")
async def client(pg, broker, mint):
    url = await fresh_database(pg, "gateway")
    settings = GatewaySettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap,
                               auth_jwks_json=mint.jwks_json, env="test", run_relay=False, metrics_token="scrape-me")
    app = create_service_app(settings=settings, title="web test", routers=[router], configure_logs=False)
    async with running_app(app) as c:
        async with app.state.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE things (id uuid PRIMARY KEY, name text, created_at timestamptz)"))
        yield c


async def test_validation_error_is_problem_json_naming_the_field(client):
    response = await client.post("/v1/things", json={"name": "a", "count": -1})
    body = assert_problem(response, 422, field="count")
    assert body["errors"][0]["field"] == "count" and body["request_id"] == response.headers["x-request-id"]
    assert_problem(await client.post("/v1/things", json={"name": "a", "count": 1, "extra": 1}), 422, field="extra")


async def test_business_error_rolls_back_the_unit_of_work(client):
    assert_problem(await client.post("/v1/things", json={"name": "conflict", "count": 1}), 409, field="name")
    async with client.app.state.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM things WHERE name = 'conflict'"))).scalar() == 0


async def test_request_id_is_passed_through_or_created(client):
    mine = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"})
    assert uuid.UUID(made.headers["x-request-id"])
    missing = await client.get("/nowhere")
    assert_problem(missing, 404)


async def test_cursor_pagination_walks_every_row_once(client):
    for i in range(5):
        assert (await client.post("/v1/things", json={"name": f"page-{i}", "count": i})).status_code == 201
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/things", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [n for n in seen if n.startswith("page-")] == [f"page-{i}" for i in range(5)]
    assert_problem(await client.get("/v1/things", params={"cursor": "garbage"}), 422, field="cursor")


async def test_health_readiness_and_metrics(client):
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert_problem(await client.get("/metrics"), 401)  # operational: only with the scrape token
    metrics = (await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert 'http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in metrics
    assert "outbox_pending_events 0.0" in metrics and "dead_letters_total 0.0" in metrics


async def test_metrics_count_each_request_under_its_route_and_status(client, mint):
    """The middleware keeps one histogram child per (method, route, status): each request is counted once,
    under its own status, whichever came first."""
    async def scrape() -> dict[str, float]:
        text_ = (await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
        return {line.split("{", 1)[1].rsplit("}", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text_.splitlines() if line.startswith("http_request_duration_seconds_count{")}

    before = await scrape()
    for _ in range(3):
        await client.get("/healthz")
    for _ in range(2):
        assert (await client.get("/v1/me")).status_code == 401
    assert (await client.get("/v1/me", headers=mint.headers("auditor"))).status_code == 200
    assert (await client.get("/nowhere/at/all")).status_code == 404
    after = await scrape()
    grew = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    assert grew == {'method="GET",route="/healthz",status="200"': 3.0, 'method="GET",route="/v1/me",status="401"': 2.0,
                    'method="GET",route="/v1/me",status="200"': 1.0, 'method="GET",route="unmatched",status="404"': 1.0,
                    'method="GET",route="/metrics",status="200"': 1.0}


async def test_readiness_fails_when_the_broker_is_unreachable(pg, mint):
    from devstack.embedded import free_port

    url = await fresh_database(pg, "gateway")
    settings = GatewaySettings(database_url=url, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                               auth_jwks_json=mint.jwks_json, env="test", run_relay=False)
    async with running_app(create_service_app(settings=settings, title="t", routers=[],
                                              configure_logs=False)) as c:
        body = assert_problem(await c.get("/readyz"), 503)
        assert body["checks"]["broker"] == "unreachable" and body["checks"]["database"] == "ok"


async def test_tokens_are_verified_by_the_service(client, mint):
    ok = await client.get("/v1/me", headers=mint.headers("station_manager", sub="mgr-1", station_ids=[uuid.uuid4()]))
    assert ok.status_code == 200 and ok.json() == {"sub": "mgr-1", "roles": ["station_manager"]}
    assert_problem(await client.get("/v1/me"), 401)
    assert_problem(await client.get("/v1/me", headers={"Authorization": "Bearer x.y.z"}), 401)


async def test_401_challenges_with_bearer_and_says_when_the_token_was_bad(client):
    missing = await client.get("/v1/me")
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"  # no token sent: no error code (RFC 6750 3.1)
    bad = await client.get("/v1/me", headers={"Authorization": "Bearer x.y.z"})
    assert_problem(bad, 401)
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token", error_description="token is malformed"'


async def test_405_allows_every_method_of_the_path(client):
    response = await client.put("/v1/things", json={})
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"  # two routes, one per method


async def test_instance_is_the_path_the_client_called(client):
    direct = assert_problem(await client.get("/v1/nowhere"), 404)
    assert direct["instance"] == "/v1/nowhere"
    behind = assert_problem(await client.get("/v1/nowhere", headers={"X-Forwarded-Prefix": "/registry"}), 404)
    assert behind["instance"] == "/registry/v1/nowhere"
    validation = await client.post("/v1/things", json={"name": "a"}, headers={"X-Forwarded-Prefix": "/registry"})
    assert assert_problem(validation, 422, field="count")["instance"] == "/registry/v1/things"
    for odd in ("registry", "/a b", "//evil.example", "/x/", "/x?y"):  # not a plain path prefix: ignored
        body = assert_problem(await client.get("/v1/nowhere", headers={"X-Forwarded-Prefix": odd}), 404)
        assert body["instance"] == "/v1/nowhere", odd


async def test_a_verified_token_is_remembered_until_it_expires_or_its_key_set_changes(mint, monkeypatch):
    verifier = JwksVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_json=mint.jwks_json)
    checks: list[str] = []
    decode = jwt.decode

    def counted(token, *args, **kwargs):
        checks.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    token = mint.token("auditor", sub="auditor-1", ttl=60)
    assert [(await verifier.verify(token)).subject for _ in range(3)] == ["auditor-1"] * 3
    assert len(checks) == 1  # the signature was checked once
    with pytest.raises(Unauthorized):  # a bad token is never remembered: refused every time
        await verifier.verify(token[:-4] + "AAAA")
    with pytest.raises(Unauthorized):
        await verifier.verify(token[:-4] + "AAAA")
    assert len(checks) == 3
    real_time = time.time
    monkeypatch.setattr("shared.auth.time.time", lambda: real_time() + 61)  # past its `exp`: checked again
    await verifier.verify(token)
    assert len(checks) == 4
    monkeypatch.setattr("shared.auth.time.time", real_time)
    verifier._load({"keys": []})  # the key set changed (its key is gone): the token is refused
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
