"""Rate limits per caller: token buckets keyed by the token's subject, else by the address."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.app import create_app
from services.gateway.proxy.resilience import CircuitBreaker, RetryBudget
from services.gateway.ratelimit import TokenBuckets
from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import ADMIN
from tests.support import assert_problem, fresh_database, running_app

BURST = 4
# One token per 5 s: slow enough that no bucket refills while the test runs, even when a login (argon2) takes
# seconds on a loaded machine; at 2 per second the address bucket refilled under load and the test failed.
RATE = 0.2


@pytest.fixture(scope="module")
async def gw(pg):
    settings = GatewaySettings(database_url=await fresh_database(pg, "gateway"), env="test", admin_username=ADMIN[0],
                               admin_password=ADMIN[1], rate_limit_per_second=RATE, rate_limit_burst=BURST)
    async with running_app(create_app(settings)) as client:
        yield client


async def test_429_with_retry_after_per_caller(gw):
    token = (await gw.post("/auth/token", data={"grant_type": "password", "username": ADMIN[0],
                                                "password": ADMIN[1]})).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    statuses = [(await gw.get("/.well-known/jwks.json", headers=bearer)).status_code for _ in range(BURST)]
    assert statuses == [200] * BURST
    limited = await gw.get("/.well-known/jwks.json", headers=bearer)
    body = assert_problem(limited, 429)
    assert limited.headers["retry-after"] == "5" and body["request_id"] == limited.headers["x-request-id"]

    # The address's own bucket (one token spent on /auth/token) is separate from the subject's.
    anonymous = [(await gw.get("/.well-known/jwks.json")).status_code for _ in range(BURST)]
    assert anonymous == [200] * (BURST - 1) + [429]
    # An invalid token does not buy a fresh bucket: it counts against the address.
    assert (await gw.get("/.well-known/jwks.json", headers={"Authorization": "Bearer forged"})).status_code == 429
    assert (await gw.get("/healthz")).status_code == 200  # probes are never limited

    await asyncio.sleep(1 / RATE + 0.2)  # one token refilled
    assert (await gw.get("/.well-known/jwks.json", headers=bearer)).status_code == 200


def test_token_bucket_refill_and_wait():
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0
    now[0] = 0.5
    assert buckets.take("a") == 0 and buckets.take("a") > 0


def test_breaker_half_open_lets_one_trial_through():
    now = [0.0]
    breaker = CircuitBreaker(failures=2, open_seconds=5, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow() and breaker.retry_after() == 5
    now[0] = 5.0
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_retry_budget_is_bounded():
    now = [0.0]
    budget = RetryBudget(ratio=0.2, floor=2, clock=lambda: now[0])
    spent = sum(budget.withdraw() for _ in range(10))
    assert spent == 2  # the floor, then nothing until requests (or time) refill it
    for _ in range(11):  # 11 x 0.2 = 2.2 retries earned
        budget.request()
    assert budget.withdraw() and budget.withdraw() and not budget.withdraw()
