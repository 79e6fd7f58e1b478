"""Typed dependencies of the registry routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.registry.crypto import PersonalDataCipher


async def _cipher(request: Request) -> PersonalDataCipher:
    return request.app.state.cipher


CipherDep = Annotated[PersonalDataCipher, Depends(_cipher)]
