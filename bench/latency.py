"""Benchmark: a certificate recorded in the registry until the subsidy's eligibility shows it, at idle and during a
burst of service-month events (a month end: every station confirms at once).

In-process, not through the gateway (a whole stack of processes is too heavy for `make bench`): the registry app
(its API, outbox and relay) -> broker -> the subsidy app (its inbox and its eligibility API), and for the burst the
projects database's outbox with its relay, each service on its own database of one embedded PostgreSQL, one embedded
broker (Tansu). A sample: `POST /v1/workers/{id}/certificates` answered 201, then `GET .../eligibility` every 5 ms
until a month shows the certificate's level (404 until then). Prints p50/p99 (ms) at idle and during the burst, and
how fast the burst drained. Never asserts timings. Usage: .venv/bin/python bench/latency.py [--burst N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, free_port  # noqa: E402
from services.registry.app import create_app as registry_app  # noqa: E402
from services.registry.settings import RegistrySettings  # noqa: E402
from services.subsidy.app import create_app as subsidy_app  # noqa: E402
from services.subsidy.eligibility.rules import month_str  # noqa: E402
from services.subsidy.settings import SubsidySettings  # noqa: E402
from shared.contracts.events import TOPICS, EventType, ServiceMonth, all_topics, make_event  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.events.kafka import ensure_topics  # noqa: E402
from shared.events.outbox import OutboxRelay, enqueue_many  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from tests.registry.conftest import Api  # noqa: E402
from tests.support import TokenMint, running_app  # noqa: E402

POLICY = "otog-talent-subsidy"
PER_REPORT = 500  # service months per business transaction (a station's report confirmed)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def sample(api: Api, subsidy, station_id, auditor: dict) -> float:
    """One certificate, from the request to the first eligibility answer that shows it (ms)."""
    worker = (await api.worker(station_id=station_id))["id"]
    started = time.perf_counter()
    response = await api.client.post(f"/v1/workers/{worker}/certificates", headers=api.admin, json={
        "level": "assistant", "certificate_no": f"BENCH-{uuid.uuid4().hex[:10]}", "obtained_on": "2024-01-15"})
    assert response.status_code == 201, response.text
    while True:
        response = await subsidy.get(f"/v1/workers/{worker}/eligibility", headers=auditor,
                                     params={"policy": POLICY, "through": "2024-06"})
        assert response.status_code in (200, 404), response.text  # 404: no fact of the worker yet
        if response.status_code == 200 and any(m["level"] for m in response.json()["months"]):
            return (time.perf_counter() - started) * 1000
        if time.perf_counter() - started > 120:
            raise SystemExit("error: a certificate did not show in eligibility within 120 s")
        await asyncio.sleep(0.005)


async def burst(url: str, n: int) -> None:
    """n service months written to the projects outbox as stations confirm their reports, as fast as they can."""
    engine = make_engine(url, pool_size=2)
    sessions = make_sessionmaker(engine)
    station = uuid.uuid4()
    workers = [uuid.uuid4() for _ in range(max(1, n // 12))]
    for offset in range(0, n, PER_REPORT):
        events = [make_event(EventType.SERVICE_MONTH, ServiceMonth(
            worker_id=workers[i % len(workers)], station_id=station, month=month_str(2023 * 12 + i // len(workers)),
            full_time=True, service_hours=168, revision=1), source="projects")
            for i in range(offset, min(n, offset + PER_REPORT))]
        async with sessions() as session, session.begin():
            await enqueue_many(session, events, topics=TOPICS)
    await engine.dispose()


async def main(n_burst: int, idle_samples: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    pg = EmbeddedPostgres(tmp / "pg", free_port(), fast=True)
    broker = EmbeddedBroker(free_port(), log_path=tmp / "tansu.log")
    pg.start()
    broker.start()
    try:
        pg.create_databases("registry", "subsidy", "projects")
        for service in ("registry", "subsidy", "projects"):
            await asyncio.to_thread(upgrade, service, pg.url(service))
        await ensure_topics(broker.bootstrap, all_topics())
        mint = TokenMint()
        common = {"kafka_bootstrap_servers": broker.bootstrap, "auth_jwks_json": mint.jwks_json, "env": "test",
                  "log_level": "WARNING"}
        registry = registry_app(RegistrySettings(database_url=pg.url("registry"), run_consumer=False, **common))
        subsidy = subsidy_app(SubsidySettings(database_url=pg.url("subsidy"), run_relay=False, **common))
        auditor = mint.headers("auditor")
        async with running_app(registry) as reg, running_app(subsidy) as sub:
            consumer = sub.app.state.consumer
            await asyncio.wait_for(consumer.assigned.wait(), 120)  # the group join is slow on this broker: not timed
            api = Api(reg, mint)
            station = (await api.station())["id"]
            await sample(api, sub, station, auditor)  # warm-up, not counted
            idle = [await sample(api, sub, station, auditor) for _ in range(idle_samples)]

            projects_engine = make_engine(pg.url("projects"), pool_size=2)
            relay = OutboxRelay(engine=projects_engine, bootstrap=broker.bootstrap, service="projects")
            relay_task = asyncio.create_task(relay.run())
            base = consumer.processed
            started = time.perf_counter()
            writer = asyncio.create_task(burst(pg.url("projects"), n_burst))
            during: list[float] = []
            while consumer.processed - base < n_burst:  # samples while the burst is being applied
                during.append(await sample(api, sub, station, auditor))
                await asyncio.sleep(0.1)
            drained = time.perf_counter() - started
            await writer
            relay.stop()
            await relay_task
            await projects_engine.dispose()
    finally:
        broker.stop()
        pg.stop(mode="immediate")
    result = {"idle_p50_ms": pct(idle, 50), "idle_p99_ms": pct(idle, 99), "burst_p50_ms": pct(during, 50),
              "burst_p99_ms": pct(during, 99), "burst_samples": len(during), "burst_events": n_burst,
              "burst_drained_s": drained}
    print(f"certificate -> eligibility, at idle ({idle_samples} samples): p50 {result['idle_p50_ms']:.0f} ms, "
          f"p99 {result['idle_p99_ms']:.0f} ms")
    print(f"during a burst of {n_burst:,} service months ({len(during)} samples): p50 {result['burst_p50_ms']:.0f} ms, "
          f"p99 {result['burst_p99_ms']:.0f} ms; the burst written, relayed and applied in {drained:.1f} s "
          f"({n_burst / drained:,.0f} events/s)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=20_000, help="service-month events in the burst")
    parser.add_argument("--idle-samples", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = asyncio.run(main(args.burst, args.idle_samples))
    if args.json:
        args.json.write_text(json.dumps(figures))
