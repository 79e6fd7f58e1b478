"""The whole suite as real processes (no demo data), and a bureau_admin token for the fuzzer."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from devstack.api import Api
from tests.fuzz.seed import seed
from tests.support import launch_stack, read_until, stop_stack


@dataclass
class Stack:
    gateway: str
    admin_token: str
    state_dir: object
    known_ids: dict[str, list[str]]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("fuzz")
    # The fuzzer is one caller sending thousands of requests: a rate limit far above its pace keeps 429s from
    # answering most of them (the limiter stays in the path, so it is fuzzed too). Tokens outlive the run.
    env = {"GATEWAY_RATE_LIMIT_PER_SECOND": "100000", "GATEWAY_RATE_LIMIT_BURST": "100000",
           "GATEWAY_ACCESS_TOKEN_TTL": "3600"}
    proc, ports = launch_stack(state, env, demo=False)
    try:
        read_until(proc, "Press Ctrl-C", timeout=600)
        secrets = json.loads((state / "state" / "secrets.json").read_text())
        gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
        admin = Api.login(gateway, "admin", secrets["GATEWAY_ADMIN_PASSWORD"])
        known_ids = seed(admin)
        admin.close()
        yield Stack(gateway=gateway, admin_token=admin.token, state_dir=state / "state", known_ids=known_ids)
    finally:
        stop_stack(proc)
