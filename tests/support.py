"""Test support: tokens signed like the gateway's, fresh migrated databases, service apps in-process."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from devstack.api import Api
from devstack.embedded import EmbeddedPostgres, free_port
from shared.migrate import upgrade

ISSUER = "socialwork-gateway"
AUDIENCE = "socialwork"
_db_counter = itertools.count(1)


class TokenMint:
    """Signs access tokens with a test Ed25519 key and publishes the matching JWKS."""

    def __init__(self) -> None:
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self.private_key = Ed25519PrivateKey.generate()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    @property
    def jwks_json(self) -> str:
        return json.dumps(self.jwks)

    def token(self, *roles: str, sub: str | None = None, station_ids: list | None = None,
              worker_id: Any = None, ttl: int = 300, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub or f"user-{uuid.uuid4().hex[:8]}", "iat": now,
            "nbf": now, "exp": now + ttl, "roles": list(roles),
            "station_ids": [str(s) for s in station_ids or []],
            "worker_id": str(worker_id) if worker_id else None, "typ": "access", **claims,
        }
        return jwt.encode(payload, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, *roles: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, **kwargs)}"}


_templates: dict[tuple[str, str], str] = {}
_template_locks: dict[tuple[str, str], asyncio.Lock] = {}


async def fresh_database(pg: EmbeddedPostgres, service: str) -> str:
    """A new database with the service's migrations applied; returns its SQLAlchemy URL.

    The migrations run once per server and service, into a template database; every fresh database is a copy of
    it (CREATE DATABASE ... TEMPLATE), which takes milliseconds where running every migration took seconds."""
    key = (str(pg.datadir), service)  # a data directory is one server (ports are reused)
    async with _template_locks.setdefault(key, asyncio.Lock()):
        if key not in _templates:
            template = f"{service}_template_{uuid.uuid4().hex[:6]}"
            await asyncio.to_thread(pg.create_databases, template)
            await asyncio.to_thread(upgrade, service, pg.url(template))
            _templates[key] = template
    name = f"{service}_t{next(_db_counter)}_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(pg.create_databases, name, template=_templates[key])
    return pg.url(name)


@asynccontextmanager
async def running_app(app: FastAPI, *, base_url: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (relay, consumer) and give an in-process HTTP client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def eventually(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.2) -> Any:
    """Poll an async or sync check until it returns a truthy value (the broker's group joins are slow)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def assert_problem(response: httpx.Response, status: int, *, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field or field in body["detail"], body
    return body


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class DemoStack:
    """A running launcher's stack with the demo loaded (the `demo_stack` fixture)."""

    RATE_PER_SECOND: ClassVar[int] = 100
    RATE_BURST: ClassVar[int] = 200

    gateway: str
    ports: dict[str, int]
    state: Path
    admin_password: str
    logins: dict[str, str]
    banner: str

    def dsn(self, database: str) -> str:
        """A plain PostgreSQL URL (asyncpg) of one service's database in this stack."""
        password = json.loads((self.state / "secrets.json").read_text())["POSTGRES_PASSWORD"]
        return f"postgresql://postgres:{password}@127.0.0.1:{self.ports['POSTGRES']}/{database}"

    @classmethod
    def of(cls, state: Path, ports: dict[str, int], banner: str) -> DemoStack:
        secrets = json.loads((state / "secrets.json").read_text())
        logins = json.loads((state / "demo-logins.json").read_text())
        return cls(gateway=f"http://127.0.0.1:{ports['GATEWAY']}", ports=ports, state=state,
                   admin_password=secrets["GATEWAY_ADMIN_PASSWORD"], logins=logins, banner=banner)


def me(api: Api) -> str:
    """The worker id of a social worker's login (the one worker its list holds)."""
    return api.get("/registry/v1/workers")["items"][0]["id"]


def demo_managers(login: Callable[[str], Api]) -> dict[str, Api]:
    """The demo's six station managers by login name, each signed in once."""
    return {f"manager{n}": login(f"manager{n}") for n in range(1, 7)}


def demo_manager_of(managers: dict[str, Api], worker_id: str) -> str | None:
    """The demo station manager who sees the worker, None for a worker at no demo station: the e2e tests approve
    applications under the demo policy for workers at stations of their own, which a test that picks demo
    applicants by id would otherwise take now and then."""
    return next((name for name, api in managers.items() if api.get(
        f"/subsidy/v1/workers/{worker_id}/payments", expect=(200, 404)).get("items") is not None), None)


async def copy_policy(dsn: str, code: str, source: str) -> None:
    """A policy of a test's own under `code`, with the terms of `source` (version 1), inserted as the migration
    inserts the default one (policies have no create endpoint): a test that pays under it leaves the demo
    policy's figures as they are."""
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO policies (id, code, version, name, division_code, certificates_from, rate_senior_fen, "
            "rate_intermediate_fen, rate_assistant_fen, qualifying_months, cap_months, effective_from, effective_to, "
            "created_by) SELECT $1, $2, 1, name, division_code, certificates_from, rate_senior_fen, "
            "rate_intermediate_fen, rate_assistant_fen, qualifying_months, cap_months, effective_from, effective_to, "
            "'test' FROM policies WHERE code = $3 AND version = 1 ON CONFLICT DO NOTHING",
            uuid.uuid4(), code, source)
    finally:
        await conn.close()


def bank_result_file(rows: list[list[str]], total_fen: int) -> bytes:
    """The bank's result file as banks send it (GBK CSV): 序号, 账号, 户名, 金额, 结果, 失败原因 and the 合计 row
    with the count under 账号 and the total under 金额."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["序号", "账号", "户名", "金额", "结果", "失败原因"])
    writer.writerows(rows)
    writer.writerow(["合计", str(len(rows)), "", f"{total_fen // 100}.{total_fen % 100:02d}", "", ""])
    return buffer.getvalue().encode("gbk")


def launch_stack(tmp_path, extra_env=None, *, demo: bool = False, **popen):
    """`make run`'s launcher as a real process on free ports with its own state folder (`popen`: e.g. a
    preexec_fn, or start_new_session for a process group of its own)."""
    ports = {name: free_port() for name in ("GATEWAY", "REGISTRY", "SUBSIDY", "PROJECTS", "POSTGRES", "BROKER")}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")
           and k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update({f"{k}_PORT": str(v) for k, v in ports.items()})
    env.update({"SOCIALWORK_STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    command = [sys.executable, "-m", "devstack", "run", "--demo" if demo else "--no-demo"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **popen)
    return proc, ports


def stop_stack(proc) -> None:
    """Stop a launcher the way a person would (Ctrl-C), so it takes its children down even if a test failed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def read_until(proc, marker: str, timeout: float) -> str:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    raise AssertionError(f"launcher did not print {marker!r}; output:\n" + "".join(out))


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # no init reaps here
    except psutil.NoSuchProcess:
        return False


