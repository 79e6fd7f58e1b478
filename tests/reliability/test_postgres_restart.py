"""PostgreSQL restarted under load against the registry as a real process: not ready while it is down, ready
again without a service restart, and every 201 answered was really committed (with its outbox event)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date, timedelta

import httpx

from shared.validators import id_number_check_char
from tests.reliability.conftest import rows
from tests.support import fresh_database

CLIENTS = 4  # concurrent writers
DOWN_FOR = 3.0  # seconds PostgreSQL stays down
MAX_REQUESTS = 3000  # a bound on the load, whatever happens


def id_number(i: int) -> str:
    first17 = f"150624{(date(1970, 1, 1) + timedelta(days=i)).strftime('%Y%m%d')}{(i % 500) * 2 + 1:03d}"
    return first17 + id_number_check_char(first17)


async def test_postgres_restart_under_load_answers_201_only_for_what_committed(private_pg, private_broker,
                                                                              service_process, mint):
    url = await fresh_database(private_pg, "registry")
    registry = service_process("registry", database_url=url, bootstrap=private_broker.bootstrap)
    await asyncio.to_thread(registry.start)
    pid = registry.process.pid
    admin = mint.headers("bureau_admin", sub="reliability-admin", ttl=3600)
    created: list[str] = []
    statuses: Counter = Counter()
    readiness: list[tuple[str, int | str]] = []  # (phase, status or the client's error)
    phase = "up"
    stop = asyncio.Event()
    seq = iter(range(MAX_REQUESTS))

    async def writer(client: httpx.AsyncClient) -> None:
        for i in seq:
            if stop.is_set():
                return
            body = {"name": f"压测{i}", "id_number": id_number(i), "phone": f"139{i:08d}"}
            try:
                r = await client.post("/v1/workers", json=body, headers=admin)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            statuses[r.status_code] += 1
            if r.status_code == 201:
                created.append(r.json()["id"])
            elif r.status_code >= 500:
                await asyncio.sleep(0.05)

    async def prober(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            asked_in = phase  # the phase when the probe was sent, not when it was answered
            try:
                status = (await client.get("/readyz", timeout=5)).status_code
            except httpx.HTTPError as exc:
                status = repr(exc)
            readiness.append((asked_in, status))
            await asyncio.sleep(0.1)

    async def ready_again() -> None:
        while not readiness or readiness[-1] != ("restarted", 200):  # noqa: ASYNC110 - the prober's record
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(base_url=registry.base_url, timeout=30) as client:
        tasks = [asyncio.create_task(writer(client)) for _ in range(CLIENTS)]
        tasks.append(asyncio.create_task(prober(client)))
        try:
            await asyncio.sleep(2.0)
            before_outage = len(created)
            await asyncio.to_thread(private_pg.stop)  # fast shutdown: in-flight transactions are aborted
            phase = "down"
            await asyncio.sleep(DOWN_FOR)
            phase = "starting"  # probes sent while it starts may see it up already
            await asyncio.to_thread(private_pg.start)
            phase = "restarted"
            started = time.monotonic()
            await asyncio.wait_for(ready_again(), timeout=30)
            recovered_in = time.monotonic() - started
            after_recovery = len(created)
            await asyncio.sleep(2.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    assert registry.process.poll() is None and registry.process.pid == pid  # the same process throughout
    down = [s for p, s in readiness if p == "down"]
    assert down and all(s == 503 for s in down), [s for s in down if s != 503]
    assert before_outage > 0 and len(created) > after_recovery  # writes succeeded before and after
    failed = {s: n for s, n in statuses.items() if s != 201}
    assert failed and set(failed) == {503}, statuses  # the outage was felt, and answered as retryable

    stored = {str(r[0]) for r in await rows(url, "SELECT id FROM workers WHERE id = ANY(CAST(:ids AS uuid[]))",
                                            ids=created)}
    assert len(created) == len(set(created)) and stored == set(created)
    extra = await rows(url, "SELECT count(*) FROM workers WHERE NOT (id = ANY(CAST(:ids AS uuid[])))", ids=created)
    print(f"\n{sum(statuses.values())} requests: {dict(statuses)}; {len(created)} answered 201, all stored; "
          f"stored without a 201 (answer lost): {extra[0][0]}; ready again {recovered_in:.1f}s after the restart")
