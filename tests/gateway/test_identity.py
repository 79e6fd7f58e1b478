"""Identity and tokens: grants, refresh rotation, bad credentials, bad tokens, key rotation, admin-only creation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update

from services.gateway.app import create_app
from services.gateway.identity.keys import rotate_signing_key, rotate_signing_key_in_database
from services.gateway.identity.models import Client, RefreshToken, SigningKey, User
from services.gateway.identity.service import create_admin_in_database
from shared.auth import JwksVerifier
from shared.errors import Unauthorized
from tests.gateway.conftest import ADMIN, bearer, gateway_settings, new_user, password_token
from tests.support import assert_problem, fresh_database, running_app

LEAKS = ("hash", "argon", "traceback", "exception", "sqlalchemy", "private", "secret_hash", 'file "')


def assert_clean(response: httpx.Response) -> None:
    text = response.text.lower()
    for word in LEAKS:
        assert word not in text, (word, response.text)


@pytest.fixture(scope="module")
async def gw(pg):
    url = await fresh_database(pg, "gateway")
    async with running_app(create_app(gateway_settings(url))) as client:
        client.database_url = url  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
async def admin_headers(gw) -> dict:
    return await bearer(gw, *ADMIN)


async def verifier_for(gw) -> JwksVerifier:
    jwks = (await gw.get("/.well-known/jwks.json")).json()
    return JwksVerifier(issuer="socialwork-gateway", audience="socialwork", jwks_json=json.dumps(jwks))


# --- grants -------------------------------------------------------------------------------------------

async def test_password_grant_gives_tokens_that_shared_auth_accepts(gw):
    response = await password_token(gw, *ADMIN)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 and body["refresh_token"]
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    principal = await (await verifier_for(gw)).verify(body["access_token"])
    assert principal.is_admin and principal.client_id is None
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["typ"] == "access" and claims["iss"] == "socialwork-gateway" and claims["aud"] == "socialwork"
    assert claims["exp"] - claims["iat"] == 900


async def test_user_claims_carry_stations_and_worker(gw, admin_headers):
    station, worker = uuid.uuid4(), uuid.uuid4()
    username, password, created = await new_user(gw, admin_headers, "station_manager",
                                                  station_ids=[str(station)], worker_id=str(worker))
    assert created["roles"] == ["station_manager"] and "password" not in json.dumps(created)
    token = (await password_token(gw, username, password)).json()["access_token"]
    principal = await (await verifier_for(gw)).verify(token)
    assert principal.roles == {"station_manager"}
    assert principal.station_ids == {station} and principal.worker_id == worker
    assert principal.subject == created["id"]


@pytest.mark.parametrize("username,password", [(ADMIN[0], "wrong password!"), ("nobody-here", "whatever pw 1")])
async def test_bad_password_or_unknown_user_same_answer(gw, username, password):
    response = await password_token(gw, username, password)
    body = assert_problem(response, 400)
    assert body["error"] == "invalid_grant" and body["error_description"] == "username or password is wrong"
    assert_clean(response)


@pytest.mark.parametrize("form,error", [
    ({}, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "admin"}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({"grant_type": "refresh_token", "refresh_token": "not-a-token"}, "invalid_grant"),
])
async def test_malformed_token_requests(gw, form, error):
    response = await gw.post("/auth/token", data=form)
    body = assert_problem(response, 400)
    assert body["error"] == error and body["error_description"] == body["detail"]
    assert_clean(response)


async def test_refresh_rotates_and_reuse_revokes_the_family(gw, admin_headers):
    username, password, created = await new_user(gw, admin_headers, "social_worker")
    first = (await password_token(gw, username, password)).json()
    second = await gw.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert (await (await verifier_for(gw)).verify(second["access_token"])).subject == created["id"]

    reuse = await gw.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert assert_problem(reuse, 400)["error"] == "invalid_grant"
    # The reuse ended the family: the newest token, never used, is refused too.
    after = await gw.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert assert_problem(after, 400)["error"] == "invalid_grant"
    async with gw.app.state.sessionmaker() as session:
        rows = (await session.scalars(
            select(RefreshToken).where(RefreshToken.user_id == uuid.UUID(created["id"])))).all()
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
    # Stored hashed, never as given.
    assert {r.token_hash for r in rows}.isdisjoint({first["refresh_token"], second["refresh_token"]})

    # A new sign-in starts a new family that works.
    fresh = (await password_token(gw, username, password)).json()
    again = await gw.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]})
    assert again.status_code == 200


async def test_disabled_user_refused(gw, admin_headers):
    username, password, created = await new_user(gw, admin_headers, "social_worker")
    refresh = (await password_token(gw, username, password)).json()["refresh_token"]
    async with gw.app.state.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.username == username).values(disabled=True))
    response = await password_token(gw, username, password)
    assert assert_problem(response, 400)["error"] == "invalid_grant"
    response = await gw.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert assert_problem(response, 400)["error"] == "invalid_grant"


# --- clients ------------------------------------------------------------------------------------------

async def test_client_created_once_and_client_credentials_in_form_and_basic(gw, admin_headers):
    response = await gw.post("/auth/clients", headers=admin_headers,
                             json={"client_id": "hr-ordos", "name": "Ordos HR", "kind": "hr_system"})
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["client_secret"]
    assert created["roles"] == ["hr_system"] and len(secret) >= 40
    async with gw.app.state.sessionmaker() as session:
        stored = await session.get(Client, "hr-ordos")
    assert stored.secret_hash != secret and secret not in stored.secret_hash

    form = await gw.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "hr-ordos",
                                              "client_secret": secret})
    assert form.status_code == 200, form.text
    assert "refresh_token" not in form.json()
    principal = await (await verifier_for(gw)).verify(form.json()["access_token"])
    assert principal.client_id == "hr-ordos" and principal.roles == {"hr_system"} and not principal.reads_everything

    basic = await gw.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("hr-ordos", secret))
    assert basic.status_code == 200, basic.text

    for bad in ({"client_id": "hr-ordos", "client_secret": "wrong"}, {"client_id": "nope", "client_secret": secret},
                {"client_id": "hr-ordos"}):
        response = await gw.post("/auth/token", data={"grant_type": "client_credentials", **bad})
        body = assert_problem(response, 401)
        assert body["error"] == "invalid_client" and response.headers["www-authenticate"].startswith("Basic")
        assert_clean(response)
    response = await gw.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("hr-ordos", "nope"))
    assert assert_problem(response, 401)["error"] == "invalid_client"

    duplicate = await gw.post("/auth/clients", headers=admin_headers,
                              json={"client_id": "hr-ordos", "kind": "hr_system"})
    assert_problem(duplicate, 409, field="client_id")

    async with gw.app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Client).where(Client.client_id == "hr-ordos").values(disabled=True))
    response = await gw.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "hr-ordos",
                                                  "client_secret": secret})
    assert assert_problem(response, 401)["error"] == "invalid_client"


async def test_service_client_from_environment(gw):
    response = await gw.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "svc-registry",
                                                  "client_secret": "registry-secret-from-env"})
    assert response.status_code == 200, response.text
    principal = await (await verifier_for(gw)).verify(response.json()["access_token"])
    assert principal.roles == {"service"} and principal.client_id == "svc-registry"


# --- admin-only creation ------------------------------------------------------------------------------

async def test_only_bureau_admin_creates_users_and_clients(gw, admin_headers, mint):
    username, password, _ = await new_user(gw, admin_headers, "auditor")
    auditor = {"Authorization": f"Bearer {(await password_token(gw, username, password)).json()['access_token']}"}
    payload = {"username": "should-not-exist", "password": "a long passphrase 123", "roles": ["bureau_admin"]}
    assert_problem(await gw.post("/auth/users", headers=auditor, json=payload), 403)
    assert_problem(await gw.post("/auth/clients", headers=auditor, json={"kind": "service"}), 403)
    assert_problem(await gw.post("/auth/users", json=payload), 401)
    # A token signed by someone else's key (the test mint) is not the gateway's.
    assert_problem(await gw.post("/auth/users", headers=mint.headers("bureau_admin"), json=payload), 401)
    assert await _count_named(gw, "should-not-exist") == 0


async def test_invalid_user_and_client_bodies_write_nothing(gw, admin_headers):
    before = await _count(gw, User), await _count(gw, Client)
    bad_users = [
        ({"username": "x y", "password": "a long passphrase 1", "roles": ["auditor"]}, "username"),
        ({"username": "valid.name", "password": "short", "roles": ["auditor"]}, "password"),
        ({"username": "valid.name", "password": "a long passphrase 1", "roles": ["king"]}, "roles.0"),
        ({"username": "valid.name", "password": "a long passphrase 1", "roles": ["auditor"], "extra": 1}, "extra"),
        # machine roles are for clients: a station manager who also held `service` would read every worker
        ({"username": "valid.name", "password": "a long passphrase 1", "roles": ["station_manager", "service"],
          "station_ids": ["00000000-0000-4000-8000-000000000001"]}, "roles"),
        ({"username": "valid.name", "password": "a long passphrase 1", "roles": ["hr_system"]}, "roles"),
    ]
    for body, field in bad_users:
        assert_problem(await gw.post("/auth/users", headers=admin_headers, json=body), 422, field=field)
    assert_problem(await gw.post("/auth/users", headers=admin_headers, json={
        "username": ADMIN[0], "password": "a long passphrase 1", "roles": ["auditor"]}), 409, field="username")
    assert_problem(await gw.post("/auth/clients", headers=admin_headers, json={"kind": "robot"}), 422, field="kind")
    assert_problem(await gw.post("/auth/clients", headers=admin_headers,
                                 json={"kind": "service", "roles": ["bureau_admin"]}), 422, field="roles")
    assert (await _count(gw, User), await _count(gw, Client)) == before


async def _count(gw, model) -> int:
    async with gw.app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_create_admin_function(gw):
    await create_admin_in_database(gw.database_url, username="second-admin", password="another long passphrase")
    response = await password_token(gw, "second-admin", "another long passphrase")
    assert response.status_code == 200
    principal = await (await verifier_for(gw)).verify(response.json()["access_token"])
    assert principal.is_admin


# --- tokens the verifier must refuse ------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


async def test_bad_tokens_refused_with_a_clean_problem(gw, admin_headers):
    async with gw.app.state.sessionmaker() as session:
        row = await session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None)))
    private = serialization.load_pem_private_key(
        gw.app.state.keyring.cipher.open(row.kid, row.private_key_sealed).encode(), password=None)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    good = {"iss": "socialwork-gateway", "aud": "socialwork", "sub": "intruder", "iat": now, "nbf": now,
            "exp": now + 300, "typ": "access", "roles": ["bureau_admin"], "station_ids": [], "worker_id": None}

    def signed(**changes) -> str:
        return jwt.encode({**good, **changes}, private, algorithm="EdDSA", headers={"kid": row.kid})

    valid = signed()
    head, payload, sig = valid.split(".")
    tampered_claims = {**good, "roles": ["bureau_admin", "service"], "sub": "someone-else"}
    hs_input = _unsigned({"alg": "HS256", "kid": row.kid, "typ": "JWT"}, good)
    hs_sig = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    cases = {
        "expired": signed(iat=now - 4000, nbf=now - 4000, exp=now - 3000),
        "tampered": f"{head}.{_b64(json.dumps(tampered_claims).encode())}.{sig}",
        "wrong audience": signed(aud="another-system"),
        "wrong issuer": signed(iss="https://evil.example"),
        "alg none": _unsigned({"alg": "none", "kid": row.kid}, good) + ".",
        "hs256 with the public key": f"{hs_input}.{hs_sig}",
        "refresh typ": signed(typ="refresh"),
        "garbage": "not.a.jwt",
    }
    verifier = await verifier_for(gw)
    assert (await verifier.verify(valid)).subject == "intruder"  # the control: the same key, valid claims
    body = {"username": "via-bad-token", "password": "a long passphrase 1", "roles": ["bureau_admin"]}
    for name, token in cases.items():
        with pytest.raises(Unauthorized):
            await verifier.verify(token)
        response = await gw.post("/auth/users", headers={"Authorization": f"Bearer {token}"}, json=body)
        problem = assert_problem(response, 401)
        assert problem["request_id"], name
        assert_clean(response)
        assert row.kid not in response.text and "BEGIN" not in response.text, name
    assert await _count_named(gw, "via-bad-token") == 0


async def _count_named(gw, username: str) -> int:
    async with gw.app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(User).where(User.username == username))


# --- key rotation -------------------------------------------------------------------------------------

async def test_key_rotation_keeps_old_key_until_its_tokens_expire(gw):
    old_token = (await password_token(gw, *ADMIN)).json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    async with gw.app.state.sessionmaker() as session, session.begin():
        new_kid = await rotate_signing_key(session, gw.app.state.keyring.cipher)
    await gw.app.state.keyring.reload()
    assert new_kid != old_kid

    kids = {k["kid"] for k in (await gw.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {old_kid, new_kid}
    new_token = (await password_token(gw, *ADMIN)).json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    verifier = await verifier_for(gw)
    assert (await verifier.verify(old_token)).is_admin and (await verifier.verify(new_token)).is_admin

    # Once the old key's tokens have all expired, the key leaves the JWKS and its tokens are refused.
    async with gw.app.state.sessionmaker() as session, session.begin():
        await session.execute(update(SigningKey).where(SigningKey.kid == old_kid)
                              .values(retired_at=datetime.now(UTC) - timedelta(hours=2)))
    await gw.app.state.keyring.reload()
    kids = {k["kid"] for k in (await gw.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {new_kid}
    with pytest.raises(Unauthorized):
        await (await verifier_for(gw)).verify(old_token)
    assert_problem(await gw.post("/auth/clients", headers={"Authorization": f"Bearer {old_token}"},
                                 json={"kind": "service"}), 401)
    assert (await gw.post("/auth/clients", headers={"Authorization": f"Bearer {new_token}"},
                          json={"kind": "service"})).status_code == 201


async def test_key_rotated_by_another_process_is_found_on_first_sight(gw):
    """A token signed with a key this process has not loaded yet makes its verifier re-read the key table."""
    new_kid = await rotate_signing_key_in_database(gw.database_url, gw.app.state.keyring.cipher)
    async with gw.app.state.sessionmaker() as session:
        row = await session.get(SigningKey, new_kid)
        admin = await session.scalar(select(User).where(User.username == ADMIN[0]))
    private = serialization.load_pem_private_key(
        gw.app.state.keyring.cipher.open(row.kid, row.private_key_sealed).encode(), password=None)
    now = int(time.time())
    token = jwt.encode({"iss": "socialwork-gateway", "aud": "socialwork", "sub": str(admin.id), "iat": now,
                        "nbf": now, "exp": now + 60, "typ": "access", "roles": ["bureau_admin"]},
                       private, algorithm="EdDSA", headers={"kid": new_kid})
    await asyncio.sleep(1.1)  # forced re-reads are spaced by a second (unknown kids must not hammer the table)
    response = await gw.post("/auth/clients", headers={"Authorization": f"Bearer {token}"}, json={"kind": "service"})
    assert response.status_code == 201, response.text
    # This process now signs with the new key too.
    fresh = (await password_token(gw, *ADMIN)).json()["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
