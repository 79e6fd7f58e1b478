"""Inbox handlers: the subsidy service's view of the facts, from events only.

Each handler takes a list of events of its type, in the order they arrived, and applies them set-based
(a few statements for the whole list); the one-by-one path is the same handler with a list of one. The
result is that of applying them one after the other: the inbox drops redelivered event ids, and for facts
arriving out of order the upserts keep the right answer (the highest revision of a service month, the
latest registration, a revocation that arrives before its certificate's issue). Within a list, each
fact's events are folded in arrival order first (what one-by-one application would have written, and
from which month each change counts), then written in one upsert with the same conflict rules.

Handlers only record facts, and note in `fact_changes` that the worker's facts changed from some month on
(once per worker and list). What that changes in money is settled by the next batch (ledger/settlement.py),
under the batch lock. Handlers of different types touch different facts (issue and revocation different
columns of a certificate) and so commute, as the inbox's batch path needs.
"""

from __future__ import annotations

import uuid
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.eligibility import rules
from shared.contracts.events import (
    CertificateIssued,
    CertificateRevoked,
    EventType,
    ServiceMonth,
    WorkerRegistrationChanged,
)
from shared.db import driver_connection
from shared.events.envelope import CloudEvent
from shared.events.inbox import Batched


def _order(key: uuid.UUID) -> int:
    return key.int  # rows are written in key order (one lock order for every writer); UUID's own < is slow


async def note_changes(session: AsyncSession, changes: dict[uuid.UUID, int]) -> None:
    """Workers' facts changed, which can change what is due from month `changes[worker]` on: a new sequence
    number per worker, and the earliest month changed since the last settlement."""
    if not changes:
        return
    workers = sorted(changes, key=_order)
    await (await driver_connection(session)).execute("""
        INSERT INTO fact_changes AS f (worker_id, seq, from_idx)
        SELECT w, nextval('fact_change_seq'), i FROM unnest($1::uuid[], $2::int[]) AS u(w, i)
        ON CONFLICT (worker_id) DO UPDATE SET seq = nextval('fact_change_seq'),
          from_idx = least(coalesce(f.from_idx, excluded.from_idx), excluded.from_idx), changed_at = now()""",
        workers, [changes[w] for w in workers])


async def note_change(session: AsyncSession, *, worker_id: uuid.UUID, from_idx: int) -> None:
    """The worker's facts changed, which can change what is due from month `from_idx` on."""
    await note_changes(session, {worker_id: from_idx})


def _earliest(changes: dict[uuid.UUID, int], worker_id: uuid.UUID, *months: int | None) -> None:
    idx = min(m for m in months if m is not None)
    changes[worker_id] = min(changes.get(worker_id, idx), idx)


def _month(day) -> int | None:
    return rules.date_month(day) if day is not None else None


async def _recorded(session: AsyncSession, columns: str, table: str, keys) -> dict[uuid.UUID, tuple]:
    """What is recorded now of the facts with these keys (the first column is the key)."""
    sql = f"SELECT {columns} FROM {table} JOIN unnest($1::uuid[]) AS k(key) ON {columns.split(',')[0]} = k.key"
    return {row[0]: tuple(row[1:]) for row in await (await driver_connection(session)).fetch(sql, list(keys))}


async def on_certificates_issued(session: AsyncSession, events: list[CloudEvent]) -> None:
    issued = [CertificateIssued.model_validate(e.data) for e in events]
    ids = {d.certificate_id for d in issued}
    recorded = await _recorded(session, "certificate_id, obtained_on", "certificates", ids)
    obtained = {k: v[0] for k, v in recorded.items()}
    last: dict[uuid.UUID, CertificateIssued] = {}
    changes: dict[uuid.UUID, int] = {}
    for d in issued:
        # A certificate covers months after the one it was obtained in (an earlier record may say another date).
        _earliest(changes, d.worker_id, _month(d.obtained_on), _month(obtained.get(d.certificate_id)))
        obtained[d.certificate_id] = d.obtained_on
        last[d.certificate_id] = d
    rows = [last[k] for k in sorted(last, key=_order)]
    # The revocation, if it came first, is kept.
    await (await driver_connection(session)).execute("""
        INSERT INTO certificates AS c (certificate_id, worker_id, level, certificate_no, obtained_on)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::date[])
        ON CONFLICT (certificate_id) DO UPDATE SET worker_id = excluded.worker_id, level = excluded.level,
          certificate_no = excluded.certificate_no, obtained_on = excluded.obtained_on, updated_at = now()""",
        [d.certificate_id for d in rows], [d.worker_id for d in rows], [d.level for d in rows],
        [d.certificate_no for d in rows], [d.obtained_on for d in rows])
    await note_changes(session, changes)


