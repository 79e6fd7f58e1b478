"""The gateway's audit trail: who created which users and clients, signing keys, sessions and the sign-in
throttle's counts and locks, chained like every service's; never a password, secret or key; `/auth/audit` for
auditors and the bureau only; an edited row named by the endpoint and by `python -m devstack verify-audit gateway`."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy import select

from services.gateway.app import create_app
from services.gateway.identity.models import Client, SigningKey, User
from tests.gateway.conftest import ADMIN, bearer, gateway_settings, new_user
from tests.support import audit_rows, audit_verdict, fresh_database, running_app, tamper


@pytest.fixture(scope="module")
async def gw(pg):
    url = await fresh_database(pg, "gateway")
    async with running_app(create_app(gateway_settings(url))) as client:
        client.database_url = url  # type: ignore[attr-defined]
        yield client


async def client_bearer(gw, client_id: str, secret: str) -> dict:
    response = await gw.post("/auth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                  "client_secret": secret})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
async def admin(gw) -> dict:
    return await bearer(gw, *ADMIN)


def sha256(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


async def stored(gw, query):
    async with gw.app.state.sessionmaker() as session:
        return await session.scalar(query)


async def test_users_and_clients_are_recorded_with_who_made_them_and_never_their_secrets(gw, admin):
    worker_id = uuid.uuid4()
    password = "a long passphrase 123"
    headers = {**admin, "X-Request-ID": "req-gw-user"}
    response = await gw.post("/auth/users", headers=headers, json={
        "username": "wang-audit", "password": password, "roles": ["social_worker"], "worker_id": str(worker_id)})
    assert response.status_code == 201, response.text
    user = await stored(gw, select(User).where(User.username == "wang-audit"))
    admin_id = str(await stored(gw, select(User.id).where(User.username == ADMIN[0])))

    (row,) = await audit_rows(gw.database_url, "request_id = 'req-gw-user'")
    assert (row["action"], row["entity"], row["entity_id"], row["worker_id"]) == (
        "insert", "users", str(user.id), worker_id)
    assert (row["actor"], row["roles"], row["method"], row["path"]) == (admin_id, "bureau_admin", "POST",
                                                                        "/auth/users")
    assert row["after"]["username"] == "wang-audit" and row["after"]["roles"] == ["social_worker"]
    # The hash of the argon2 hash: the trail shows a password was set or changed, and helps no guesser.
    assert row["after"]["password_hash"] == sha256(user.password_hash)

    response = await gw.post("/auth/clients", headers={**admin, "X-Request-ID": "req-gw-client"},
                             json={"kind": "hr_system", "name": "市人社系统"})
    assert response.status_code == 201, response.text
    secret, client_id = response.json()["client_secret"], response.json()["client_id"]
    client = await stored(gw, select(Client).where(Client.client_id == client_id))
    (row,) = await audit_rows(gw.database_url, "request_id = 'req-gw-client'")
    assert (row["action"], row["entity"], row["entity_id"], row["actor"]) == ("insert", "clients", client_id,
                                                                              admin_id)
    assert row["after"]["secret_hash"] == sha256(client.secret_hash) and row["after"]["roles"] == ["hr_system"]

    dumped = json.dumps(await audit_rows(gw.database_url), default=str, ensure_ascii=False)
    keys = (await stored(gw, select(SigningKey.private_key_sealed).where(SigningKey.retired_at.is_(None))))
    for secret_value in (password, secret, user.password_hash, client.secret_hash, keys, "PRIVATE KEY",
                         "registry-secret-from-env", ADMIN[1]):
        assert secret_value not in dumped


async def test_what_the_gateway_writes_at_start_is_recorded_as_the_startup(gw):
    started = await audit_rows(gw.database_url, "actor = 'gateway:startup'")
    written = {(r["action"], r["entity"]) for r in started}
    # the first signing key (sealed: only the sha256 of the sealed text), the dev admin, the service client
    assert {("insert", "signing_keys"), ("insert", "users"), ("insert", "clients")} <= written
    (key,) = [r for r in started if r["entity"] == "signing_keys"]
    assert key["after"]["private_key_sealed"].startswith("sha256:") and key["after"]["private_key_pem"] is None


async def test_sign_in_attempts_leave_the_throttle_counts_and_the_session_in_the_trail(gw, admin):
    username, password, created = await new_user(gw, admin, "station_manager")
    wrong = await gw.post("/auth/token", headers={"X-Request-ID": "req-gw-wrong"}, data={
        "grant_type": "password", "username": username, "password": "not it"})
    assert wrong.status_code == 400, wrong.text
    attempt = await audit_rows(gw.database_url, "request_id = 'req-gw-wrong'")
    assert {(r["actor"], r["roles"], r["method"], r["path"]) for r in attempt} == {
        ("anonymous", None, "POST", "/auth/token")}
    counted = [r for r in attempt if r["entity_id"] == f"user:{username}" and r["action"] == "update"]
    assert [(r["entity"], r["after"]["failures"]) for r in counted] == [("login_throttle", 1)]
    assert "not it" not in json.dumps(attempt, default=str)

    right = await gw.post("/auth/token", headers={"X-Request-ID": "req-gw-right"}, data={
        "grant_type": "password", "username": username, "password": password})
    assert right.status_code == 200, right.text
    signed_in = await audit_rows(gw.database_url, "request_id = 'req-gw-right'")
    # the count starts afresh (the account's row is removed) and the session is opened for this user
    assert ("delete", "login_throttle", f"user:{username}") in {
        (r["action"], r["entity"], r["entity_id"]) for r in signed_in}
    (session,) = [r for r in signed_in if r["entity"] == "refresh_tokens"]
    assert (session["action"], session["after"]["user_id"]) == ("insert", created["id"])
    assert right.json()["refresh_token"] not in json.dumps(signed_in, default=str)


async def test_only_auditors_and_the_bureau_read_the_gateways_trail(gw, admin):
    worker_id = uuid.uuid4()
    await new_user(gw, admin, "social_worker", worker_id=str(worker_id))
    auditor = await bearer(gw, *(await new_user(gw, admin, "auditor"))[:2])
    response = await gw.get("/auth/audit", params={"worker_id": str(worker_id)}, headers=auditor)
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert (item["action"], item["entity"], item["after"]["roles"]) == ("insert", "users", ["social_worker"])
    assert (await gw.get("/auth/audit", params={"worker_id": str(worker_id)}, headers=admin)).json() == \
        response.json()
    by_actor = await gw.get("/auth/audit", params={"actor": "anonymous", "limit": 500}, headers=auditor)
    assert {i["actor"] for i in by_actor.json()["items"]} == {"anonymous"}
    verdict = await gw.get("/auth/audit/verify", headers=auditor)
    assert verdict.status_code == 200 and verdict.json()["ok"] is True and verdict.json()["rows"] > 0

    others = [await bearer(gw, *(await new_user(gw, admin, role))[:2])
              for role in ("station_manager", "social_worker")]
    for kind in ("hr_system", "service"):
        made = (await gw.post("/auth/clients", headers=admin, json={"kind": kind})).json()
        others.append(await client_bearer(gw, made["client_id"], made["client_secret"]))
    for headers in others:
        for path in ("/auth/audit", "/auth/audit/verify"):
            response = await gw.get(path, headers=headers)
            assert response.status_code == 404, (path, response.text)
    assert (await gw.get("/auth/audit")).status_code == 401


@pytest.fixture
async def chain(pg):
    """A gateway of its own, with a trail to tamper with: the startup's rows and three users made by the admin."""
    url = await fresh_database(pg, "gateway")
    async with running_app(create_app(gateway_settings(url))) as client:
        client.database_url = url  # type: ignore[attr-defined]
        admin = await bearer(client, *ADMIN)
        for role in ("station_manager", "auditor", "social_worker"):
            await new_user(client, admin, role)
        client.auditor = await bearer(client, *(await new_user(client, admin, "auditor"))[:2])  # type: ignore
        yield client


