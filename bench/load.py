"""Load test: the whole suite with the demo data, many concurrent clients of mixed reads and writes.

Starts the suite the way `make run` does (the same launcher, as a real process, on free ports, with a
temporary state folder and the demo data), then runs `--clients` concurrent clients for `--duration`
seconds through the gateway, using several demo logins (admin, auditor1, manager1..6, worker1):
list workers, a worker's detail, eligibility, payments, list projects, service reports, the subsidy
summary report, and writes (micro-project activities, service-report amendments that cross the broker).
Prints requests/s, p50/p99 latency, errors (goal 0; 429s counted separately) and each service process's
RSS before and after the load (goal: growth <= 20%).

The gateway's per-caller rate limit (100/s, burst 200 by default) is raised for the run through its own
settings, GATEWAY_RATE_LIMIT_PER_SECOND and GATEWAY_RATE_LIMIT_BURST (see --rate-limit), because a few
logins shared by hundreds of clients would otherwise measure the limiter, not the services.

Run: `.venv/bin/python bench/load.py [--clients 200] [--duration 60] [--rate-limit 1000000]`.
Traffic goes only to 127.0.0.1; the run is bounded by --duration and stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import jwt  # noqa: E402
import psutil  # noqa: E402

from devstack.api import Api  # noqa: E402
from devstack.demo import POLICY, last_month  # noqa: E402
from shared.clock import bureau_today  # noqa: E402
from tests.support import launch_stack, read_until, stop_stack  # noqa: E402

SERVICES = ("gateway", "registry", "subsidy", "projects")
THROUGH = last_month(bureau_today())


def service_processes(launcher_pid: int) -> dict[str, psutil.Process]:
    found = {}
    for child in psutil.Process(launcher_pid).children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for svc in SERVICES:
            if f"services.{svc}.app:create_app" in cmdline:
                found[svc] = child
    missing = set(SERVICES) - set(found)
    if missing:
        raise SystemExit(f"error: service processes not found: {', '.join(sorted(missing))}")
    return found


def rss_mib(processes: dict[str, psutil.Process]) -> dict[str, float]:
    return {svc: p.memory_info().rss / 2**20 for svc, p in processes.items()}


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User+system CPU of each service and of this load generator."""
    everyone = {**processes, "load generator": psutil.Process()}
    return {name: sum(p.cpu_times()[:2]) for name, p in everyone.items()}


class World:
    """What the clients pick from: tokens by role, workers by station, the running project, reports."""

    def __init__(self, gateway: str, admin_password: str, logins: dict[str, str]):
        self.admin = Api.login(gateway, "admin", admin_password)
        admin = self.admin
        self.stations = {s["id"]: s["name"] for s in admin.all("/registry/v1/stations") if s["kind"] == "township"}
        self.managers: dict[str, Api] = {}  # station id -> its manager (the token names the station)
        for name, password in logins.items():
            if name.startswith("manager"):
                api = Api.login(gateway, name, password)
                claims = jwt.decode(api.token, options={"verify_signature": False})
                self.managers[claims["station_ids"][0]] = api
        self.auditor = Api.login(gateway, "auditor1", logins["auditor1"])
        self.worker = Api.login(gateway, "worker1", logins["worker1"])
        self.worker_id = self.worker.get("/registry/v1/workers")["items"][0]["id"]
        self.staff = {sid: [w["id"] for w in admin.all("/registry/v1/workers", station_id=sid)]
                      for sid in self.stations}
        running = [p for p in admin.all("/projects/v1/projects") if p["status"] == "in_progress"]
        self.running = [(p["id"], p["station_id"]) for p in running if p["station_id"] in self.managers]
        self.reports = defaultdict(list)  # station id -> (confirmed report, the workers in it)
        for r in admin.all("/projects/v1/service-reports"):
            if r["status"] == "confirmed" and r["station_id"] in self.managers and r["entries"]:
                self.reports[r["station_id"]].append((r["id"], [e["worker_id"] for e in r["entries"]]))

    def tokens(self) -> list[tuple[str, str, str | None]]:
        """(role, token, station id) for each caller the clients take turns at."""
        out = [("admin", self.admin.token, None), ("auditor", self.auditor.token, None),
               ("worker", self.worker.token, None)]
        out += [("manager", api.token, sid) for sid, api in self.managers.items()]
        return out


