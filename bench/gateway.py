"""Benchmark: the same endpoint called directly and through the gateway, in one run.

Starts embedded PostgreSQL (the gateway's database), one small upstream FastAPI app and the gateway,
each as its own uvicorn process on a free port, then drives both with concurrent keep-alive clients and
prints requests/s, p50/p99 and the ratios (goals: throughput ratio >= 0.7, added p50 <= 1 ms).
Two load generators are used: httpx (what services use) and a minimal raw HTTP/1.1 client, to show
whether the client itself limits the figures.
Run: `.venv/bin/python bench/gateway.py [--seconds 5] [--concurrency 16]`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The load generator gets the same fix as the gateway (see services/gateway/proxy/upstream.py): without
# `sniffio` installed httpcore retries a failing import several times per request.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

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


async def load_httpx(url: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
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


async def load_raw(host: str, port: int, path: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    """Keep-alive HTTP/1.1 GETs over asyncio streams: far cheaper per request than httpx."""
    latencies: list[float] = []
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()
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


async def measure(args, up_port: int, gw_port: int, meter: CpuMeter) -> None:
    phases = [("httpx", PATH, 1), ("httpx", PATH, args.concurrency), ("raw client", PATH, 1),
              ("raw client", PATH, args.concurrency), ("httpx", LIST_PATH, args.concurrency),
              ("raw client", LIST_PATH, args.concurrency)]
    for client, path, concurrency in phases:
        if client == "httpx":
            direct = await load_httpx(f"http://127.0.0.1:{up_port}{path}", args.seconds, concurrency)
            gateway, cpu = await meter.run(
                load_httpx(f"http://127.0.0.1:{gw_port}/registry{path}", args.seconds, concurrency))
        else:
            direct = await load_raw("127.0.0.1", up_port, path, args.seconds, concurrency)
            gateway, cpu = await meter.run(
                load_raw("127.0.0.1", gw_port, f"/registry{path}", args.seconds, concurrency))
        report(f"{client}, {path}, {concurrency} in flight", direct, gateway, args.seconds, cpu)


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
            pg.create_databases("gateway")
            upgrade("gateway", pg.url("gateway"))
            up_port, gw_port = free_port(), free_port()
            env = {**os.environ, "PYTHONPATH": str(ROOT), "SOCIALWORK_ENV": "dev", "LOG_LEVEL": "WARNING",
                   "GATEWAY_DATABASE_URL": pg.url("gateway"), "REGISTRY_URL": f"http://127.0.0.1:{up_port}",
                   "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
            children.append(start_uvicorn(["bench.gateway:upstream_app", "--factory"], up_port, env,
                                          tmp_path / "upstream.log"))
            children.append(start_uvicorn(["services.gateway.app:create_app", "--factory", "--no-proxy-headers"],
                                          gw_port, env, tmp_path / "gateway.log"))
            for port, child, log in ((up_port, children[0], "upstream.log"), (gw_port, children[1], "gateway.log")):
                if not wait_for_port(port, 30) or child.poll() is not None:
                    print((tmp_path / log).read_text()[-2000:])
                    return 1
            meter = CpuMeter({"upstream": children[0].pid, "gateway": children[1].pid})
            with open("/proc/loadavg") as f:
                print(f"load average before: {f.read().split()[:3]}")
            asyncio.run(measure(args, up_port, gw_port, meter))
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
