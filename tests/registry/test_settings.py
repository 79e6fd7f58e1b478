"""Registry secrets: required in prod, generated in dev and test, never shown."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from services.registry.crypto import PersonalDataCipher
from services.registry.settings import RegistrySettings


def test_prod_refuses_missing_keys():
    with pytest.raises(ValidationError, match="REGISTRY_ID_NUMBER_KEY"):
        RegistrySettings(env="prod")
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    settings = RegistrySettings(env="prod", id_number_key=key, lookup_key=key)
    assert key not in repr(settings)
    cipher = PersonalDataCipher.from_settings(settings)
    blob = cipher.encrypt("150624197406182317")
    assert cipher.decrypt(blob) == "150624197406182317" and blob != cipher.encrypt("150624197406182317")
    assert cipher.lookup_hash("150624197406182317") == cipher.lookup_hash("150624197406182317")


def test_test_env_generates_keys_and_bad_keys_are_refused():
    a, b = RegistrySettings(env="test"), RegistrySettings(env="test")
    assert a.id_number_key and a.lookup_key and a.id_number_key != b.id_number_key
    with pytest.raises(ValueError, match="id_number_key"):
        PersonalDataCipher.from_settings(RegistrySettings(env="test", id_number_key="c2hvcnQ"))
