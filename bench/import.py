"""Benchmark of the HR bulk import: rows/s of a 100k-row CSV through the registry API, against raw COPY.

Run: `python bench/import.py [rows]`. Starts its own embedded PostgreSQL and runs the registry app
in-process (no broker: the outbox fills, nothing is published). Prints ratios, never asserts times.
The import does everything it does for real files (NFKC of every cell, ID numbers, namesake look-ups,
encryption, the outbox); the COPY baseline gets the rows already encrypted.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from devstack.embedded import EmbeddedPostgres, free_port  # noqa: E402
from services.registry.app import create_app  # noqa: E402
from services.registry.crypto import PersonalDataCipher  # noqa: E402
from services.registry.settings import RegistrySettings  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from shared.validators import id_number_check_char  # noqa: E402
from tests.support import TokenMint  # noqa: E402

STATIONS = ["乌兰镇社工站", "棋盘井镇社工站", "蒙西镇社工站", "木凯淖尔镇社工站", "苏米图苏木社工站",
            "阿尔巴斯苏木社工站"]
HEADER = ["姓名", "身份证号", "性别", "出生日期", "手机号", "学历", "政治面貌", "所在社工站", "岗位", "是否专职",
          "入职日期", "证书等级", "证书编号", "取得日期"]
LEVELS = ["助理社会工作师", "社会工作师", "高级社会工作师", "", ""]
LEVEL_EN = {"助理社会工作师": "assistant", "社会工作师": "intermediate", "高级社会工作师": "senior"}
# A worker's ID number and phone as the registry stores them (PersonalDataCipher.id_number_columns, phone_columns).
STORED = ("id_number_enc", "id_number_hash", "id_number_masked", "phone_enc", "phone_masked")


def make_rows(n: int) -> list[list[str]]:
    rng = random.Random(42)
    rows, seen = [], set()
    while len(rows) < n:
        birth = date(1960, 1, 1).toordinal() + rng.randrange(15000)
        b = date.fromordinal(birth)
        first17 = f"150624{b:%Y%m%d}{rng.randrange(1000):03d}"
        if first17 in seen:
            continue
        seen.add(first17)
        idn = first17 + id_number_check_char(first17)
        level = rng.choice(LEVELS)
        rows.append([f"工作者{len(rows)}", idn, "男" if int(idn[16]) % 2 else "女", b.isoformat(),
                     f"13{rng.randrange(10**9):09d}", "本科", "群众", rng.choice(STATIONS), "社工站社工", "是",
                     "2022-01-01", level, f"N{len(rows):09d}" if level else "", "2021-06-15" if level else ""])
    return rows


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def api_import(pg: EmbeddedPostgres, body: bytes) -> tuple[float, dict, float, dict]:
    pg.create_databases("bench_api")
    url = pg.url("bench_api")
    await asyncio.to_thread(upgrade, "registry", url)
    mint = TokenMint()
    settings = RegistrySettings(database_url=url, env="test", run_relay=False, run_consumer=False,
                                auth_jwks_json=mint.jwks_json)
    app = create_app(settings)
    headers = mint.headers("bureau_admin")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            centre = (await client.post("/v1/stations", headers=headers, json={
                "name": "鄂托克旗社工服务指导中心", "kind": "centre", "division_code": "150624"})).json()
            for name in STATIONS:
                r = await client.post("/v1/stations", headers=headers, json={
                    "name": name, "kind": "township", "division_code": "150624100", "parent_id": centre["id"]})
                r.raise_for_status()
            started = time.perf_counter()
            r = await client.post("/v1/workers/import", content=body,
                                  headers={**headers, "Content-Type": "text/csv"})
            elapsed = time.perf_counter() - started
            r.raise_for_status()
            totals = r.json()["totals"]
            started = time.perf_counter()  # the same file again: every row is looked up, compared, unchanged
            again = await client.post("/v1/workers/import", content=body,
                                      headers={**headers, "Content-Type": "text/csv"})
            again_s = time.perf_counter() - started
            again.raise_for_status()
            return elapsed, totals, again_s, again.json()["totals"]


async def raw_copy(pg: EmbeddedPostgres, rows: list[list[str]]) -> float:
    """COPY the same people, employments and certificates (already encrypted) straight into the tables."""
    pg.create_databases("bench_copy")
    url = pg.url("bench_copy")
    await asyncio.to_thread(upgrade, "registry", url)
    cipher = PersonalDataCipher.from_settings(RegistrySettings(env="test"))
    conn = await asyncpg.connect(pg.dsn("bench_copy"))
    try:
        station_ids = {}
        for name in STATIONS:
            station_ids[name] = await conn.fetchval(
                "INSERT INTO stations (id, name, kind, division_code) VALUES ($1, $2, 'township', '150624') "
                "RETURNING id", uuid.uuid4(), name)
        workers, employments, certificates = [], [], []
        for r in rows:
            wid = uuid.uuid4()
            stored = {**cipher.id_number_columns(r[1]), **cipher.phone_columns(r[4])}
            workers.append((wid, r[0], "male" if r[2] == "男" else "female", date.fromisoformat(r[3]),
                            *(stored[c] for c in STORED), r[5], r[6], True))
            employments.append((uuid.uuid4(), wid, station_ids[r[7]], date.fromisoformat(r[10]), True, r[8]))
            if r[11]:
                certificates.append((uuid.uuid4(), wid, LEVEL_EN[r[11]], r[12], date.fromisoformat(r[13]), "valid"))
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("workers", records=workers, columns=[
                "id", "name", "gender", "birth_date", *STORED, "education", "political_status", "full_time"])
            await conn.copy_records_to_table("employments", records=employments, columns=[
                "id", "worker_id", "station_id", "start_date", "full_time", "role"])
            await conn.copy_records_to_table("certificates", records=certificates, columns=[
                "id", "worker_id", "level", "certificate_no", "obtained_on", "status"])
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main(n: int) -> None:
    rows = make_rows(n)
    body = to_csv(rows)
    print(f"rows: {n}, CSV size: {len(body) / 2**20:.1f} MiB, certificates: {sum(1 for r in rows if r[11])}")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "data", free_port())
        pg.start()
        try:
            rss_before = peak_rss_mib()
            api_s, totals, again_s, again_totals = await api_import(pg, body)
            rss_after = peak_rss_mib()
            copy_s = await raw_copy(pg, rows)
        finally:
            pg.stop(mode="fast")
    print(f"totals: {totals}")
    print(f"API import:       {api_s:7.2f} s  {n / api_s:10,.0f} rows/s")
    print(f"re-import (same file, {again_totals['unchanged']} unchanged): {again_s:.2f} s  {n / again_s:,.0f} rows/s")
    print(f"raw asyncpg COPY: {copy_s:7.2f} s  {n / copy_s:10,.0f} rows/s (workers + employments + certificates)")
    print(f"ratio import/COPY rows/s: {copy_s / api_s:.3f} (goal >= 0.35)")
    print(f"peak RSS: {rss_after:.0f} MiB (before the import: {rss_before:.0f} MiB)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
