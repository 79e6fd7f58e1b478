"""The whole suite as separate processes, started by the same launcher as `make run`, demo data included."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from devstack.api import Api
from tests.support import launch_stack, read_until, stop_stack


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
def suite(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e")
    proc, ports = launch_stack(state, demo=True)
    try:
        banner = read_until(proc, "Press Ctrl-C", timeout=600)
        secrets = json.loads((state / "state" / "secrets.json").read_text())
        logins = json.loads((state / "state" / "demo-logins.json").read_text())
        yield Suite(gateway=f"http://127.0.0.1:{ports['GATEWAY']}", admin_password=secrets["GATEWAY_ADMIN_PASSWORD"],
                    logins=logins, banner=banner)
    finally:
        stop_stack(proc)
