"""Checking the chain (Python recomputes every hash: it trusts no function stored in the database) and purging.

A row is broken when its prev_hash is not the hash of the row before it (a row was removed, moved or the
row before was rewritten with a new hash) or when its content does not give its hash (it was edited).
Rows removed at the end are caught by the sequence that numbered them. What a chain alone cannot show is
a rewrite of every row from some point on by someone who recomputes the hashes: record the head printed
by the verify command somewhere outside the database to catch that too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import record
from shared.audit.schema import BULK_ACTION, CHAIN_LOCK_ID, DIGEST_CHUNK, RENDERED, RETENTION


def row_hash(values: list[str | None]) -> str:
    """sha256 of the canonical text: each rendered value length-prefixed, `-` for null (as audit_field)."""
    canonical = "".join("-" if v is None else f"{len(v)}:{v}" for v in values)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Broken:
    seq: int
    id: int | None
    reason: str


@dataclass
class Verdict:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_broken: Broken | None

    def as_dict(self) -> dict:
        return asdict(self)


_FIELD = {expr.format(r="a").removeprefix("a."): i for i, expr in enumerate(RENDERED)}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


async def _bulk_rows_broken(session: AsyncSession, entity: str, after: dict) -> str | None:
    """Why the rows a bulk insert recorded no longer give its digest, or None when they do."""
    key, columns = after.get("key"), after.get("columns") or []
    if not all(isinstance(n, str) and _NAME.match(n) for n in (entity, key, *columns)):
        return "it names no table and columns this check can read"
    names = ", ".join(f'"{n}"' for n in (key, *columns))
    query = text(f'SELECT "{key}", record_send(ROW({names})) FROM "{entity}" WHERE "{key}" BETWEEN :lo AND :hi '
                 f'ORDER BY "{key}"').execution_options(yield_per=5000)
    digest, chunk, current, found = hashlib.sha256(), None, None, 0
    for lo, hi in after.get("ids") or []:
        async for k, row in await session.stream(query, {"lo": lo, "hi": hi}):
            if k // DIGEST_CHUNK != chunk:
                if current is not None:
                    digest.update(current.digest())
                chunk, current = k // DIGEST_CHUNK, hashlib.sha256()
            current.update(row)
            found += 1
    if current is not None:
        digest.update(current.digest())
    if found != after.get("rows"):
        return f"{found} of the {after.get('rows')} {entity} rows it recorded are there: rows were deleted"
    if digest.hexdigest() != after.get("digest"):
        return f"the {entity} rows it recorded were edited after they were written (their digest differs)"
    return None


_ROWS = text(f"SELECT a.id, a.seq, a.hash, {', '.join(e.format(r='a') for e in RENDERED)} "
             "FROM audit_log a WHERE a.seq IS NOT NULL ORDER BY a.seq")


async def verify_chain(session: AsyncSession) -> Verdict:
    """Walk the whole chain from its anchor; stop at the first broken row."""
    # Read how far the sequence went while no seal is in progress (a seal holds the chain lock until its
    # commit is visible): every row up to there must then be seen by the scan below, which may see more.
    await session.execute(text("SELECT pg_advisory_lock_shared(:id)"), {"id": CHAIN_LOCK_ID})
    try:
        anchor_seq, anchor_hash, handed_out = (await session.execute(text(
            "SELECT seq, hash, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_log_seq_seq) "
            "FROM audit_anchor"))).one()
    finally:
        await session.execute(text("SELECT pg_advisory_unlock_shared(:id)"), {"id": CHAIN_LOCK_ID})
    expected_prev, expected_seq, rows = anchor_hash, anchor_seq + 1, 0
    last_seq = anchor_seq
    broken: Broken | None = None
    bulk: list[tuple[int, int, str, str]] = []  # bulk inserts on the intact part of the chain, checked after it
    result = await session.stream(_ROWS.execution_options(yield_per=2000))
    async for row in result:
        row_id, seq, stored_hash, *values = row
        prev_hash = values[-1]
        if prev_hash != expected_prev:
            reason = (f"rows {expected_seq}..{seq - 1} are missing" if seq > expected_seq else
                      f"it does not follow row {seq - 1}: rows were reordered, or the row before was rewritten")
            broken = Broken(seq, row_id, reason)
            break
        if row_hash(values) != stored_hash:
            broken = Broken(seq, row_id, "its content does not match its hash: it was edited")
            break
        if values[_FIELD["action"]] == BULK_ACTION:
            bulk.append((seq, row_id, values[_FIELD["entity"]], values[_FIELD["after::text"]]))
        expected_prev, expected_seq, last_seq, rows = stored_hash, seq + 1, seq, rows + 1
    await result.close()
    if broken is None and handed_out > last_seq:
        broken = Broken(last_seq + 1, None, f"rows {last_seq + 1}..{handed_out} are missing at the end of the trail")
    for seq, row_id, entity, after in bulk:  # in chain order: the first broken one is named
        reason = await _bulk_rows_broken(session, entity, json.loads(after))
        if reason:
            broken = Broken(seq, row_id, reason)
            break
    return Verdict(broken is None, rows, last_seq, expected_prev, broken)


async def purge(session: AsyncSession) -> int:
    """Remove the oldest rows, all sealed more than the retention period ago, and re-anchor the chain on the
    last removed row. The purge itself is recorded in the trail. Returns how many rows were removed."""
    last = (await session.execute(text(f"""
        SELECT seq, hash FROM audit_log
        WHERE seq < coalesce((SELECT min(seq) FROM audit_log WHERE at >= now() - interval '{RETENTION}'),
                             9223372036854775807)
        ORDER BY seq DESC LIMIT 1"""))).first()
    if last is None:
        return 0
    removed = (await session.execute(text("DELETE FROM audit_log WHERE seq <= :seq"), {"seq": last.seq})).rowcount
    await session.execute(text("UPDATE audit_anchor SET seq = :seq, hash = :hash, purged_at = now()"),
                          {"seq": last.seq, "hash": last.hash})
    await record(session, action="purge", entity="audit_log",
                 before={"through_seq": last.seq, "rows": removed, "last_hash": last.hash})
    return removed
