"""The whole suite as real processes with the demo data, for the security checks (one launch per session)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.api import Api
from tests.support import launch_stack, read_until, stop_stack

# The gateway's limits, pinned here (they are also its defaults) so the rate-limit test knows them.
RATE_PER_SECOND = 100
RATE_BURST = 200
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
def suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    proc, ports = launch_stack(tmp, {"GATEWAY_RATE_LIMIT_PER_SECOND": str(RATE_PER_SECOND),
                                     "GATEWAY_RATE_LIMIT_BURST": str(RATE_BURST),
                                     "GATEWAY_RATE_LIMIT_ENABLED": "true"}, demo=True)
    try:
        read_until(proc, "Press Ctrl-C", timeout=600)
        state = tmp / "state"
        secrets = json.loads((state / "secrets.json").read_text())
        logins = json.loads((state / "demo-logins.json").read_text())
        yield Suite(gateway=f"http://127.0.0.1:{ports['GATEWAY']}", ports=ports, state=state,
                    admin_password=secrets["GATEWAY_ADMIN_PASSWORD"], logins=logins)
    finally:
        stop_stack(proc)


@pytest.fixture(scope="session")
def hr(suite) -> Api:
    """An HR system client of its own (kind hr_system), as the bureau creates one."""
    created = suite.admin().post("/auth/clients", {"client_id": "hr-security", "kind": "hr_system"})
    return Api.client(suite.gateway, created["client_id"], created["client_secret"])
