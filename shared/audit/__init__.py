"""The tamper-evident audit trail: who wrote or looked at what, in the same transaction, chained by hash.

- Writes are captured by PostgreSQL triggers on the business tables (attached in each service's audit
  migration with `shared.audit.schema.capture`): one row per inserted, updated or deleted row, with
  before/after of that table's money and personal columns. Triggers see ORM flushes, Core statements and
  COPY alike. Who wrote comes from a transaction-local setting the session sets when a write request's
  transaction begins (actor, roles, client, request id, method, path); a write without one (psql, a
  migration, the event consumer) is recorded as `db:<database user>`.
- Looks at unmasked personal data and exports are not writes: service code calls `record()`.
- At commit a deferred trigger seals the transaction's rows under an advisory lock: the next `seq`,
  `prev_hash` (the previous row's hash) and `hash` = sha256 of the row's canonical text, which ends
  with prev_hash. `shared.audit.verify` recomputes the chain in Python and names the first broken row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    column,
    event,
    insert,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.logs import request_id_var

CONTEXT_SETTING = "socialwork.audit"  # transaction-local: what the capture trigger records as the actor
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_context: ContextVar[dict[str, Any] | None] = ContextVar("audit_context", default=None)


_SEALED = text("seq IS NOT NULL")


def audit_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Add audit_log and audit_anchor to a service's metadata (one trail per service database)."""
    log = Table(
        "audit_log", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),  # insertion order, not chain order
        Column("seq", BigInteger),  # chain order, given when the transaction commits
        Column("at", DateTime(timezone=True)),  # when it was sealed (commit time)
        Column("actor", Text, nullable=False),
        Column("roles", Text),
        Column("client_id", Text),
        Column("request_id", Text),
        Column("method", Text),
        Column("path", Text),
        Column("action", Text, nullable=False),  # insert, update, delete, view_personal_data, export, purge
        Column("entity", Text, nullable=False),
        Column("entity_id", Text),
        Column("worker_id", UUID(as_uuid=True)),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("purpose", Text),
        Column("prev_hash", Text),
        Column("hash", Text),
        # Indexes cover sealed rows only: a row is indexed once, when it is sealed, not also when written.
        Index("uq_audit_log_seq", "seq", unique=True, postgresql_where=_SEALED),
        Index("uq_audit_log_prev_hash", "prev_hash", unique=True, postgresql_where=_SEALED),  # no forks
        Index("ix_audit_log_worker_id_seq", "worker_id", "seq", postgresql_where=_SEALED),
        Index("ix_audit_log_actor_seq", "actor", "seq", postgresql_where=_SEALED),
        Index("ix_audit_log_at", "at", postgresql_where=_SEALED),
        Index("ix_audit_log_unsealed", "id", postgresql_where=text("hash IS NULL")),
    )
    anchor = Table(
        "audit_anchor", metadata,
        # One row: where the chain starts (seq 0 and 64 zeros, or the last row a purge removed).
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("hash", Text, nullable=False),
        Column("purged_at", DateTime(timezone=True)),
    )
    return log, anchor


AUDIT_LOG = table(
    "audit_log", column("id", BigInteger), column("seq", BigInteger), column("at"), column("actor", Text),
    column("roles", Text), column("client_id", Text), column("request_id", Text), column("method", Text),
    column("path", Text), column("action", Text), column("entity", Text), column("entity_id", Text),
    column("worker_id", UUID(as_uuid=True)), column("before", JSONB), column("after", JSONB),
    column("purpose", Text), column("prev_hash", Text), column("hash", Text),
)


ANONYMOUS = "anonymous"  # the actor of a request without a token (signing in: the gateway's throttle, sessions)


def bind_request(principal, request) -> None:
    """Who is acting in this request (called once the token is verified; `None` before anyone is known)."""
    _context.set({
        "actor": principal.subject if principal else ANONYMOUS,
        "roles": ",".join(sorted(principal.roles)) if principal else None,
        "client_id": principal.client_id if principal else None,
        "request_id": request_id_var.get(), "method": request.method, "path": request.url.path,
    })


@contextmanager
def acting_as(actor: str, *, method: str = "CLI", path: str | None = None) -> Iterator[None]:
    """For commands and jobs outside a request: their writes and records carry this actor."""
    token = _context.set({"actor": actor, "roles": None, "client_id": None, "request_id": None,
                          "method": method, "path": path})
    try:
        yield
    finally:
        _context.reset(token)


_SET_CONTEXT = text("SELECT set_config(:name, :value, true)")


@event.listens_for(Session, "after_begin")
def _set_transaction_context(session, transaction, connection) -> None:
    """Tell the capture triggers who is writing: one set_config per transaction of a write request (reads
    skip the round trip; a read that writes calls `declare_actor`)."""
    ctx = _context.get()
    if ctx is not None and ctx.get("method") not in SAFE_METHODS:
        connection.execute(_SET_CONTEXT, {"name": CONTEXT_SETTING, "value": json.dumps(ctx)})


async def declare_actor(session: AsyncSession) -> None:
    """For a GET that writes (e.g. recording a look): tell the capture triggers who is acting."""
    ctx = _context.get()
    if ctx is not None:
        await session.execute(_SET_CONTEXT, {"name": CONTEXT_SETTING, "value": json.dumps(ctx)})


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str))


async def record(session: AsyncSession, *, action: str, entity: str, entity_id: Any = None,
                 worker_id: Any = None, before: dict | None = None, after: dict | None = None,
                 purpose: str | None = None) -> None:
    """Add a row to the trail in the caller's transaction (it exists only if that transaction commits).

    For what the triggers cannot see: `view_personal_data` (a look at unmasked personal data, with the
    stated purpose) and `export`; also explicit before/after a service wants beside the row-level ones.
    Never pass a clear ID number: pass the keyed hash or the masked form.
    """
    ctx = _context.get() or {}
    await session.execute(insert(AUDIT_LOG).values(
        actor=ctx.get("actor") or "system", roles=ctx.get("roles"), client_id=ctx.get("client_id"),
        request_id=ctx.get("request_id"), method=ctx.get("method"), path=ctx.get("path"), action=action,
        entity=entity, entity_id=None if entity_id is None else str(entity_id), worker_id=worker_id,
        before=_jsonable(before), after=_jsonable(after), purpose=purpose))
