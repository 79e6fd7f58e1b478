"""Command line: `python -m devstack` (or `socialwork`) — the same code paths the API and launcher use."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Social-work platform: dev stack and operator commands.")

SERVICE_SETTINGS = {
    "registry": "services.registry.settings:RegistrySettings",
    "subsidy": "services.subsidy.settings:SubsidySettings",
    "projects": "services.projects.settings:ProjectsSettings",
    "gateway": "services.gateway.settings:GatewaySettings",
}


def _settings(service: str):
    import importlib  # noqa: PLC0415

    if service not in SERVICE_SETTINGS:
        raise typer.BadParameter(f"service must be one of {', '.join(SERVICE_SETTINGS)}")
    _dev_defaults(service)
    module, _, name = SERVICE_SETTINGS[service].partition(":")
    return getattr(importlib.import_module(module), name)()


def _dev_defaults(service: str) -> None:
    """Next to a dev stack (its secrets.json exists, no database URL set): its embedded PostgreSQL, with its
    password, and its secrets (e.g. the signing-key encryption key), as `make run` gives them to the services."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415

    from devstack.stack import POSTGRES_PORT, STATE  # noqa: PLC0415

    path = STATE / "secrets.json"
    if f"{service.upper()}_DATABASE_URL" in os.environ or not path.exists():
        return
    secrets = json.loads(path.read_text())
    for key, value in secrets.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("SOCIALWORK_ENV", "dev")
    if "POSTGRES_PASSWORD" in secrets:
        os.environ[f"{service.upper()}_DATABASE_URL"] = (
            f"postgresql+asyncpg://postgres:{secrets['POSTGRES_PASSWORD']}@127.0.0.1:{POSTGRES_PORT}/{service}")


@app.command()
def run(demo: Annotated[bool, typer.Option(help="load the demo data on first start")] = True) -> None:
    """Start embedded PostgreSQL and broker, migrate, start every service, wait until ready."""
    from devstack.stack import run as run_stack  # noqa: PLC0415

    raise typer.Exit(run_stack(load_demo=demo))


@app.command()
def demo(gateway: Annotated[str, typer.Option(help="gateway URL")] = "http://127.0.0.1:8000") -> None:
    """Load the demo data through the public API of a running stack (idempotent)."""
    from devstack.demo import load_demo  # noqa: PLC0415
    from devstack.stack import STATE, dev_secrets  # noqa: PLC0415

    result = load_demo(gateway, admin_password=dev_secrets()["GATEWAY_ADMIN_PASSWORD"],
                       logins_file=STATE / "demo-logins.json")
    typer.echo("demo already loaded" if result.skipped else
               f"demo loaded: {result.workers} workers, {result.reports} confirmed service reports, "
               f"subsidy paid to {result.paid_people} people: {result.paid_fen:,} fen")
    for name, password in result.logins.items():
        typer.echo(f"  {name}: {password}")


@app.command()
def migrate(service: str) -> None:
    """Apply a service's migrations to the database its settings name."""
    from shared.migrate import upgrade  # noqa: PLC0415

    upgrade(service, _settings(service).database_url)
    typer.echo(f"{service}: migrated")


@app.command("replay-outbox")
def replay_outbox_cmd(service: str, since: Annotated[datetime, typer.Option(help="ISO time, UTC if naive")]) -> None:
    """Mark a service's outbox events since a time unpublished again; its relay re-publishes them."""
    from shared.db import make_engine, make_sessionmaker  # noqa: PLC0415
    from shared.events.outbox import replay_outbox  # noqa: PLC0415

    async def main() -> int:
        engine = make_engine(_settings(service).database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await replay_outbox(session, since=since)
        finally:
            await engine.dispose()

    typer.echo(f"{service}: {asyncio.run(main())} events will be published again")


@app.command("redrive-dlq")
def redrive_dlq_cmd(service: str, topic: str) -> None:
    """Re-publish the dead letters this service's consumer put on `<topic>.dlq` to `topic`."""
    from shared.events.inbox import redrive_dlq  # noqa: PLC0415

    settings = _settings(service)
    count = asyncio.run(redrive_dlq(bootstrap=settings.kafka_bootstrap_servers, topic=topic,
                                    group_id=settings.service_name))
    typer.echo(f"{service}: {count} dead letters re-published to {topic}")


@app.command("create-topics")
def create_topics(partitions: Annotated[int, typer.Option(help="partitions per topic")] = 4) -> None:
    """Create every event topic and its dead-letter topic on KAFKA_BOOTSTRAP_SERVERS (existing ones are kept)."""
    import os  # noqa: PLC0415

    from shared.contracts.events import all_topics  # noqa: PLC0415
    from shared.events.kafka import ensure_topics  # noqa: PLC0415

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    asyncio.run(ensure_topics(bootstrap, all_topics(), partitions=partitions))
    typer.echo(f"topics ready on {bootstrap}: {', '.join(all_topics())}")


@app.command("create-admin")
def create_admin(username: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)]) -> None:
    """Create a bureau_admin in the gateway's database (how the first admin is made outside dev)."""
    from services.gateway.identity.service import create_admin_in_database  # noqa: PLC0415

    with _as_operator():
        user_id = asyncio.run(create_admin_in_database(_settings("gateway").database_url, username=username,
                                                       password=password))
    typer.echo(f"admin {username} created: {user_id}")


