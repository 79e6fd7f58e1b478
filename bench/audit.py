"""What the audit trail costs: a write request (sequential and 16 in flight) and the HR import of 10,000 rows,
with the trail on and off in the same run, on fresh databases, alternating to share the machine's noise.

Run: `python bench/audit.py [rounds] [import_rows]`. Starts its own embedded PostgreSQL; the registry app
runs in-process (no broker). "off" drops nothing: it disables the capture triggers and skips the
per-transaction actor setting, which is everything the trail adds. Prints figures, never asserts times.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

import shared.audit  # noqa: E402
from devstack.embedded import EmbeddedPostgres, free_port  # noqa: E402
from services.registry.app import create_app  # noqa: E402
from services.registry.settings import RegistrySettings  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from shared.validators import id_number_check_char  # noqa: E402
from tests.support import TokenMint  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)
CAPTURED = ("workers", "certificates", "employments", "trainings", "honours", "stations", "organizations")
ALL_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def writer_id_number(i: int) -> str:
    """Born in the 1940s: never one of the import's people (born 1960-2001)."""
    first17 = f"150624{date(1940, 1, 1) + timedelta(days=i // 400):%Y%m%d}{(i % 400) * 2 + 1:03d}"
    return first17 + id_number_check_char(first17)


async def one_round(pg: EmbeddedPostgres, mode: str, n: int, body: bytes, writes: int) -> dict:
    name = f"bench_audit_{mode}_{uuid.uuid4().hex[:6]}"
    pg.create_databases(name)
    url = pg.url(name)
    await asyncio.to_thread(upgrade, "registry", url)
    conn = await asyncpg.connect(pg.dsn(name))
    if mode == "off":
        for table in CAPTURED:
            for action in ("insert", "update", "delete"):
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_capture_{action}")
    shared.audit.SAFE_METHODS = ALL_METHODS if mode == "off" else frozenset({"GET", "HEAD", "OPTIONS"})
    mint = TokenMint()
    app = create_app(RegistrySettings(database_url=url, env="test", run_relay=False, run_consumer=False,
                                      auth_jwks_json=mint.jwks_json))
    headers = mint.headers("bureau_admin")
    result = {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     timeout=600) as client:
            centre = (await client.post("/v1/stations", headers=headers, json={
                "name": "鄂托克旗社工服务指导中心", "kind": "centre", "division_code": "150624"})).json()
            stations = []
            for station in bench_import.STATIONS:
                r = await client.post("/v1/stations", headers=headers, json={
                    "name": station, "kind": "township", "division_code": "150624100", "parent_id": centre["id"]})
                stations.append(r.json()["id"])

            async def create_worker(i: int) -> float:
                started = time.perf_counter()
                r = await client.post("/v1/workers", headers=headers, json={
                    "name": f"工作者{i}", "id_number": writer_id_number(i), "employment": {
                        "station_id": stations[i % len(stations)], "start_date": "2022-01-01", "full_time": True,
                        "role": "社工"}})
                assert r.status_code == 201, r.text
                return time.perf_counter() - started

            for i in range(20):  # warm-up
                await create_worker(3 * writes + i)
            latencies = [await create_worker(i) for i in range(writes)]
            result["write_p50_ms"] = statistics.median(latencies) * 1000
            result["write_mean_ms"] = statistics.fmean(latencies) * 1000
            started = time.perf_counter()
            for start in range(0, writes, 16):
                batch = range(writes + start, writes + min(start + 16, writes))
                await asyncio.gather(*(create_worker(i) for i in batch))
            result["write16_per_s"] = writes / (time.perf_counter() - started)
            started = time.perf_counter()
            r = await client.post("/v1/workers/import", content=body, headers={**headers, "Content-Type": "text/csv"})
            result["import_s"] = time.perf_counter() - started
            assert r.status_code == 200 and r.json()["totals"]["created"] == n, r.text[:300]
    result["audit_rows"] = await conn.fetchval("SELECT count(*) FROM audit_log")
    await conn.close()
    return result


async def main(rounds: int, n: int, writes: int = 300) -> None:
    body = bench_import.to_csv(bench_import.make_rows(n))
    results: dict[str, list[dict]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "data", free_port())
        pg.start()
        try:
            for _ in range(rounds):
                for mode in ("on", "off"):
                    results[mode].append(await one_round(pg, mode, n, body, writes))
                    print(mode, {k: round(v, 2) for k, v in results[mode][-1].items()}, flush=True)
        finally:
            pg.stop(mode="fast")

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"\n{writes} x POST /v1/workers with an employment (2 audit rows each), {rounds} rounds, medians:")
    print(f"  sequential p50: on {med('on', 'write_p50_ms'):.2f} ms, off {med('off', 'write_p50_ms'):.2f} ms "
          f"(+{med('on', 'write_p50_ms') - med('off', 'write_p50_ms'):.2f} ms)")
    print(f"  16 in flight:   on {med('on', 'write16_per_s'):.0f}/s, off {med('off', 'write16_per_s'):.0f}/s "
          f"(ratio {med('on', 'write16_per_s') / med('off', 'write16_per_s'):.2f})")
    print(f"HR import of {n} new rows: on {med('on', 'import_s'):.2f} s, off {med('off', 'import_s'):.2f} s "
          f"(ratio {med('on', 'import_s') / med('off', 'import_s'):.2f}); "
          f"audit rows in the 'on' database: {results['on'][0]['audit_rows']}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, int(sys.argv[2]) if len(sys.argv) > 2 else 10_000))
