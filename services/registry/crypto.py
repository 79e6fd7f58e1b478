"""Personal data at rest: AES-GCM encryption and the HMAC look-up hash of ID numbers."""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.settings import RegistrySettings
from shared.validators import mask_id_number, mask_phone


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
        return cls.from_keys(settings.id_number_key.get_secret_value(), settings.lookup_key.get_secret_value())

    @classmethod
    def from_keys(cls, id_number_key: str, lookup_key: str) -> PersonalDataCipher:
        """From the keys as configured (urlsafe base64)."""
        return cls(encryption_key=_decode_key(id_number_key, name="id_number_key"),
                   lookup_key=_decode_key(lookup_key, name="lookup_key"))

    def encrypt(self, value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], None).decode()

    def lookup_hash(self, id_number: str) -> bytes:
        return hmac.digest(self._lookup_key, id_number.encode(), "sha256")  # one-shot: no HMAC object per value

    def id_number_columns(self, id_number: str) -> dict[str, bytes | str]:
        """What the registry stores of a (normalised) ID number: the ciphertext, the keyed look-up hash and the
        masked form every list shows without decrypting (`mask_id_number`: nothing a reader does not see)."""
        return {"id_number_enc": self.encrypt(id_number), "id_number_hash": self.lookup_hash(id_number),
                "id_number_masked": mask_id_number(id_number)}

    def phone_columns(self, phone: str | None) -> dict[str, bytes | str | None]:
        """What the registry stores of a phone number (or of none): the ciphertext and the masked form."""
        return {"phone_enc": self.encrypt(phone) if phone else None,
                "phone_masked": mask_phone(phone) if phone else None}

    def __repr__(self) -> str:  # never print key material
        return "PersonalDataCipher(<keys hidden>)"
