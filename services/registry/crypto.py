"""Personal data at rest: AES-GCM encryption and the HMAC look-up hash of ID numbers."""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.settings import RegistrySettings


def _decode_key(value: str, *, name: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise ValueError(f"{name} must be urlsafe base64") from None


class PersonalDataCipher:
    """Encrypts with a random 96-bit nonce per value; the stored form is nonce || ciphertext+tag."""

    def __init__(self, *, encryption_key: bytes, lookup_key: bytes):
        if len(encryption_key) not in (16, 24, 32):
            raise ValueError("id_number_key must decode to 16, 24 or 32 bytes")
        if len(lookup_key) < 16:
            raise ValueError("lookup_key must decode to at least 16 bytes")
        self._aead = AESGCM(encryption_key)
        self._lookup_key = lookup_key

    @classmethod
    def from_settings(cls, settings: RegistrySettings) -> PersonalDataCipher:
        if settings.id_number_key is None or settings.lookup_key is None:
            raise ValueError("id_number_key and lookup_key are required")
        return cls(encryption_key=_decode_key(settings.id_number_key.get_secret_value(), name="id_number_key"),
                   lookup_key=_decode_key(settings.lookup_key.get_secret_value(), name="lookup_key"))

    def encrypt(self, value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], None).decode()

    def lookup_hash(self, id_number: str) -> bytes:
        return hmac.digest(self._lookup_key, id_number.encode(), "sha256")  # one-shot: no HMAC object per value

    def __repr__(self) -> str:  # never print key material
        return "PersonalDataCipher(<keys hidden>)"
