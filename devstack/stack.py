"""The launcher behind `make run`: embedded PostgreSQL and broker, migrations, every service, readiness.

When database URLs (`<SERVICE>_DATABASE_URL`) or `KAFKA_BOOTSTRAP_SERVERS` are set, those are used
and nothing embedded is started for them.

Stopping: SIGINT (Ctrl-C) and SIGTERM handlers are set explicitly, so a launcher whose parent ignored
SIGINT (`cmd &` in a script) still stops on it. The services run in sessions of their own: Ctrl-C on the
terminal's process group reaches only the launcher, which then stops the services, the broker and
PostgreSQL in that order, with further signals ignored until it is done, and exits 0. A stop requested
while PostgreSQL or the broker is starting takes effect once they are up, so they are stopped, never
orphaned. A service that dies on its own stops everything too (exit 1, one `error:` line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.api import ApiError
from devstack.demo_data import DEMO_HR_CLIENT
from devstack.embedded import EmbeddedBroker, EmbeddedPostgres, StackError, die_with_parent, port_free
from shared.contracts.events import all_topics
from shared.events.kafka import ensure_topics
from shared.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
# Everything below can be moved by environment variables (the end-to-end tests use other ports).
STATE = Path(os.environ.get("SOCIALWORK_STATE_DIR", ROOT / ".devstack"))
DEFAULT_PORTS = {"gateway": 8000, "registry": 8001, "subsidy": 8002, "projects": 8003}
SERVICES = {svc: int(os.environ.get(f"{svc.upper()}_PORT", port)) for svc, port in DEFAULT_PORTS.items()}
POSTGRES_PORT = int(os.environ.get("POSTGRES_PORT", "55432"))
BROKER_PORT = int(os.environ.get("BROKER_PORT", "19092"))


def dev_secrets() -> dict[str, str]:
    """Generated at first start into .devstack/secrets.json (git-ignored), reused after; never in the repo.
    A secret added in a later version is generated into an existing file the first time it is missing."""
    path = STATE / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "REGISTRY_ID_NUMBER_KEY": lambda: secrets.token_urlsafe(32),
        "REGISTRY_LOOKUP_KEY": lambda: secrets.token_urlsafe(32),
        "GATEWAY_ADMIN_USERNAME": lambda: "admin",
        "GATEWAY_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
        **{f"{svc.upper()}_CLIENT_ID": (lambda s=svc: f"svc-{s}") for svc in ("registry", "subsidy", "projects")},
        **{f"{svc.upper()}_CLIENT_SECRET": lambda: secrets.token_urlsafe(24) for svc in ("registry", "subsidy",
                                                                                         "projects")},
        "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),  # the embedded PostgreSQL's (scram-sha-256)
        "METRICS_SCRAPE_TOKEN": lambda: secrets.token_urlsafe(32),  # Prometheus' bearer token for /metrics
        "GATEWAY_SIGNING_KEY_ENCRYPTION_KEY": lambda: secrets.token_urlsafe(32),  # AES-GCM key of signing keys
    }
    missing = {name: make() for name, make in wanted.items() if name not in values}
    if missing:
        values.update(missing)
        STATE.mkdir(exist_ok=True)
        path.write_text(json.dumps(values, indent=2))
        path.chmod(0o600)
    return values


@dataclass
class Stack:
    """Everything `make run` starts; `stop()` undoes all of it."""

    with_services: bool = True
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    stopping: bool = False

    def database_url(self, service: str) -> str:
        return self.env[f"{service.upper()}_DATABASE_URL"]

    def start_infrastructure(self, *, interrupts: Interrupts | None = None) -> None:
        uninterrupted = interrupts.deferred if interrupts else contextlib.nullcontext
        env = {**os.environ, "SOCIALWORK_ENV": os.environ.get("SOCIALWORK_ENV", "dev"), **dev_secrets()}
        env.setdefault("AUTH_JWKS_URL", f"http://127.0.0.1:{SERVICES['gateway']}/.well-known/jwks.json")
        env.setdefault("GATEWAY_URL", f"http://127.0.0.1:{SERVICES['gateway']}")
        # The demo's municipal HR system is the bureau's trusted certificate source (its certificates count at
        # once); any other HR client's are claims until a bureau_admin verifies them.
        env.setdefault("REGISTRY_TRUSTED_HR_CLIENTS", json.dumps([DEMO_HR_CLIENT]))
        # Only the subsidy service reads payees' clear names, ID numbers and accounts (for bank files).
        env.setdefault("REGISTRY_PAYEE_CLIENTS", json.dumps([env["SUBSIDY_CLIENT_ID"]]))
        for svc in SERVICES:
            env.setdefault(f"{svc.upper()}_URL", f"http://127.0.0.1:{SERVICES[svc]}")
        missing_urls = [s for s in SERVICES if not os.environ.get(f"{s.upper()}_DATABASE_URL")]
        if missing_urls:
            self.postgres = EmbeddedPostgres(STATE / "pgdata", POSTGRES_PORT, password=env["POSTGRES_PASSWORD"])
            with uninterrupted():  # a half-started server would be left running: let it come up, then stop it
                self.postgres.start()
                self.postgres.create_databases(*missing_urls)
            for svc in missing_urls:
                env[f"{svc.upper()}_DATABASE_URL"] = self.postgres.url(svc)
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.broker = EmbeddedBroker(BROKER_PORT, log_path=STATE / "broker.log")
            with uninterrupted():
                self.broker.start()
            env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap
        self.env = env
        asyncio.run(ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], all_topics(),
                                  partitions=int(env.get("KAFKA_TOPIC_PARTITIONS", "4"))))
        for svc in SERVICES:
            try:
                upgrade(svc, self.database_url(svc), environ=env)
            except Exception as exc:
                raise StackError(f"migration of {svc} failed: {str(exc).splitlines()[0]}") from exc

    def start_services(self, *, log_dir: Path | None = None) -> None:
        busy = [f"{svc} ({port})" for svc, port in SERVICES.items() if not port_free(port)]
        if busy:
            raise StackError(f"ports busy: {', '.join(busy)}; stop what holds them")
        log_dir = log_dir or STATE / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for svc, port in SERVICES.items():
            out = open(log_dir / f"{svc}.log", "ab")  # noqa: SIM115 (kept open for the child's lifetime)
            self.children[svc] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"services.{svc}.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                 # nothing sits in front of the dev gateway: never trust a client's X-Forwarded-For
                 "--no-proxy-headers"],
                # A session of its own: Ctrl-C on the terminal reaches only the launcher, which stops the
                # services in order; PR_SET_PDEATHSIG still takes them down if the launcher is killed.
                cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True,
                preexec_fn=die_with_parent)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(SERVICES)
        while pending and time.monotonic() < deadline:
            for svc, port in list(pending.items()):
                child = self.children.get(svc)
                if child is not None and child.poll() is not None:
                    raise StackError(f"{svc} exited with code {child.returncode}; see {STATE}/logs/{svc}.log")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        del pending[svc]
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        if pending:
            raise StackError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")

    def stop(self) -> None:
        """Services first (they flush their outboxes), then the broker, then PostgreSQL: each step runs even
        when an earlier one failed, so the embedded servers never outlive the launcher."""
        try:
            for child in self.children.values():
                if child.poll() is None:
                    child.terminate()
            for child in self.children.values():
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5)
            self.children.clear()
        finally:
            try:
                if self.broker:
                    self.broker.stop()
            finally:
                if self.postgres:
                    self.postgres.stop()


class Interrupts:
    """SIGINT and SIGTERM, handled explicitly (also when the parent left SIGINT ignored).

    The first signal raises KeyboardInterrupt in the main thread (at once, or when a `deferred()` section
    ends) and makes both signals ignored from then on: the stop that follows cannot be cut short, and the
    children it runs (pg_ctl stop) inherit the ignored signals.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: int | None = None
        self._deferring = 0

    def install(self) -> None:
        for signum in self.SIGNALS:
            signal.signal(signum, self._handle)

    def ignore(self) -> None:
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def _handle(self, signum: int, _frame) -> None:
        if self.requested is not None:
            return
        self.requested = signum
        self.ignore()
        if not self._deferring:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self):
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self.requested is not None:
            raise KeyboardInterrupt


