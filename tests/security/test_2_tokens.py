"""Every service refuses a token from another issuer, for another audience, or signed by a key it does not know.

The tokens are signed with the gateway's real signing key, read from the gateway's database of the running suite
and opened with the encryption key from secrets.json, so only the claim under test is wrong; the control (same
key, right claims) must be accepted. Each service is called on its own port and through the gateway.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from services.gateway.identity.keys import KeyCipher
from tests.support import AUDIENCE, ISSUER, TokenMint, assert_problem

READS = {"registry": "/v1/stations", "subsidy": "/v1/policies", "projects": "/v1/calls"}


async def _active_key(dsn: str, cipher: KeyCipher) -> tuple[str, Ed25519PrivateKey]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT kid, private_key_sealed FROM signing_keys WHERE retired_at IS NULL "
                                  "ORDER BY created_at DESC LIMIT 1")
    finally:
        await conn.close()
    pem = cipher.open(row["kid"], row["private_key_sealed"])  # the row alone is not a key: it takes the setting
    return row["kid"], serialization.load_pem_private_key(pem.encode(), password=None)


@pytest.fixture(scope="module")
def gateway_key(suite):
    secrets = json.loads((suite.state / "secrets.json").read_text())
    cipher = KeyCipher.from_setting(SecretStr(secrets["GATEWAY_SIGNING_KEY_ENCRYPTION_KEY"]))
    return asyncio.run(_active_key(suite.dsn("gateway"), cipher))


def claims(**changes) -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": f"intruder-{uuid.uuid4().hex[:6]}", "iat": now, "nbf": now,
            "exp": now + 300, "typ": "access", "roles": ["bureau_admin"], "station_ids": [], "worker_id": None,
            **changes}


def forged(gateway_key) -> dict[str, str]:
    kid, key = gateway_key
    foreign = TokenMint()  # another Ed25519 key, as another identity provider would hold

    def signed(**changes) -> str:
        return jwt.encode(claims(**changes), key, algorithm="EdDSA", headers={"kid": kid})

    return {
        "another issuer": signed(iss="https://other-gateway.example"),
        "another audience": signed(aud="another-system"),
        "no audience": jwt.encode({k: v for k, v in claims().items() if k != "aud"}, key, algorithm="EdDSA",
                                  headers={"kid": kid}),
        "unknown kid": foreign.token("bureau_admin"),  # right iss/aud, a foreign key and its own kid
        "foreign key under the gateway's kid": jwt.encode(claims(), foreign.private_key, algorithm="EdDSA",
                                                          headers={"kid": kid}),
        "foreign issuer and key": jwt.encode(claims(iss="other-idp", aud="other"), foreign.private_key,
                                             algorithm="EdDSA", headers={"kid": foreign.kid}),
        "expired": signed(iat=int(time.time()) - 4000, nbf=int(time.time()) - 4000, exp=int(time.time()) - 3000),
        "refresh token as access": signed(typ="refresh"),
    }


def urls(suite) -> list[tuple[str, str]]:
    return ([(svc, f"{suite.direct(svc)}{path}") for svc, path in READS.items()]
            + [(f"gateway->{svc}", f"{suite.gateway}/{svc}{path}") for svc, path in READS.items()])


def test_the_control_token_is_accepted_everywhere(suite, gateway_key):
    kid, key = gateway_key
    token = jwt.encode(claims(), key, algorithm="EdDSA", headers={"kid": kid})
    for where, url in urls(suite):
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 200, (where, response.status_code, response.text[:300])


def test_foreign_issuer_audience_and_key_are_refused_by_every_service(suite, gateway_key):
    for name, token in forged(gateway_key).items():
        for where, url in urls(suite):
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert_problem(response, 401)
            assert "BEGIN" not in response.text, (name, where)


def test_a_forged_token_changes_nothing(suite, gateway_key):
    """A write with another issuer's token is refused before it reaches the database."""
    token = forged(gateway_key)["another issuer"]
    name = f"伪造站-{uuid.uuid4().hex[:6]}"
    for base in (suite.direct("registry") + "/v1", suite.gateway + "/registry/v1"):
        response = httpx.post(f"{base}/stations", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                              json={"name": name, "kind": "centre", "division_code": "150624"})
        assert_problem(response, 401)
    assert all(s["name"] != name for s in suite.admin().all("/registry/v1/stations"))