async def on_certificates_revoked(session: AsyncSession, events: list[CloudEvent]) -> None:
    revoked = [CertificateRevoked.model_validate(e.data) for e in events]
    ids = {d.certificate_id for d in revoked}
    recorded = await _recorded(session, "certificate_id, revoked_on", "certificates", ids)
    current = {k: v[0] for k, v in recorded.items()}
    first: dict[uuid.UUID, CertificateRevoked] = {}  # its worker is the one a new row is written with
    last: dict[uuid.UUID, CertificateRevoked] = {}  # its reason is kept
    earliest: dict = {}  # of the revocation dates in the list
    changes: dict[uuid.UUID, int] = {}
    for d in revoked:
        key = d.certificate_id
        _earliest(changes, d.worker_id, _month(d.revoked_on), _month(current.get(key)))
        current[key] = min(current[key], d.revoked_on) if current.get(key) else d.revoked_on
        first.setdefault(key, d)
        last[key] = d
        earliest[key] = min(earliest.get(key, d.revoked_on), d.revoked_on)
    keys = sorted(last, key=_order)
    await (await driver_connection(session)).execute("""
        INSERT INTO certificates AS c (certificate_id, worker_id, revoked_on, revocation_reason)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[])
        ON CONFLICT (certificate_id) DO UPDATE SET revoked_on = LEAST(c.revoked_on, excluded.revoked_on),
          revocation_reason = excluded.revocation_reason, updated_at = now()""",
        keys, [first[k].worker_id for k in keys], [earliest[k] for k in keys], [last[k].reason for k in keys])
    await note_changes(session, changes)


async def on_registrations_changed(session: AsyncSession, events: list[CloudEvent]) -> None:
    # The event with the latest time wins (a later one of the same time too); a time without an offset is UTC.
    told = [(WorkerRegistrationChanged.model_validate(e.data), e.time if e.time.tzinfo else e.time.replace(tzinfo=UTC))
            for e in events]
    current = await _recorded(session, "worker_id, registered_on, division_code, as_of", "registrations",
                              {d.worker_id for d, _ in told})
    won: dict[uuid.UUID, tuple] = {}
    changes: dict[uuid.UUID, int] = {}
    for d, as_of in told:
        old = current.get(d.worker_id)
        if old is not None and as_of < old[2]:
            continue
        # A registration counts from the month it is dated; a changed bureau or a missing date: every month.
        dated = [old[0] if old else None, d.registered_on]
        same_bureau = old is not None and old[1] == d.division_code
        _earliest(changes, d.worker_id, min(map(rules.date_month, dated)) if same_bureau and all(dated) else 0)
        current[d.worker_id] = won[d.worker_id] = (d.registered_on, d.division_code, as_of)
    workers = sorted(won, key=_order)
    await (await driver_connection(session)).execute("""
        INSERT INTO registrations AS g (worker_id, registered_on, division_code, as_of)
        SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::timestamptz[])
        ON CONFLICT (worker_id) DO UPDATE SET registered_on = excluded.registered_on,
          division_code = excluded.division_code, as_of = excluded.as_of
        WHERE excluded.as_of >= g.as_of""",
        workers, [won[w][0] for w in workers], [won[w][1] for w in workers], [won[w][2] for w in workers])
    await note_changes(session, changes)


async def on_service_months(session: AsyncSession, events: list[CloudEvent]) -> None:
    # Per worker-month the highest revision wins; of equal revisions the first to arrive (a later one does not
    # replace it), and only over a lower revision already recorded.
    best: dict[tuple[uuid.UUID, str], ServiceMonth] = {}
    for e in events:
        d = ServiceMonth.model_validate(e.data)
        key = (d.worker_id, d.month)
        if key not in best or d.revision > best[key].revision:
            best[key] = d
    rows = sorted(best.values(), key=lambda d: (d.worker_id.int, d.month))
    applied = await (await driver_connection(session)).fetch("""
        INSERT INTO service_months AS m (worker_id, month, station_id, full_time, service_hours, revision)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::boolean[], $5::numeric[], $6::int[])
        ON CONFLICT (worker_id, month) DO UPDATE SET station_id = excluded.station_id,
          full_time = excluded.full_time, service_hours = excluded.service_hours, revision = excluded.revision
        WHERE excluded.revision > m.revision
        RETURNING worker_id, month_idx""",
        [d.worker_id for d in rows], [d.month for d in rows], [d.station_id for d in rows],
        [d.full_time for d in rows], [d.service_hours for d in rows], [d.revision for d in rows])
    changes: dict[uuid.UUID, int] = {}
    for worker_id, idx in applied:
        _earliest(changes, worker_id, idx)
    await rebuild_runs(session, workers=sorted(changes, key=_order))
    await note_changes(session, changes)


async def rebuild_runs(session: AsyncSession, *, workers: list[uuid.UUID]) -> None:
    """The workers' runs of full-time months, from their service months (a few dozen rows each)."""
    if not workers:
        return
    raw = await driver_connection(session)
    # Joined with the keys, not `= ANY(array)`: index look-ups per worker, never a scan of every worker's rows.
    await raw.execute("DELETE FROM service_runs r USING unnest($1::uuid[]) AS w(id) WHERE r.worker_id = w.id", workers)
    await raw.execute("""
        INSERT INTO service_runs (worker_id, first_idx, last_idx)
        SELECT worker_id, min(month_idx), max(month_idx) FROM (
          SELECT worker_id, month_idx, month_idx - row_number() OVER (PARTITION BY worker_id ORDER BY month_idx) AS grp
          FROM unnest($1::uuid[]) AS w(id) JOIN service_months m ON m.worker_id = w.id WHERE m.full_time) t
        GROUP BY worker_id, grp""", workers)


HANDLERS = {
    EventType.CERTIFICATE_ISSUED.value: Batched(on_certificates_issued),
    EventType.CERTIFICATE_REVOKED.value: Batched(on_certificates_revoked),
    EventType.WORKER_REGISTRATION_CHANGED.value: Batched(on_registrations_changed),
    EventType.SERVICE_MONTH.value: Batched(on_service_months),
}
