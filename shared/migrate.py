"""Alembic glue: each service's env.py calls run_env(); launchers and tests call upgrade()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(service: str, database_url: str, revision: str = "head", *,
            environ: Mapping[str, str] | None = None) -> None:
    """Apply a service's migrations (synchronous: run it in a thread from async code). `environ`: the service's
    environment when it is not this process's (a data migration that needs the service's keys reads them there)."""
    cfg = alembic_config(service, database_url)
    if environ is not None:
        cfg.attributes["environ"] = environ
    command.upgrade(cfg, revision)


def run_env(target_metadata: MetaData, default_url: Callable[[], str]) -> None:
    """Body of every service's migrations/env.py (online mode, async engine).

    `default_url` is called only when no URL was passed in, so migrating never needs a service's secrets.
    """
    url = context.config.attributes.get("database_url") or default_url()

    def do_run(connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(main())
