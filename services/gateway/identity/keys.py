"""Ed25519 signing keys: the key ring that signs access tokens, rotation, and the published JWKS.

Private keys are stored sealed (AES-GCM, key GATEWAY_SIGNING_KEY_ENCRYPTION_KEY from settings, the kid as
associated data): a copy of the table, or a row written by someone with database access alone, cannot sign a
token. Rows written in clear by an older version are sealed at the next start (`seal_clear_keys`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.identity.models import SigningKey
from shared.auth import JwksVerifier

# Serialises key creation between gateway processes sharing one database.
_KEY_LOCK = 0x6761_7465_6b65_7973 & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime
    retired_at: datetime | None

    def public_jwk(self) -> dict:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}


class KeyCipher:
    """AES-GCM of the private keys at rest; stored as `v1:` + urlsafe base64 of nonce || ciphertext+tag."""

    PREFIX = "v1:"

    def __init__(self, key: bytes):
        if len(key) not in (16, 24, 32):
            raise ValueError("the signing key encryption key must decode to 16, 24 or 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> KeyCipher:
        if value is None:
            raise ValueError("GATEWAY_SIGNING_KEY_ENCRYPTION_KEY is required (urlsafe base64 of 32 bytes)")
        raw = value.get_secret_value()
        try:
            return cls(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, binascii.Error):
            raise ValueError("GATEWAY_SIGNING_KEY_ENCRYPTION_KEY must be urlsafe base64 of 32 bytes") from None

    def seal(self, kid: str, pem: str) -> str:
        nonce = os.urandom(12)
        return self.PREFIX + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, pem.encode(),
                                                                                 kid.encode())).decode()

    def open(self, kid: str, sealed: str) -> str:
        if not sealed.startswith(self.PREFIX):
            raise SigningKeyUnreadable(f"signing key {kid} is not sealed")
        blob = base64.urlsafe_b64decode(sealed[len(self.PREFIX):])
        try:
            return self._aead.decrypt(blob[:12], blob[12:], kid.encode()).decode()
        except InvalidTag:
            raise SigningKeyUnreadable(
                f"signing key {kid} cannot be opened with GATEWAY_SIGNING_KEY_ENCRYPTION_KEY: it was sealed with "
                "another key, or the row was altered; set the key it was sealed with (or rotate-signing-key after "
                "retiring the key rows)") from None

    def __repr__(self) -> str:  # never print key material
        return "KeyCipher(<key hidden>)"


class SigningKeyUnreadable(RuntimeError):
    pass


def _new_key_row(cipher: KeyCipher) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(6)}"
    return SigningKey(kid=kid, private_key_sealed=cipher.seal(kid, pem), created_at=datetime.now(UTC))


def _load(row: SigningKey, cipher: KeyCipher) -> LoadedKey:
    if row.private_key_sealed is None:
        raise SigningKeyUnreadable(f"signing key {row.kid} is stored in clear; restart the gateway to seal it")
    key = serialization.load_pem_private_key(cipher.open(row.kid, row.private_key_sealed).encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return LoadedKey(kid=row.kid, private_key=key, created_at=row.created_at, retired_at=row.retired_at)


async def seal_clear_keys(session: AsyncSession, cipher: KeyCipher) -> int:
    """Seal the private keys an older version stored in clear (the migration of existing rows); returns how many."""
    rows = (await session.scalars(select(SigningKey).where(SigningKey.private_key_pem.is_not(None))
                                  .with_for_update())).all()
    for row in rows:
        row.private_key_sealed = cipher.seal(row.kid, row.private_key_pem)
        row.private_key_pem = None
    await session.flush()
    return len(rows)


async def ensure_active_key(session: AsyncSession, cipher: KeyCipher) -> None:
    """Seal keys left in clear, and create the first signing key if there is no active one (once, whatever the
    number of processes)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    await seal_clear_keys(session, cipher)
    active = await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1))
    if active is None:
        session.add(_new_key_row(cipher))
        await session.flush()


async def rotate_signing_key(session: AsyncSession, cipher: KeyCipher) -> str:
    """Retire the active key(s) and create a new one; returns the new kid.

    Retired keys stay in the JWKS until the tokens they signed have expired.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    await session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None))
                          .values(retired_at=datetime.now(UTC)))
    row = _new_key_row(cipher)
    session.add(row)
    await session.flush()
    return row.kid


async def rotate_signing_key_in_database(database_url: str, cipher: KeyCipher) -> str:
    """rotate_signing_key in its own transaction, for the command line; running gateways pick the new key
    up within `key_refresh_seconds`."""
    from shared.db import make_engine, make_sessionmaker  # noqa: PLC0415

    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await rotate_signing_key(session, cipher)
    finally:
        await engine.dispose()


class KeyRing:
    """The signing keys of this process, re-read from the database every `refresh_seconds`."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], cipher: KeyCipher, access_token_ttl: int,
                 refresh_seconds: float = 30.0):
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.access_token_ttl = access_token_ttl
        self.refresh_seconds = refresh_seconds
        self._keys: list[LoadedKey] = []
        self.loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def publish_window(self) -> timedelta:
        # Tokens signed by another process up to one refresh interval after the rotation are still valid.
        return timedelta(seconds=self.access_token_ttl + self.refresh_seconds + 60)

    async def reload(self) -> None:
        async with self._lock:
            async with self.sessionmaker() as session:
                rows = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))).all()
            now = datetime.now(UTC)
            self._keys = [_load(r, self.cipher) for r in rows
                          if r.retired_at is None or now - r.retired_at < self.publish_window]
            self.loaded_at = time.monotonic()

    async def _fresh(self, *, force: bool = False) -> list[LoadedKey]:
        if force or not self._keys or time.monotonic() - self.loaded_at > self.refresh_seconds:
            await self.reload()
        return self._keys

    async def signing_key(self) -> LoadedKey:
        for key in await self._fresh():
            if key.retired_at is None:
                return key
        raise RuntimeError("no active signing key; the gateway did not start correctly")

    async def jwks(self, *, force: bool = False) -> dict:
        return {"keys": [k.public_jwk() for k in await self._fresh(force=force)]}

    async def sign(self, claims: dict) -> str:
        key = await self.signing_key()
        return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": "JWT"})


class LocalVerifier(JwksVerifier):
    """shared.auth's verifier fed from the gateway's own key ring, never over HTTP (it would call itself)."""

    def __init__(self, *, keyring: KeyRing, issuer: str, audience: str):
        super().__init__(issuer=issuer, audience=audience, jwks_url=None, jwks_json='{"keys": []}')
        self.keyring = keyring
        self._static = False
        self._ring_loaded = -1.0

    async def _refresh(self, *, force: bool) -> None:
        jwks = await self.keyring.jwks(force=force and time.monotonic() - self._ring_loaded > 1.0)
        if force or self._ring_loaded != self.keyring.loaded_at:
            self._load(jwks)
            self._ring_loaded = self.keyring.loaded_at
