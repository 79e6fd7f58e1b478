"""The whole suite as real processes with the demo data, for the security checks (the session's `demo_stack`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.api import Api
from tests.support import DemoStack

# The gateway's limits, pinned by the `demo_stack` fixture (they are also its defaults) so the rate-limit test
# knows them.
RATE_PER_SECOND = DemoStack.RATE_PER_SECOND
RATE_BURST = DemoStack.RATE_BURST
# A resident ID number standing alone: 17 digits and a check character, not inside a longer token (trace ids).
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")


@dataclass
class Suite:
    gateway: str
    ports: dict[str, int]
    state: Path
    admin_password: str
    logins: dict[str, str]

    def direct(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service.upper()]}"

    def dsn(self, database: str) -> str:
        password = json.loads((self.state / "secrets.json").read_text())["POSTGRES_PASSWORD"]
        return f"postgresql://postgres:{password}@127.0.0.1:{self.ports['POSTGRES']}/{database}"

    def admin(self) -> Api:
        return Api.login(self.gateway, "admin", self.admin_password)

    def login(self, username: str) -> Api:
        return Api.login(self.gateway, username, self.logins[username])


@pytest.fixture(scope="session")
def suite(demo_stack):
    """The session's stack with the demo (shared with tests/e2e)."""
    return Suite(gateway=demo_stack.gateway, ports=demo_stack.ports, state=demo_stack.state,
                 admin_password=demo_stack.admin_password, logins=demo_stack.logins)


@pytest.fixture(scope="session")
def hr(suite) -> Api:
    """An HR system client of its own (kind hr_system), as the bureau creates one."""
    created = suite.admin().post("/auth/clients", {"client_id": "hr-security", "kind": "hr_system"})
    return Api.client(suite.gateway, created["client_id"], created["client_secret"])