def run(*, load_demo: bool = True) -> int:
    """`make run`: 0 after a requested stop (SIGINT, SIGTERM), 1 with one `error:` line when anything fails."""
    stack = Stack()
    interrupts = Interrupts()
    interrupts.install()
    failure: Exception | None = None
    try:
        try:
            _serve(stack, interrupts, load_demo=load_demo)
        except (StackError, ApiError, TimeoutError) as exc:
            failure = exc
        finally:
            _stop(stack, interrupts)
    except KeyboardInterrupt:  # the one interrupt landed just before the stop above began: stop now
        _stop(stack, interrupts)
    if interrupts.requested is not None:  # asked to stop: whatever failed meanwhile is not an error
        print("stopped.", flush=True)
        return 0
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


def _serve(stack: Stack, interrupts: Interrupts, *, load_demo: bool) -> None:
    print("starting PostgreSQL and the Kafka broker ...", flush=True)
    stack.start_infrastructure(interrupts=interrupts)
    print("starting the services ...", flush=True)
    stack.start_services()
    stack.wait_ready()
    demo = None
    if load_demo:
        from devstack.demo import load_demo_if_available  # noqa: PLC0415

        print("services are up; loading the demo through the API (first start only) - "
              "wait for the line 'Ready.' ...", flush=True)
        demo = load_demo_if_available(stack)
    print_banner(stack, demo)
    while True:
        for svc, child in stack.children.items():
            if child.poll() is not None:
                raise StackError(f"{svc} stopped (exit {child.returncode}); see {STATE}/logs/{svc}.log")
        time.sleep(1)


