"""Benchmark: the same endpoint called directly and through the gateway, in one run.

Starts embedded PostgreSQL (the gateway's and the registry's databases), a trivial upstream FastAPI app,
the real registry service and the gateway, each as its own uvicorn process on a free port, then:

1. **Proxy clients**: the CPU one keep-alive GET to the trivial upstream costs the calling process, for
   the clients the gateway could use (httpx with one pool, httpx with its pool split in 8, aiohttp). These
   figures chose aiohttp for the proxy (services/gateway/proxy/upstream.py).
2. **Trivial upstream** (a no-op JSON endpoint behind the `subsidy` route): the gateway's cost at its most
   visible. Two load generators: httpx and a minimal raw HTTP/1.1 client, to show when the load generator
   itself is the limit.
3. **Real endpoint**: the registry's `GET /v1/workers` (50 workers, a bearer token verified, PostgreSQL),
   through `/registry/v1/workers` and directly, with the same token.

Prints requests/s, p50/p99, the ratios (goals: throughput ratio >= 0.7, added p50 <= 1 ms) and the CPU
each process spent per request. The load generator, the gateway and the upstream share this machine's
cores: on 2 cores a saturated run measures CPU, of which the gateway adds its own share.
Run: `.venv/bin/python bench/gateway.py [--seconds 5] [--concurrency 16]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from devstack.api import Api  # noqa: E402
from devstack.demo_data import demo_people  # noqa: E402
from devstack.embedded import EmbeddedPostgres, free_port, wait_for_port  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

PATH = "/v1/ping"
LIST_PATH = "/v1/workers"


def upstream_app():
    """A service endpoint of typical size: a small JSON document."""
    from fastapi import FastAPI  # noqa: PLC0415

    app = FastAPI()

    from datetime import date  # noqa: PLC0415
    from uuid import UUID, uuid5  # noqa: PLC0415

    from pydantic import BaseModel  # noqa: PLC0415

    class WorkerRead(BaseModel):
        id: UUID
        name: str
        id_number_masked: str
        station_ids: list[UUID]
        level: str | None
        registered_on: date | None

    class WorkerPage(BaseModel):
        items: list[WorkerRead]
        next_cursor: str | None

    ns = UUID(int=1)
    page = [WorkerRead(id=uuid5(ns, str(i)), name=f"worker {i}", id_number_masked="150624********1234",
                       station_ids=[uuid5(ns, f"s{i % 6}")], level="assistant", registered_on=date(2023, 3, 1))
            for i in range(50)]

    @app.get(PATH)
    async def ping() -> dict:
        return {"status": "ok", "service": "registry", "items": list(range(20))}

    @app.get(LIST_PATH, response_model=WorkerPage)
    async def workers() -> WorkerPage:
        """A list page shaped like the services' (50 validated items, no database)."""
        return WorkerPage(items=page, next_cursor=None)

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    return app


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def load_httpx(url: str, seconds: float, concurrency: int, headers: dict | None = None
                     ) -> tuple[int, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        for _ in range(concurrency):  # warm the connections
            (await client.get(url)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies


async def load_raw(host: str, port: int, path: str, seconds: float, concurrency: int, headers: dict | None = None
                   ) -> tuple[int, list[float]]:
    """Keep-alive HTTP/1.1 GETs over asyncio streams: far cheaper per request than httpx."""
    latencies: list[float] = []
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n{extra}\r\n".encode()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:200])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): robust to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    def __init__(self, pids: dict[str, int]):
        self.pids = pids

    async def run(self, coro) -> tuple[tuple[int, list[float]], dict[str, float]]:
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        result = await coro
        used = {name: cpu_seconds(pid) - before[name] for name, pid in self.pids.items()}
        return result, {name: used[name] / max(result[0], 1) * 1e6 for name in used}  # CPU microseconds/request


def start_uvicorn(target: list[str], port: int, env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
    return subprocess.Popen([sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
                             "--no-access-log", "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=out, stderr=out)


def report(label: str, direct: tuple[int, list[float]], gateway: tuple[int, list[float]], seconds: float,
           cpu: dict[str, float] | None = None) -> None:
    d_rps, g_rps = direct[0] / seconds, gateway[0] / seconds
    d50, d99 = pct(direct[1], 50) * 1000, pct(direct[1], 99) * 1000
    g50, g99 = pct(gateway[1], 50) * 1000, pct(gateway[1], 99) * 1000
    print(f"[{label}] direct : {d_rps:8.0f} req/s  p50 {d50:6.2f} ms  p99 {d99:6.2f} ms")
    print(f"[{label}] gateway: {g_rps:8.0f} req/s  p50 {g50:6.2f} ms  p99 {g99:6.2f} ms")
    print(f"[{label}] throughput ratio gateway/direct = {g_rps / d_rps:.2f} (goal >= 0.7); "
          f"added p50 = {g50 - d50:.2f} ms (goal <= 1 ms)")
    if cpu:
        print(f"[{label}] CPU per request through the gateway: gateway {cpu['gateway']:.0f} us, "
              f"upstream {cpu['upstream']:.0f} us")


async def proxy_clients(url: str, concurrency: int, requests: int = 4000) -> None:
    """CPU per keep-alive GET in this process, for each client the proxy could use; same upstream, same load."""

    async def timed(name: str, one) -> None:
        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm the connections
        left = itertools.count()
        started_cpu, started = time.process_time(), time.perf_counter()

        async def worker() -> None:
            while next(left) < requests:
                await one()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        print(f"[proxy client, {concurrency} in flight] {name:18s}: {cpu / requests * 1e6:5.0f} us CPU/request, "
              f"{requests / wall:6.0f} req/s")

    def httpx_caller(transports: list[httpx.AsyncHTTPTransport]):
        rotation = itertools.cycle(transports)

        async def one() -> None:
            response = await next(rotation).handle_async_request(httpx.Request("GET", url))
            await response.aread()
            await response.aclose()
        return one

    total = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    shard = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    for name, transports in (("httpx, 1 pool", [httpx.AsyncHTTPTransport(limits=total)]),
                             ("httpx, 8 pools", [httpx.AsyncHTTPTransport(limits=shard) for _ in range(8)])):
        await timed(name, httpx_caller(transports))
        for transport in transports:
            await transport.aclose()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), auto_decompress=False) as session:
        async def one() -> None:
            async with session.get(url) as response:
                await response.read()
        await timed("aiohttp", one)


async def compare(label: str, direct_url: str, gateway_url: str, args, meter: CpuMeter, *, client: str,
                  concurrency: int, headers: dict | None = None) -> None:
    if client == "httpx":
        direct = await load_httpx(direct_url, args.seconds, concurrency, headers)
        gateway, cpu = await meter.run(load_httpx(gateway_url, args.seconds, concurrency, headers))
    else:
        d, g = httpx.URL(direct_url), httpx.URL(gateway_url)
        direct = await load_raw(d.host, d.port, d.raw_path.decode(), args.seconds, concurrency, headers)
        gateway, cpu = await meter.run(load_raw(g.host, g.port, g.raw_path.decode(), args.seconds, concurrency,
                                                headers))
    report(f"{label}, {client}, {concurrency} in flight", direct, gateway, args.seconds, cpu)


async def measure(args, up_port: int, registry_port: int, gw_port: int, token: str,
                  meters: dict[str, CpuMeter]) -> None:
    for concurrency in (1, args.concurrency):
        await proxy_clients(f"http://127.0.0.1:{up_port}{PATH}", concurrency)
    trivial = meters["trivial"]
    for client, path, concurrency in [("httpx", PATH, 1), ("httpx", PATH, args.concurrency), ("raw", PATH, 1),
                                      ("raw", PATH, args.concurrency), ("raw", LIST_PATH, args.concurrency)]:
        await compare(f"trivial {path}", f"http://127.0.0.1:{up_port}{path}",
                      f"http://127.0.0.1:{gw_port}/subsidy{path}", args, trivial, client=client,
                      concurrency=concurrency)
    auth = {"Authorization": f"Bearer {token}"}
    for client, concurrency in [("raw", 1), ("httpx", args.concurrency), ("raw", args.concurrency)]:
        await compare("registry GET /v1/workers", f"http://127.0.0.1:{registry_port}/v1/workers",
                      f"http://127.0.0.1:{gw_port}/registry/v1/workers", args, meters["registry"],
                      client=client, concurrency=concurrency, headers=auth)


def seed_registry(gateway: str, username: str, password: str, workers: int = 50) -> str:
    """An admin token, and `workers` workers created through the gateway; returns the token."""
    admin = Api.login(gateway, username, password)
    for person in demo_people()[:workers]:
        admin.post("/registry/v1/workers", {"name": person["姓名"], "id_number": person["身份证号"],
                                             "phone": person["手机号"], "full_time": True})
    admin.close()
    return admin.token


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}; load generator, gateway and upstream share them")

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        tmp_path = Path(tmp)
        pg = EmbeddedPostgres(tmp_path / "pg", free_port(), fast=True)
        pg.start()
        children: list[subprocess.Popen] = []
        try:
            pg.create_databases("gateway", "registry")
            upgrade("gateway", pg.url("gateway"))
            upgrade("registry", pg.url("registry"))
            up_port, registry_port, gw_port = free_port(), free_port(), free_port()
            admin = ("admin", "bench-" + os.urandom(6).hex())
            # The trivial upstream stands behind the `subsidy` route, the real registry behind `registry`.
            # The registry runs without its outbox relay: no broker is needed to answer reads.
            env = {**os.environ, "PYTHONPATH": str(ROOT), "SOCIALWORK_ENV": "dev", "LOG_LEVEL": "WARNING",
                   "GATEWAY_DATABASE_URL": pg.url("gateway"), "REGISTRY_DATABASE_URL": pg.url("registry"),
                   "SUBSIDY_URL": f"http://127.0.0.1:{up_port}", "REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
                   "AUTH_JWKS_URL": f"http://127.0.0.1:{gw_port}/.well-known/jwks.json",
                   "REGISTRY_RUN_RELAY": "false", "REGISTRY_RUN_CONSUMER": "false",
                   "GATEWAY_ADMIN_USERNAME": admin[0], "GATEWAY_ADMIN_PASSWORD": admin[1],
                   "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
            started = {
                "upstream": (up_port, start_uvicorn(["bench.gateway:upstream_app", "--factory"], up_port, env,
                                                    tmp_path / "upstream.log")),
                "registry": (registry_port, start_uvicorn(["services.registry.app:create_app", "--factory"],
                                                          registry_port, env, tmp_path / "registry.log")),
                "gateway": (gw_port, start_uvicorn(["services.gateway.app:create_app", "--factory",
                                                    "--no-proxy-headers"], gw_port, env, tmp_path / "gateway.log")),
            }
            children.extend(child for _, child in started.values())
            for name, (port, child) in started.items():
                if not wait_for_port(port, 30) or child.poll() is not None:
                    print((tmp_path / f"{name}.log").read_text()[-2000:])
                    return 1
            token = seed_registry(f"http://127.0.0.1:{gw_port}", *admin)
            gateway_pid = started["gateway"][1].pid
            meters = {"trivial": CpuMeter({"upstream": started["upstream"][1].pid, "gateway": gateway_pid}),
                      "registry": CpuMeter({"upstream": started["registry"][1].pid, "gateway": gateway_pid})}
            with open("/proc/loadavg") as f:
                print(f"load average before: {f.read().split()[:3]}")
            asyncio.run(measure(args, up_port, registry_port, gw_port, token, meters))
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
