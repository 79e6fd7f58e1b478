"""The whole suite as separate processes, started by the same launcher as `make run`, demo data included
(`demo_stack` in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devstack.api import Api


@dataclass
class Suite:
    gateway: str
    admin_password: str
    logins: dict[str, str]
    banner: str

    def admin(self) -> Api:
        return Api.login(self.gateway, "admin", self.admin_password)

    def login(self, username: str, password: str | None = None) -> Api:
        return Api.login(self.gateway, username, password or self.logins[username])


@pytest.fixture(scope="session")
def suite(demo_stack):
    """The session's stack with the demo (shared with tests/security)."""
    return Suite(gateway=demo_stack.gateway, admin_password=demo_stack.admin_password, logins=demo_stack.logins,
                 banner=demo_stack.banner)