async def broken_at(gw) -> tuple[dict | None, str]:
    verdict, output = await audit_verdict(gw, gw.auditor, service="gateway", database_url=gw.database_url,
                                          verify_path="/auth/audit/verify")
    return verdict["first_broken"], output


async def test_an_edited_or_deleted_row_is_named_by_the_endpoint_and_the_cli(chain):
    first, output = await broken_at(chain)
    assert first is None and "gateway: audit trail intact" in output, output
    # Someone with the superuser password hides that a user was made an auditor: the row's roles rewritten.
    (granted,) = [r for r in await audit_rows(chain.database_url, "entity = 'users' AND action = 'insert'")
                  if r["after"]["roles"] == ["auditor"]][:1]
    await tamper(chain.database_url, "UPDATE audit_log SET after = jsonb_set(after, '{roles}', '[\"social_worker\"]') "
                                     f"WHERE seq = {granted['seq']}")
    first, output = await broken_at(chain)
    assert (first["seq"], first["id"]) == (granted["seq"], granted["id"]) and "edited" in first["reason"]
    assert f"BROKEN at seq {granted['seq']}" in output

    await tamper(chain.database_url, f"UPDATE audit_log SET after = '{json.dumps(granted['after'])}' "
                                     f"WHERE seq = {granted['seq']}")
    assert (await broken_at(chain))[0] is None
    await tamper(chain.database_url, f"DELETE FROM audit_log WHERE seq = {granted['seq']}")
    first, output = await broken_at(chain)
    assert first["seq"] == granted["seq"] + 1 and f"rows {granted['seq']}..{granted['seq']} are missing" in \
        first["reason"], first