def _stop(stack: Stack, interrupts: Interrupts) -> None:
    """Stop everything; only one KeyboardInterrupt can ever be raised, and if it lands here, stop again."""
    for _ in range(2):
        try:
            interrupts.ignore()
            if interrupts.requested is not None and not stack.stopping:
                print("\nstopping ...", flush=True)
            stack.stopping = True
            stack.stop()  # idempotent: what is stopped already is skipped
            return
        except KeyboardInterrupt:
            continue


def print_banner(stack: Stack, demo=None) -> None:
    """Printed once everything is up and, with the demo, once the demo is loaded: its last line starts
    with `Ready.` and says which."""
    s = dev_secrets()
    lines = [
        "", "Social-work platform is running:",
        f"  console   http://127.0.0.1:{SERVICES['gateway']}/console/   (sign in with a login below)",
        f"  gateway   http://127.0.0.1:{SERVICES['gateway']}   (API docs: /docs, tokens: /auth/token)",
        *[f"  {svc:<9} http://127.0.0.1:{port}   (direct, /docs)" for svc, port in SERVICES.items()
          if svc != "gateway"],
        f"  postgres  {stack.env['REGISTRY_DATABASE_URL'].rsplit('/', 1)[0]}/<service>",
        f"  kafka     {stack.env['KAFKA_BOOTSTRAP_SERVERS']}",
        f"  admin login: {s['GATEWAY_ADMIN_USERNAME']} / {s['GATEWAY_ADMIN_PASSWORD']}",
        f"  (generated at first start into {STATE}/secrets.json)",
    ]
    if demo is None:
        ready = "Ready (started without the demo)."
    else:
        lines.append("  demo logins (password grant at /auth/token; also in demo-logins.json):")
        lines += [f"    {name:<10} {password}" for name, password in demo.logins.items()]
        ready = ("Ready. The demo was loaded at an earlier start (its data is kept in the database)." if demo.skipped
                 else f"Ready. Demo loaded: {demo.workers} workers, {demo.reports} confirmed service reports, "
                      f"subsidy paid to {demo.paid_people} people: {demo.paid_fen:,} fen.")
    lines += [ready, "Press Ctrl-C to stop everything."]
    print("\n".join(lines), flush=True)
