"""The gateway's per-caller rate limit holds against a real burst: 429 problem+json with Retry-After."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.security.conftest import RATE_BURST, RATE_PER_SECOND
from tests.support import assert_problem

# Bursts of twice the bucket, repeated until the gateway refuses one (at most LIMIT_WINDOW seconds): the client
# must send faster than the bucket refills (RATE_PER_SECOND) for the limit to show. The bursts go over raw
# keep-alive HTTP/1.1 connections: an httpx client spends a few ms of CPU per request, and with the suite's other
# worker on the same two cores it sent about RATE_PER_SECOND and was never refused.
BURST_REQUESTS = 2 * RATE_BURST
LIMIT_WINDOW = 60.0
CONCURRENCY = 32


async def _raw_gets(url: str, headers: dict, more, connections: int = CONCURRENCY) -> list[httpx.Response]:
    """GETs of `url` on `connections` keep-alive connections for as long as `more()` is true."""
    target = httpx.URL(url)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n{extra}\r\n".encode()
    responses: list[httpx.Response] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            while more():
                writer.write(request)
                status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                fields = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]
                length = next(int(v) for k, v in fields if k.lower() == "content-length")  # the gateway's own answers
                responses.append(httpx.Response(int(status.split()[1]), headers=fields,
                                                content=await reader.readexactly(length)))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return responses


async def _burst(url: str, headers: dict) -> list[httpx.Response]:
    sent = iter(range(BURST_REQUESTS))
    return await _raw_gets(url, headers, lambda: next(sent, None) is not None)


async def test_a_burst_above_the_limit_gets_429_with_retry_after(suite):
    api = suite.login("auditor1")
    headers = {"Authorization": f"Bearer {api.token}"}
    responses: list[httpx.Response] = []
    started = time.monotonic()
    while time.monotonic() - started < LIMIT_WINDOW and not any(r.status_code == 429 for r in responses):
        responses += await _burst(f"{suite.gateway}/.well-known/jwks.json", headers)
    elapsed = time.monotonic() - started
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) + len(limited) == len(responses), {r.status_code for r in responses}
    # The bucket holds RATE_BURST and refills RATE_PER_SECOND: no more than that can have passed.
    assert RATE_BURST <= len(ok) <= RATE_BURST + RATE_PER_SECOND * elapsed + 5, (len(ok), elapsed)
    assert limited, f"{len(ok)} calls in {elapsed:.1f}s, none refused: the client never outran the refill"
    for response in limited[:20]:
        assert_problem(response, 429)
        assert int(response.headers["retry-after"]) >= 1

    # The same caller's proxied API calls are limited too. A proxied call is slower than the refill on a busy
    # machine, so proxied calls alone may never empty the bucket: they go out while fast calls of the same caller
    # keep it empty for as long as they last, and some of them must be refused.
    done = asyncio.Event()
    drainers = asyncio.create_task(_raw_gets(f"{suite.gateway}/.well-known/jwks.json", headers,
                                             lambda: not done.is_set(), connections=CONCURRENCY // 2))
    proxied: list[httpx.Response] = []
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            while time.monotonic() - started < LIMIT_WINDOW and not any(r.status_code == 429 for r in proxied):
                proxied += await asyncio.gather(*(client.get(f"{suite.gateway}/registry/v1/stations")
                                                  for _ in range(CONCURRENCY)))
    finally:
        done.set()
        await drainers
    elapsed = time.monotonic() - started
    statuses = {r.status_code for r in proxied}
    assert statuses <= {200, 429}, statuses
    assert 429 in statuses, (len(proxied), elapsed)
    retry_after = max(float(r.headers["retry-after"]) for r in proxied if r.status_code == 429)
    await asyncio.sleep(retry_after + 0.5)
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        assert (await client.get(f"{suite.gateway}/registry/v1/stations")).status_code == 200

    # Another caller was never affected: buckets are per caller.
    other = suite.login("manager1")
    assert other.http.get("/registry/v1/stations").status_code == 200