# --- the audit trail: reading it, tampering with it, asking the endpoint and the CLI where it broke -------------

def asyncpg_dsn(url: str) -> str:
    """A service's SQLAlchemy database URL as asyncpg.connect takes it."""
    return url.replace("postgresql+asyncpg", "postgresql")


async def audit_rows(url: str, where: str = "true", **params) -> list[dict]:
    """The service database's audit_log rows matching `where` (`:name` parameters), in chain order."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(f"SELECT * FROM audit_log WHERE {where} ORDER BY seq"), params)
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


async def tamper(url: str, *statements: str) -> None:
    """What someone with the database's superuser password can do: switch the guard triggers off and write."""
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for statement in statements:
                await conn.execute(statement)
    finally:
        await conn.close()


async def audit_verdict(client: httpx.AsyncClient, headers: dict, *, service: str, database_url: str,
                        verify_path: str = "/v1/audit/verify") -> tuple[dict, str]:
    """The auditor's endpoint's verdict, and the output of `devstack verify-audit` (its exit code agreeing)."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from devstack import cli  # noqa: PLC0415

    verdict = (await client.get(verify_path, headers=headers)).json()
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, ["verify-audit", service],
                                     env={f"{service.upper()}_DATABASE_URL": database_url})
    assert result.exit_code == (0 if verdict["ok"] else 1), result.output
    return verdict, result.output