def pick_operation(rng: random.Random, role: str, station: str | None, world: World):
    """(name, method, path, params, json) for one request a caller of this role would make."""
    if role == "worker":
        me = world.worker_id
        return rng.choice([
            ("eligibility", "GET", f"/subsidy/v1/workers/{me}/eligibility", {"policy": POLICY, "through": THROUGH},
             None),
            ("payments", "GET", f"/subsidy/v1/workers/{me}/payments", {"limit": 50}, None),
            ("worker detail", "GET", f"/registry/v1/workers/{me}", None, None),
            ("list projects", "GET", "/projects/v1/projects", {"limit": 20}, None),
        ])
    station = station or rng.choice(list(world.stations))
    worker = rng.choice(world.staff[station])
    roll = rng.random()
    if role == "manager" and roll < 0.10:
        running = [pid for pid, sid in world.running if sid == station]
        if running:
            return ("create activity", "POST", f"/projects/v1/projects/{running[0]}/activities", None, {
                "date": bureau_today().isoformat(), "title": f"负载测试活动 {rng.randrange(10**6)}",
                "worker_ids": rng.sample(world.staff[station], 2), "beneficiaries": {"elderly": rng.randrange(1, 20)},
                "volunteer_count": 2, "volunteer_hours": 4, "expense_fen": 1000})
    if role == "manager" and roll < 0.15 and world.reports[station]:
        report, listed = rng.choice(world.reports[station])  # a changed month crosses the broker to subsidy
        return ("amend report", "POST", f"/projects/v1/service-reports/{report}/amend", None, {
            "entries": [{"worker_id": rng.choice(listed), "full_time": True,
                         "service_hours": rng.choice((160, 168, 176))}]})
    choices = [
        ("list workers", "GET", "/registry/v1/workers", {"limit": 50, **({"station_id": station}
                                                                           if role != "manager" else {})}, None),
        ("worker detail", "GET", f"/registry/v1/workers/{worker}", None, None),
        ("eligibility", "GET", f"/subsidy/v1/workers/{worker}/eligibility", {"policy": POLICY, "through": THROUGH},
         None),
        ("list projects", "GET", "/projects/v1/projects", {"limit": 20}, None),
        ("service reports", "GET", "/projects/v1/service-reports", {"limit": 20}, None),
    ]
    if role in ("admin", "auditor"):
        choices.append(("subsidy summary", "GET", "/subsidy/v1/reports/summary",
                        {"policy": POLICY, "from": "2023-01", "to": THROUGH}, None))
    return rng.choice(choices)


