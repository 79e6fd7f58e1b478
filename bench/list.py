"""Benchmark: the registry's `GET /v1/workers?limit=50`, CPU the service spends per request, against a baseline.

Starts its own embedded PostgreSQL and the real registry service (uvicorn, its own process, no broker), loads
`--workers` people through the service's own import (so every stored column is written as in production),
then, in one run:

1. **the service**: calls of `GET /v1/workers?limit=50` with a token of `--role` (bureau_admin by default; or
   station_manager, of the one station every imported worker is employed at: the console's usual list), the
   masked view as the console asks for it, `--concurrency` in flight; the CPU time of the service's process
   (user + system, from /proc) divided by the requests;
2. **the baseline**, in this process: the same 51 rows (a page and the look-ahead row) with the same columns
   fetched with raw asyncpg, as many times; this process's CPU time per fetch.

`--rounds` alternate the two (`--requests` in all), so both see the same machine: on a shared machine CPU
time per request moves with the load too, and the ratio per round moves much less. Prints both, their
ratio and the service's latency; goal: <= 1 ms of service CPU per request (issue 16).
Never asserts times. Run: `.venv/bin/python bench/list.py [--workers 1000] [--requests 2000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from devstack.embedded import EmbeddedPostgres, free_port, wait_for_port  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from shared.validators import id_number_check_char  # noqa: E402
from tests.support import TokenMint  # noqa: E402

PAGE = 50
# What a page reads: the columns of the masked view, in the endpoint's order (created_at, id).
BASELINE_SQL = (
    "SELECT id, name, gender, birth_date, id_number_masked, phone_masked, education, political_status, full_time, "
    "notes, registered_on, registration_division_code, created_at, updated_at FROM workers "
    "ORDER BY created_at, id LIMIT $1")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def people(count: int, station_id: str) -> list[dict]:
    """Valid, distinct people for the import (ID numbers with their check character, phones), employed at the
    station."""
    rows = []
    for n in range(count):
        born = date(1970, 1, 1) + timedelta(days=n * 7)
        first17 = f"150624{born:%Y%m%d}{n % 1000:03d}"
        rows.append({"name": f"工作者{n}", "id_number": first17 + id_number_check_char(first17),
                     "phone": f"139{n:08d}", "full_time": "是", "station_id": station_id,
                     "start_date": "2022-01-01"})
    return rows


async def measure(url: str, pid: int, dsn: str, headers: dict, requests: int, concurrency: int,
                  rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Rounds of (requests to the service, the same number of baseline fetches), so that both see the same
    machine: the CPU per request of the service, per fetch of the baseline, and the latencies."""
    per_request, per_fetch, latencies = [], [], []
    conn = await asyncpg.connect(dsn)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(20):  # warm up: connections, caches, the first statements prepared
            (await client.get("/v1/workers", params={"limit": PAGE})).raise_for_status()
            await conn.fetch(BASELINE_SQL, PAGE + 1)
        n = max(1, requests // rounds)
        for _ in range(rounds):
            async def worker(left) -> None:
                for _ in left:
                    started = time.perf_counter()
                    response = await client.get("/v1/workers", params={"limit": PAGE})
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200 and len(response.json()["items"]) == PAGE, response.text

            before = cpu_seconds(pid)
            left = iter(range(n))
            await asyncio.gather(*(worker(left) for _ in range(concurrency)))
            per_request.append((cpu_seconds(pid) - before) / n)
            before = time.process_time()
            for _ in range(n):
                rows = await conn.fetch(BASELINE_SQL, PAGE + 1)
                assert len(rows) == PAGE + 1
            per_fetch.append((time.process_time() - before) / n)
    await conn.close()
    return per_request, per_fetch, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--role", choices=("bureau_admin", "station_manager"), default="bureau_admin")
    args = parser.parse_args()
    mint = TokenMint()
    with tempfile.TemporaryDirectory(prefix="bench-list-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", free_port(), fast=True)
        pg.start()
        child = None
        try:
            pg.create_databases("registry")
            upgrade("registry", pg.url("registry"))
            port = free_port()
            env = {**os.environ, "PYTHONPATH": str(ROOT), "SOCIALWORK_ENV": "dev", "LOG_LEVEL": "WARNING",
                   "REGISTRY_DATABASE_URL": pg.url("registry"), "AUTH_JWKS_JSON": mint.jwks_json,
                   "REGISTRY_RUN_RELAY": "false", "REGISTRY_RUN_CONSUMER": "false"}
            log = open(Path(tmp) / "registry.log", "ab")  # noqa: SIM115 (kept open for the child's lifetime)
            child = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "services.registry.app:create_app", "--factory", "--host",
                 "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=log)
            if not wait_for_port(port, 60) or child.poll() is not None:
                print((Path(tmp) / "registry.log").read_text()[-2000:])
                return 1
            url = f"http://127.0.0.1:{port}"
            admin = mint.headers("bureau_admin", sub="bench-admin", ttl=3600)
            station = httpx.post(f"{url}/v1/stations", headers=admin, json={
                "name": "基准社工站", "kind": "township", "division_code": "150624100"})
            assert station.status_code == 201, station.text
            station_id = station.json()["id"]
            imported = httpx.post(f"{url}/v1/workers/import", json=people(args.workers, station_id), headers=admin,
                                  timeout=600)
            assert imported.status_code == 200 and imported.json()["totals"]["created"] == args.workers, \
                imported.text[:500]
            caller = admin if args.role == "bureau_admin" else mint.headers(
                "station_manager", sub="bench-manager", ttl=3600, station_ids=[station_id])
            with open("/proc/loadavg") as f:
                load_before = f.read().split()[:3]
            per_request, per_fetch, latencies = asyncio.run(measure(
                url, child.pid, pg.dsn("registry"), caller, args.requests, args.concurrency, args.rounds))
            with open("/proc/loadavg") as f:
                load_after = f.read().split()[:3]
        finally:
            if child is not None:
                child.terminate()
                child.wait(10)
            pg.stop()
    p50 = statistics.median(latencies) * 1000
    p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000
    ratios = sorted(r / f for r, f in zip(per_request, per_fetch, strict=True))
    print(f"{os.cpu_count()} cpus; load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(f"registry GET /v1/workers?limit={PAGE} ({args.workers:,} workers, {args.role}, masked), "
          f"{args.requests:,} requests in {args.rounds} rounds, {args.concurrency} in flight: "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"  service CPU per request, median of rounds: {statistics.median(per_request) * 1e6:7.0f} us "
          f"(min {min(per_request) * 1e6:.0f}; goal <= 1000 us)")
    print(f"  baseline, raw asyncpg, the same 51 rows:   {statistics.median(per_fetch) * 1e6:7.0f} us "
          f"(min {min(per_fetch) * 1e6:.0f}; this process, same columns)")
    print(f"  ratio service / baseline, per round:       {statistics.median(ratios):7.1f}x "
          f"(from {ratios[0]:.1f} to {ratios[-1]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