@app.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Make a new signing key active; the old one stays in the JWKS until its tokens have expired."""
    from services.gateway.identity.keys import KeyCipher, rotate_signing_key_in_database  # noqa: PLC0415

    settings = _settings("gateway")
    with _as_operator():
        kid = asyncio.run(rotate_signing_key_in_database(
            settings.database_url, KeyCipher.from_setting(settings.signing_key_encryption_key)))
    typer.echo(f"new signing key: {kid}")


@app.command("export-disbursement")
def export_disbursement(
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    policy: Annotated[str, typer.Option(help="policy code")] = "otog-talent-subsidy",
    gateway: Annotated[str, typer.Option(help="gateway URL")] = "http://127.0.0.1:8000",
    username: Annotated[str, typer.Option(help="a bureau_admin")] = "admin",
    password: Annotated[str | None, typer.Option(help="defaults to the dev admin password")] = None,
) -> None:
    """Write the month's disbursement batch to a file, through the API (POST /disbursements creates the
    batch the first time and returns the same batch after, exactly as for any API client)."""
    from devstack.api import Api  # noqa: PLC0415
    from devstack.stack import dev_secrets  # noqa: PLC0415

    admin = Api.login(gateway, username, password or dev_secrets()["GATEWAY_ADMIN_PASSWORD"])
    batch = admin.post("/subsidy/v1/disbursements", {"policy": policy, "month": month}, expect=(200, 201))
    response = admin.get(f"/subsidy/v1/disbursements/{batch['id']}/export", params={"format": fmt})
    path = f"disbursement-{policy}-{month}.{fmt}"
    with open(path, "wb") as out:
        out.write(response.content)
    typer.echo(f"{path}: {batch['line_count']} lines, {batch['total_fen'] / 100:,.2f} yuan")


AUDITED = ("registry", "subsidy", "projects", "gateway")


def _as_operator():
    """The trail's actor for what a command writes: the operator's login name."""
    import getpass  # noqa: PLC0415

    from shared import audit  # noqa: PLC0415

    return audit.acting_as(f"cli:{getpass.getuser()}")


def _audit_session(service: str, work):
    """Run `work(session)` in one transaction on a service's database, as the CLI user."""
    from shared.db import make_engine, make_sessionmaker  # noqa: PLC0415

    if service not in AUDITED:
        raise typer.BadParameter(f"service must be one of {', '.join(AUDITED)}")

    async def main():
        engine = make_engine(_settings(service).database_url, pool_size=1)
        try:
            with _as_operator():
                async with make_sessionmaker(engine)() as session, session.begin():
                    return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@app.command("verify-audit")
def verify_audit(service: str) -> None:
    """Recompute a service's audit chain; exit 1 naming the first row edited, removed or out of order."""
    from shared.audit.verify import verify_chain  # noqa: PLC0415

    verdict = _audit_session(service, verify_chain)
    if verdict.ok:
        typer.echo(f"{service}: audit trail intact: {verdict.rows} rows, head seq {verdict.head_seq} "
                   f"hash {verdict.head_hash} (keep this line outside the database)")
        return
    broken = verdict.first_broken
    typer.echo(f"{service}: audit trail BROKEN at seq {broken.seq}" +
               (f" (row id {broken.id})" if broken.id is not None else "") + f": {broken.reason}", err=True)
    raise typer.Exit(1)


@app.command("purge-audit")
def purge_audit(service: str) -> None:
    """Remove audit rows sealed more than 180 days ago (never younger ones) and re-anchor the chain."""
    from shared.audit.verify import purge  # noqa: PLC0415

    typer.echo(f"{service}: {_audit_session(service, purge)} audit rows purged")
