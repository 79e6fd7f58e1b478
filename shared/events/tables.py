"""The outbox, inbox and dead-letter tables every service database holds, and their lightweight handles."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    column,
    func,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import new_metadata


def event_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """Add outbox, inbox and dead_letters to a service's metadata (one database per service)."""
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Column("dead_at", DateTime(timezone=True)),
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_created_at", "created_at"),
    )
    inbox = Table(
        "inbox", metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    dead_letters = Table(
        "dead_letters", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True)),
        Column("topic", Text, nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("error", Text, nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("redriven_at", DateTime(timezone=True)),
    )
    return outbox, inbox, dead_letters


def create_event_tables(op) -> None:
    """For a service's first Alembic revision: create the three tables as version 1 defines them."""
    metadata = new_metadata()
    event_tables(metadata)
    metadata.create_all(op.get_bind())


# Lightweight handles for DML, independent of any service's metadata.
OUTBOX = table(
    "outbox", column("id", BigInteger), column("event_id", UUID(as_uuid=True)), column("event_type", Text),
    column("topic", Text), column("key", Text), column("payload", JSONB), column("created_at"),
    column("published_at"), column("attempts", Integer), column("next_attempt_at"), column("last_error", Text),
    column("dead_at"),
)
INBOX = table(
    "inbox", column("event_id", UUID(as_uuid=True)), column("event_type", Text), column("topic", Text),
    column("partition", Integer), column("offset", BigInteger),
)
DEAD_LETTERS = table(
    "dead_letters", column("id", BigInteger), column("event_id", UUID(as_uuid=True)), column("topic", Text),
    column("partition", Integer), column("offset", BigInteger), column("error", Text), column("payload", Text),
    column("created_at"), column("redriven_at"),
)
