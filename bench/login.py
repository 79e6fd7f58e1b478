"""Benchmark: a real person's sign-in while 30 guessers hammer the token endpoint, with and without throttling.

Starts embedded PostgreSQL and the real gateway (its own uvicorn process, behind a "proxy" it trusts for
X-Forwarded-For, so each guesser and the person have their own address). For each configuration (`throttled`:
now; `prompt`: throttled, but refusals answered at once, GATEWAY_LOGIN_REFUSAL_DELAY_SECONDS=0, as before
that setting; `unthrottled`: GATEWAY_LOGIN_THROTTLE_ENABLED=false, as before the throttle) it measures:

1. **idle**: the person signs in (password grant, argon2 check) `--logins` times, one at a time;
2. **under attack**: 30 guessers (each its own address) send wrong passwords for the victim's account as
   fast as they are answered, never waiting for Retry-After; after `--warmup` seconds the person signs in
   `--logins` times again, one at a time, while the attack goes on.

Prints p50/p95 of the person's sign-ins, the ratio attack/idle, and how the guesses were answered (400 = the
password was checked, 429 = refused before any hashing). Goal: p95 under attack below 500 ms.
Run: `.venv/bin/python bench/login.py [--logins 20] [--warmup 5] [--guessers 30] [--configs throttled,prompt]`
(the unthrottled run takes long: every guess is an argon2 check).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from devstack.embedded import EmbeddedPostgres, free_port, wait_for_port  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

PERSON = ("admin", "bench-" + os.urandom(6).hex())
# One key for every gateway of the run: each seals its signing keys with it and opens the ones before it sealed.
KEY_ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
VICTIM = "victim"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def sign_ins(client: httpx.AsyncClient, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post("/auth/token", headers={"X-Forwarded-For": "198.51.100.10"}, data={
            "grant_type": "password", "username": PERSON[0], "password": PERSON[1]})
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.1)
    return timings


async def measure(base: str, args) -> dict:
    limits = httpx.Limits(max_connections=args.guessers + 4)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await sign_ins(client, 2)  # warm: the first argon2 and database connections
        idle = await sign_ins(client, args.logins)
        answers: Counter[int | str] = Counter()
        stop = asyncio.Event()

        async def guesser(n: int) -> None:
            while not stop.is_set():
                try:
                    response = await client.post("/auth/token", headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                                                 data={"grant_type": "password", "username": VICTIM,
                                                       "password": f"guess-{os.urandom(4).hex()}"})
                except httpx.TransportError:  # e.g. a kept-alive connection the server closed as it was reused
                    answers["connection error"] += 1
                    continue
                answers[response.status_code] += 1

        tasks = [asyncio.create_task(guesser(n)) for n in range(args.guessers)]
        await asyncio.sleep(args.warmup)
        attacked = await sign_ins(client, args.logins)
        stop.set()
        await asyncio.gather(*tasks)
    return {"idle": idle, "attacked": attacked, "answers": answers}


CONFIGS = {
    "throttled": {},
    "prompt": {"GATEWAY_LOGIN_REFUSAL_DELAY_SECONDS": "0"},
    "unthrottled": {"GATEWAY_LOGIN_THROTTLE_ENABLED": "false"},
}


def run_gateway(pg: EmbeddedPostgres, tmp: Path, *, config: str) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOCIALWORK_ENV": "dev", "LOG_LEVEL": "WARNING",
           "GATEWAY_DATABASE_URL": pg.url("gateway"), "GATEWAY_ADMIN_USERNAME": PERSON[0],
           "GATEWAY_ADMIN_PASSWORD": PERSON[1], "GATEWAY_TRUSTED_PROXIES": '["127.0.0.1"]',
           "GATEWAY_SIGNING_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
           **CONFIGS[config]}
    log = tmp / f"gateway-{config}.log"
    with open(log, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "uvicorn", "services.gateway.app:create_app", "--factory",
                                  "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level",
                                  "warning", "--no-proxy-headers"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        if not wait_for_port(port, 60) or child.poll() is not None:
            raise SystemExit(log.read_text()[-2000:])
        return asyncio.run(measure(f"http://127.0.0.1:{port}", ARGS))
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


@contextlib.contextmanager
def _keep_logs(tmp: str):
    """When a run fails, show the end of the gateway's log (the folder is removed afterwards)."""
    try:
        yield
    except BaseException:
        for log in sorted(Path(tmp).glob("gateway-*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise


def main() -> int:
    print(f"cpus: {os.cpu_count()}; the guessers, the person and the gateway share them")
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}")
    with tempfile.TemporaryDirectory(prefix="bench-login-") as tmp, _keep_logs(tmp):
        pg = EmbeddedPostgres(Path(tmp) / "pg", free_port(), fast=True)
        pg.start()
        try:
            pg.create_databases("gateway")
            upgrade("gateway", pg.url("gateway"))
            for config in ARGS.configs.split(","):  # the figure that matters first: the unthrottled run takes long
                result = run_gateway(pg, Path(tmp), config=config)
                idle, attacked = result["idle"], result["attacked"]
                label = f"{config:11}"
                print(f"[{label}] idle         p50 {pct(idle, 50) * 1000:7.0f} ms  p95 {pct(idle, 95) * 1000:7.0f} ms")
                print(f"[{label}] under attack p50 {pct(attacked, 50) * 1000:7.0f} ms  "
                      f"p95 {pct(attacked, 95) * 1000:7.0f} ms  (goal p95 < 500 ms)")
                print(f"[{label}] ratio attack/idle: p50 {statistics.median(attacked) / statistics.median(idle):.2f}"
                      f"  p95 {pct(attacked, 95) / pct(idle, 95):.2f}; guesses answered: "
                      f"{dict(sorted(result['answers'].items(), key=str))}", flush=True)
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--guessers", type=int, default=30)
    parser.add_argument("--configs", default="throttled,prompt,unthrottled", help=", ".join(CONFIGS))
    ARGS = parser.parse_args()
    raise SystemExit(main())