async def run_load(gateway: str, world: World, *, clients: int, duration: float) -> dict:
    callers = world.tokens()
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    samples: list[str] = []
    # An idle connection is dropped by the client before uvicorn's 5 s keep-alive closes it under a request.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=httpx.Timeout(30.0)) as http:
        deadline = time.monotonic() + duration

        async def client(n: int) -> None:
            rng = random.Random(n)
            role, token, station = callers[n % len(callers)]
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < deadline:
                name, method, path, params, body = pick_operation(rng, role, station, world)
                started = time.perf_counter()
                try:
                    response = await http.request(method, path, params=params, json=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status, response = type(exc).__name__, None
                latencies[name].append(time.perf_counter() - started)
                statuses[name][status] += 1
                if (not isinstance(status, int) or status >= 400) and status != 429 and len(samples) < 10:
                    samples.append(f"{method} {path} -> {status}: {response.text[:200] if response else ''}")

        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.monotonic() - started
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed, "samples": samples}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(result: dict, before: dict[str, float], after: dict[str, float], cpu: dict[str, float], args) -> bool:
    latencies, statuses, elapsed = result["latencies"], result["statuses"], result["elapsed"]
    every = [x for values in latencies.values() for x in values]
    total = Counter()
    for counts in statuses.values():
        total.update(counts)

    def errors(counts: Counter) -> int:
        return sum(n for s, n in counts.items() if not (isinstance(s, int) and s < 400) and s != 429)

    print(f"\nload: {args.clients} clients for {elapsed:.1f}s through the gateway "
          f"(rate limit raised to {args.rate_limit:g}/s per caller)\n")
    print(f"{'operation':<18}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'429':>6}")
    for name in sorted(latencies):
        values, counts = latencies[name], statuses[name]
        print(f"{name:<18}{len(values):>10}{len(values) / elapsed:>9.1f}{percentile(values, 50) * 1000:>9.1f}"
              f"{percentile(values, 99) * 1000:>9.1f}{errors(counts):>8}{counts[429]:>6}")
    print(f"{'all':<18}{len(every):>10}{len(every) / elapsed:>9.1f}{percentile(every, 50) * 1000:>9.1f}"
          f"{percentile(every, 99) * 1000:>9.1f}{errors(total):>8}{total[429]:>6}")
    if result["samples"]:
        print("\nerror samples:\n  " + "\n  ".join(result["samples"]))

    print(f"\n{'process':<18}{'RSS before MiB':>16}{'after MiB':>11}{'growth':>9}{'CPU %':>8}")
    worst = 0.0
    for svc in SERVICES:
        growth = (after[svc] - before[svc]) / before[svc] * 100
        worst = max(worst, growth)
        print(f"{svc:<18}{before[svc]:>16.1f}{after[svc]:>11.1f}{growth:>8.1f}%{cpu[svc] / elapsed * 100:>8.0f}")
    print(f"{'load generator':<18}{'':>16}{'':>11}{'':>9}{cpu['load generator'] / elapsed * 100:>8.0f}")
    ok = errors(total) == 0 and worst <= 20.0
    print(f"\ngoals: errors 0 -> {errors(total)}; RSS growth <= 20% -> worst {worst:.1f}%: "
          f"{'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--rate-limit", type=float, default=1_000_000.0,
                        help="the gateway's per-caller refill and burst for the run (GATEWAY_RATE_LIMIT_*)")
    parser.add_argument("--keep-logs", type=Path, help="copy the services' logs to this folder at the end")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before RSS is first read")
    args = parser.parse_args()
    if not (1 <= args.clients <= 2000 and 0 < args.duration <= 3600):
        parser.error("--clients 1..2000, --duration up to 3600 s")

    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        env = {"GATEWAY_RATE_LIMIT_PER_SECOND": f"{args.rate_limit:g}",
               "GATEWAY_RATE_LIMIT_BURST": str(int(args.rate_limit))}
        print("starting the suite with the demo data (the `make run` launcher, free ports) ...", flush=True)
        proc, ports = launch_stack(Path(tmp), env, demo=True)
        try:
            read_until(proc, "Press Ctrl-C", timeout=600)
            state = Path(tmp) / "state"
            secrets = json.loads((state / "secrets.json").read_text())
            logins = json.loads((state / "demo-logins.json").read_text())
            gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
            world = World(gateway, secrets["GATEWAY_ADMIN_PASSWORD"], logins)
            processes = service_processes(proc.pid)
            if args.warmup > 0:
                print(f"warm-up: {args.warmup:g}s ...", flush=True)
                asyncio.run(run_load(gateway, world, clients=min(args.clients, 20), duration=args.warmup))
            before, cpu_before = rss_mib(processes), cpu_seconds(processes)
            print(f"load: {args.clients} clients for {args.duration:g}s ...", flush=True)
            result = asyncio.run(run_load(gateway, world, clients=args.clients, duration=args.duration))
            after, cpu_after = rss_mib(processes), cpu_seconds(processes)
            load = psutil.getloadavg()[0]
            print(f"machine: {psutil.cpu_count()} cores shared by the load generator, PostgreSQL, the broker and the "
                  f"4 services (and anything else running: 1-min load average {load:.1f})")
            ok = report(result, before, after, {k: cpu_after[k] - cpu_before[k] for k in cpu_after}, args)
        finally:
            stop_stack(proc)
            if args.keep_logs:
                shutil.copytree(Path(tmp) / "state" / "logs", args.keep_logs, dirs_exist_ok=True)
                print(f"logs: {args.keep_logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
