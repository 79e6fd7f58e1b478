"""Monthly disbursement batches (发放): settlement, per-worker transfers and set-off, line marks, exports.

Everything that moves money in the ledger happens here, at batch time, under the policy's batch lock:
event handlers only record facts.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from openpyxl import Workbook
from sqlalchemy import Select, and_, false, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.eligibility import rules
from services.subsidy.facts.handlers import note_change
from services.subsidy.facts.repository import Loaded, load_approved
from services.subsidy.ledger import settlement
from services.subsidy.ledger.models import Disbursement, DisbursementWorker, LedgerLine
from services.subsidy.payments.models import PaymentCycle
from services.subsidy.policies.service import terms_of, versions
from shared.auth import Principal, Role
from shared.clock import bureau_today
from shared.errors import Conflict, Invalid, NotFound
from shared.money import fen_to_yuan_str
from shared.registry_client import RegistryClient

log = logging.getLogger("subsidy.batch")
T = TypeVar("T")
MEANWHILE_CHUNK = 1_000  # workers settled between two reads of the socket (see _meanwhile)
RECEIVABLES_LOCK = "receivables"  # repayments, write-offs and set-off never interleave
LINE_COLUMNS = ("kind", "worker_id", "policy_code", "policy_id", "disbursement_id", "month", "level", "amount_fen",
                "status", "created_by", "rule", "reason", "due_fen", "station_id")
AWARD_COLUMNS = ("kind", "worker_id", "disbursement_id", "amount_fen", "status", "created_by", "title", "awarded_on",
                 "award_id", "reason")
WORKER_COLUMNS = ("disbursement_id", "worker_id", "new_months", "new_months_fen", "top_ups_fen", "awards_fen",
                  "recovered_fen", "gross_fen", "receivable_before_fen", "set_off_fen", "net_to_pay_fen",
                  "receivable_after_fen", "status")

# What a worker owes back (all policies): recoveries - live set-offs - repaid - approved write-offs.
RECEIVABLE_SQL = """
SELECT worker_id, sum(fen)::bigint FROM (
  SELECT worker_id, amount_fen AS fen FROM ledger_lines WHERE kind = 'recovery' {and_worker}
  UNION ALL SELECT worker_id, -set_off_fen FROM disbursement_workers
            WHERE set_off_fen > 0 AND status IN ('pending', 'paid') {and_worker}
  UNION ALL SELECT worker_id, -amount_fen FROM receivable_repayments WHERE true {and_worker}
  UNION ALL SELECT worker_id, -amount_fen FROM receivable_write_offs WHERE status = 'approved' {and_worker}
) t GROUP BY worker_id HAVING sum(fen) <> 0"""


def month_has_begun(month: str, *, now: datetime | None = None) -> bool:
    return rules.month_idx(month) <= rules.date_month(bureau_today(now))


async def lock(session: AsyncSession, name: str) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))


async def receivables(session: AsyncSession, worker_id: uuid.UUID | None = None) -> dict[uuid.UUID, int]:
    sql = RECEIVABLE_SQL.format(and_worker="AND worker_id = :w" if worker_id else "")
    rows = await session.execute(text(sql), {"w": worker_id} if worker_id else {})
    return {w: int(fen) for w, fen in rows}


async def create_batch(*, session: AsyncSession, principal: Principal, policy_code: str,
                       month: str) -> tuple[dict, bool]:
    """The month's batch, created once; later calls (also concurrent ones) get the same batch back."""
    principal.require(Role.BUREAU_ADMIN)
    await versions(session=session, code=policy_code)
    if not month_has_begun(month):
        raise Invalid(f"{month} has not begun in the bureau's time zone (Asia/Shanghai); a batch pays months that "
                      "have begun", field="month")
    new_id = uuid.uuid4()
    # Concurrent callers block on the unique key until the creator commits, then see its batch.
    created = (await session.execute(
        insert(Disbursement).values(id=new_id, policy_code=policy_code, month=month, created_by=principal.subject)
        .on_conflict_do_nothing(index_elements=["policy_code", "month"]).returning(Disbursement.id))).scalar()
    if created is None:
        batch = await session.scalar(select(Disbursement).where(
            Disbursement.policy_code == policy_code, Disbursement.month == month))
        return await batch_read(session, batch), False
    # Batches of one policy settle one at a time; the same lock keeps a version from being corrected while a
    # batch pays under it (so the terms are read after it) and line marks from moving under a settlement.
    await lock(session, "batch:" + policy_code)
    await lock(session, RECEIVABLES_LOCK)
    # A transfer sent to the bank is not voided by a later settlement (the bank may pay it): no batch is settled
    # while one of the policy is released and awaiting the bank's results.
    if await session.scalar(select(PaymentCycle.disbursement_id).join(
            Disbursement, Disbursement.id == PaymentCycle.disbursement_id).where(
            Disbursement.policy_code == policy_code, PaymentCycle.status == "released").limit(1)):
        raise Conflict("a batch of this policy is released and awaiting the bank's results; post them first",
                       field="month")
    terms = rules.Versions(terms_of(p) for p in await versions(session=session, code=policy_code))
    await settle_batch(session, batch_id=new_id, policy_code=policy_code, through=rules.month_idx(month),
                       terms=terms, actor=principal.subject)
    batch = await session.get(Disbursement, new_id, populate_existing=True)
    return await batch_read(session, batch), True


def _classify(loaded: dict[uuid.UUID, Loaded], key: str) -> tuple[list, list]:
    """Clean workers (nothing changed at or before the month they were settled through) and the others."""
    clean, dirty = [], []
    for w, item in loaded.items():
        s = item.settled
        if s is None or s.versions_key != key or (
                item.seq != s.seq and (item.changed_from is None or item.changed_from <= s.through)):
            dirty.append(w)
        else:
            clean.append(w)
    return clean, dirty


async def _entries(raw, policy_code: str, workers: list[uuid.UUID]) -> dict[uuid.UUID, list[settlement.Entry]]:
    out: dict[uuid.UUID, list[settlement.Entry]] = {w: [] for w in workers}
    for w, *row in await raw.fetch(
            "SELECT worker_id, id, kind, month_idx, level, amount_fen, status, disbursement_id FROM ledger_lines "
            "WHERE policy_code = $1 AND worker_id = ANY($2::uuid[]) AND kind <> 'award'", policy_code, workers):
        out[w].append(settlement.Entry(*row))
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch builds a few hundred thousand small objects (facts, verdicts, entries) that become garbage together
    at its end and hold no reference cycles; the cyclic collector would walk them again and again while they
    grow (a third of a 20,000-worker batch's Python time). Paused while the batch runs, then resumed."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


async def settle_batch(session: AsyncSession, *, batch_id: uuid.UUID, policy_code: str, through: int,
                       terms: rules.Versions, actor: str) -> None:
    """Settle every approved worker up to `through` into batch `batch_id` (the caller holds the batch lock)."""
    with _collector_paused():
        await _settle_batch(session, batch_id=batch_id, policy_code=policy_code, through=through, terms=terms,
                            actor=actor)


async def _settle_batch(session: AsyncSession, *, batch_id: uuid.UUID, policy_code: str, through: int,
                        terms: rules.Versions, actor: str) -> None:
    key = settlement.versions_key(terms)
    timings = [time.perf_counter()]
    loaded = await load_approved(session, policy_code=policy_code, through=through)
    clean, dirty = _classify(loaded, key)
    timings.append(time.perf_counter())
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    new: dict[uuid.UUID, list[settlement.NewEntry]] = {}
    states: list[tuple] = []  # (worker, seq, through, due_count) settled now
    forget: list[uuid.UUID] = []  # settled here only up to an earlier month than before: month by month next time
    # The stations of the months each worker can have new entries for (see _stations): an unchanged worker's
    # months after the one it was settled through, a changed worker's every month.
    after = {w: loaded[w].settled.through for w in clean if through > loaded[w].settled.through}
    after.update(dict.fromkeys(dirty, -1))

    def settle_clean(w: uuid.UUID) -> None:
        item = loaded[w]
        if through <= item.settled.through:
            return
        due = rules.due_months(item.facts, terms, through=through, after=item.settled.through,
                               used=item.settled.due_count)
        if due:
            new[w] = settlement.new_months(due)
            states.append((w, item.seq, through, item.settled.due_count + len(due)))
        elif item.seq != item.settled.seq:
            states.append((w, item.seq, item.settled.through, item.settled.due_count))

    async def entries_and_stations():
        return await _entries(raw, policy_code, dirty), await _stations(raw, after, through)

    entries, stations = await _meanwhile(entries_and_stations(), clean, settle_clean)
    timings.append(time.perf_counter())
    voids: list[tuple[uuid.UUID, uuid.UUID]] = []

    def settle_dirty(w: uuid.UUID) -> None:
        item = loaded[w]
        due = rules.due_months(item.facts, terms, through=through)
        result = settlement.settle(due, entries[w], through=through,
                                   why=lambda m, f=item.facts: settlement.explain_month(f, terms, m))
        if result.entries:
            new[w] = result.entries
        voids.extend((b, w) for b in result.void_batches)
        if item.settled is not None and item.settled.through > through:
            forget.append(w)
        else:
            states.append((w, item.seq, through, result.due_count))

    # A changed worker's settlement can void a pending transfer of an earlier batch, which changes the awards
    # still to pay and the receivables: those workers are settled now; the others while their lines are written.
    later = []
    for w in dirty:
        if settlement.may_void(entries[w]):
            settle_dirty(w)
        else:
            later.append(w)
    if not new:  # no line yet: no COPY is started (and audited) for none
        for w in later:
            settle_dirty(w)
        later = []
    timings.append(time.perf_counter())
    if voids:
        await raw.execute(
            "UPDATE ledger_lines l SET status = 'voided', marked_at = now(), "
            "failure_reason = 'voided: no longer due before it was paid' "
            "FROM unnest($1::uuid[], $2::uuid[]) v(b, w) WHERE l.disbursement_id = v.b AND l.worker_id = v.w "
            "AND l.status = 'pending'", [b for b, _ in voids], [w for _, w in voids])
        await raw.execute(
            "UPDATE disbursement_workers d SET status = 'voided', marked_at = now() "
            "FROM unnest($1::uuid[], $2::uuid[]) v(b, w) WHERE d.disbursement_id = v.b AND d.worker_id = v.w "
            "AND d.status = 'pending'", [b for b, _ in voids], [w for _, w in voids])
        voids.clear()
    awards = await raw.fetch(
        "SELECT a.id, a.worker_id, a.amount_fen, a.title, a.awarded_on FROM awards a WHERE a.status = 'approved' "
        "AND NOT EXISTS (SELECT 1 FROM ledger_lines l WHERE l.award_id = a.id AND l.status IN ('pending', 'paid')) "
        "ORDER BY a.created_at")
    owed = await receivables(session)
    await _write(raw, batch_id=batch_id, policy_code=policy_code, actor=actor, new=new, stations=stations,
                 awards=awards, owed=owed, later=later, settle=settle_dirty)
    if voids:  # cannot happen (settlement.may_void): it would leave a transfer pending that is no longer due
        raise AssertionError("a worker settled while its lines were written voided a transfer")
    timings.append(time.perf_counter())
    await _remember(raw, policy_code=policy_code, key=key, states=states, forget=forget)
    timings.append(time.perf_counter())
    steps = ("facts", "entries, stations and new months", "settlement voiding", "settlement and write", "states")
    log.info("batch settled: %d workers (%d settled month by month), %s", len(loaded), len(dirty),
             ", ".join(f"{name} {b - a:.2f} s" for name, a, b in zip(steps, timings[:-1], timings[1:], strict=True)))


async def _meanwhile(query: Awaitable[T], workers: list[uuid.UUID], step: Callable[[uuid.UUID], None]) -> T:
    """`step` for each worker while PostgreSQL runs `query` on the same connection (the other core): the rules
    are pure Python and need nothing from the query. Between chunks of workers the event loop reads what has
    arrived, so the query never stalls on a full socket. At 100,000 workers, the new months, the changed
    workers' entries and the stations: 2.2-2.5 s, where one after the other they took 0.45 + 0.9-1.3 + 2.6 s."""
    query = asyncio.ensure_future(query)
    try:
        for i in range(0, len(workers), MEANWHILE_CHUNK):
            await asyncio.sleep(0)
            for w in workers[i:i + MEANWHILE_CHUNK]:
                step(w)
    except BaseException:
        await asyncio.gather(query, return_exceptions=True)  # the connection is free again (for the rollback)
        raise
    return await query


async def _write(raw, *, batch_id, policy_code, actor, new, stations, awards, owed, later, settle) -> None:
    """The entries, award lines and one settlement row per worker (set-off and what the bank pays).

    The workers in `later` are settled (`settle`) and all lines made while COPY sends them: PostgreSQL inserts
    one chunk while Python settles and makes the next (at 100,000 workers Python has made the last line 2.5 s
    into the COPY's 5.4 s; before, 1.1 s of settlement and 0.6 s of lines came first)."""
    award_fen: dict[uuid.UUID, int] = {}
    for a in awards:
        award_fen[a["worker_id"]] = award_fen.get(a["worker_id"], 0) + a["amount_fen"]
    rows, status_of = [], {}
    line_count = total = 0
    month_str = rules.month_str

    async def lines():
        nonlocal line_count, total
        # In worker order: the rows reach the indexes that lead with the worker (ledger_lines by worker, the
        # per-worker rows' key) in key order, page after page, instead of one random page each.
        settle_now = set(later)
        for w in sorted(set(new) | settle_now | set(award_fen)):
            if w in settle_now:
                settle(w)
                if w not in new and w not in award_fen:
                    continue  # nothing to pay or recover: no row (as for every worker without a line)
            firsts = tops = new_fen = top_fen = rec_fen = 0
            mine = new.get(w, ())
            for e in mine:  # one pass: a batch has a few hundred thousand entries
                if e.kind == "subsidy":
                    firsts, new_fen = firsts + 1, new_fen + e.amount_fen
                elif e.kind == "top_up":
                    tops, top_fen = tops + 1, top_fen + e.amount_fen
                else:
                    rec_fen += e.amount_fen
            gross = new_fen + top_fen + award_fen.get(w, 0)
            before = owed.get(w, 0) + rec_fen  # this batch's recoveries are set off against its payments too
            set_off = min(gross, before)
            net = gross - set_off
            status = status_of[w] = "pending" if net > 0 else "paid"  # nothing to transfer: settled by set-off
            rows.append((batch_id, w, firsts, new_fen, top_fen, award_fen.get(w, 0), rec_fen, gross, before,
                         set_off, net, before - set_off, status))
            line_count += firsts + tops
            total += gross
            station = stations.get(w, {})
            for e in mine:
                yield (e.kind, w, policy_code, e.policy_id, batch_id, month_str(e.month), e.level, e.amount_fen,
                       "recorded" if e.kind == "recovery" else status, actor, e.rule, e.reason, e.due_fen,
                       station.get(e.month))

    if new:
        await raw.copy_records_to_table("ledger_lines", columns=LINE_COLUMNS, records=lines())
    else:  # no line to copy (no COPY, as before): the per-worker rows of the awards alone
        async for _ in lines():
            pass
    line_count += len(awards)
    if awards:
        await raw.copy_records_to_table("ledger_lines", columns=AWARD_COLUMNS, records=[
            ("award", a["worker_id"], batch_id, a["amount_fen"], status_of[a["worker_id"]], actor, a["title"],
             a["awarded_on"], a["id"], "approved award") for a in awards])
    if rows:
        await raw.copy_records_to_table("disbursement_workers", columns=WORKER_COLUMNS, records=rows)
    await raw.execute("UPDATE disbursements SET line_count = $2, total_fen = $3 WHERE id = $1", batch_id,
                      line_count, total)


async def _stations(raw, after: dict[uuid.UUID, int], through: int) -> dict[uuid.UUID, dict[int, uuid.UUID]]:
    """Per worker, the station of each confirmed service month after `after[worker]` up to `through`: an entry's
    month's station is kept on the line (the report summary groups by it, so money paid for a month stays with
    the station it was paid for). Read per worker before its entries are known (an unchanged worker's new months,
    a changed worker's every month), so that it runs while they are computed, and one row per worker with its
    months as arrays: at 100,000 workers, looking up the 248,000 (worker, month) pairs of the entries after them
    took 2.6 s (PostgreSQL ~1 s of index probes and a sort, the rest encoding and decoding the pairs); this takes
    0.6-0.7 s for the 13,000 changed workers' 468,000 months alone."""
    if not after:
        return {}
    return {w: dict(zip(months, stations, strict=True)) for w, months, stations in await raw.fetch(
        "SELECT u.w, s.months, s.stations FROM unnest($1::uuid[], $2::text[]) u(w, after) CROSS JOIN LATERAL ("
        "SELECT array_agg(month_idx) AS months, array_agg(station_id) AS stations FROM service_months s "
        "WHERE s.worker_id = u.w AND s.month > u.after AND s.month <= $3) s WHERE s.months IS NOT NULL",
        list(after), [rules.month_str(m) if m >= 0 else "" for m in after.values()], rules.month_str(through))}


async def _remember(raw, *, policy_code, key, states, forget) -> None:
    """Settled states, and the fact changes they consumed (a change committed meanwhile keeps its sequence)."""
    states = sorted(states)  # in key order (see _write)
    if states:
        await raw.execute(
            "INSERT INTO settled_workers (policy_code, worker_id, seq, through_idx, due_count, versions_key) "
            "SELECT $1, w, s, t, c, $6 FROM unnest($2::uuid[], $3::bigint[], $4::int[], $5::int[]) u(w, s, t, c) "
            "ON CONFLICT (policy_code, worker_id) DO UPDATE SET seq = excluded.seq, "
            "through_idx = excluded.through_idx, due_count = excluded.due_count, versions_key = excluded.versions_key",
            policy_code, [s[0] for s in states], [s[1] for s in states], [s[2] for s in states],
            [s[3] for s in states], key)
        await raw.execute(
            "UPDATE fact_changes f SET from_idx = NULL FROM unnest($1::uuid[], $2::bigint[]) u(w, s) "
            "WHERE f.worker_id = u.w AND f.seq = u.s AND f.from_idx IS NOT NULL",
            [s[0] for s in states if s[1] is not None], [s[1] for s in states if s[1] is not None])
    if forget:
        await raw.execute("DELETE FROM settled_workers WHERE policy_code = $1 AND worker_id = ANY($2::uuid[])",
                          policy_code, forget)


async def batch_read(session: AsyncSession, batch: Disbursement) -> dict:
    """The batch with live figures: voided and failed lines no longer count (the stored line_count and
    total_fen are the figures as created)."""
    counts = (await session.execute(text("""
        SELECT count(*) FILTER (WHERE kind <> 'recovery' AND status IN ('pending', 'paid')),
               coalesce(sum(amount_fen) FILTER (WHERE kind <> 'recovery' AND status IN ('pending', 'paid')), 0),
               coalesce(sum(amount_fen) FILTER (WHERE kind = 'recovery'), 0),
               coalesce(sum(amount_fen) FILTER (WHERE status = 'failed'), 0),
               coalesce(sum(amount_fen) FILTER (WHERE status = 'voided'), 0)
        FROM ledger_lines WHERE disbursement_id = :b"""), {"b": batch.id})).one()
    transfers = (await session.execute(text("""
        SELECT count(*) FILTER (WHERE net_to_pay_fen > 0 AND status IN ('pending', 'paid')),
               coalesce(sum(net_to_pay_fen) FILTER (WHERE status IN ('pending', 'paid')), 0),
               coalesce(sum(set_off_fen) FILTER (WHERE status IN ('pending', 'paid')), 0)
        FROM disbursement_workers WHERE disbursement_id = :b"""), {"b": batch.id})).one()
    return {"id": batch.id, "policy_code": batch.policy_code, "month": batch.month, "created_by": batch.created_by,
            "created_at": batch.created_at, "line_count": counts[0], "total_fen": int(counts[1]),
            "recovered_fen": int(counts[2]), "failed_fen": int(counts[3]), "voided_fen": int(counts[4]),
            "transfers": transfers[0], "net_to_pay_fen": int(transfers[1]), "set_off_fen": int(transfers[2])}


def _can_see_batches(principal: Principal) -> bool:
    return principal.reads_everything or principal.has_any(Role.STATION_MANAGER)


def batches(principal: Principal, *, policy_code: str | None, month: str | None) -> Select:
    """The batches a caller may open (bureau, auditor, station manager: every batch, as by id; anyone else none),
    with the figures stored when each was created and the cycle's state (no cycle row: draft). One query per
    page: the live figures of `get_batch` add up every line of the batch, so they stay on the batch's own page."""
    stmt = (select(Disbursement.id, Disbursement.policy_code, Disbursement.month, Disbursement.line_count,
                   Disbursement.total_fen, Disbursement.created_by, Disbursement.created_at,
                   func.coalesce(PaymentCycle.status, "draft").label("status"))
            .outerjoin(PaymentCycle, PaymentCycle.disbursement_id == Disbursement.id))
    if not _can_see_batches(principal):
        stmt = stmt.where(false())
    if policy_code is not None:
        stmt = stmt.where(Disbursement.policy_code == policy_code)
    if month is not None:
        stmt = stmt.where(Disbursement.month == month)
    return stmt


async def visible_batch(session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> Disbursement:
    """The batch if the caller may see batches (404 otherwise): one look-up by key, no figures."""
    batch = await session.get(Disbursement, batch_id) if _can_see_batches(principal) else None
    if batch is None:
        raise NotFound("no such disbursement")
    return batch


async def get_batch(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> dict:
    return await batch_read(session, await visible_batch(session, principal, batch_id))


def batch_lines(principal: Principal, batch_id: uuid.UUID) -> Select:
    return select(LedgerLine).where(LedgerLine.disbursement_id == batch_id,
                                    readable_workers(principal, LedgerLine.worker_id))


def batch_workers(principal: Principal, batch_id: uuid.UUID) -> Select:
    return select(DisbursementWorker).where(DisbursementWorker.disbursement_id == batch_id,
                                            readable_workers(principal, DisbursementWorker.worker_id))


async def mark_line(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, line_id: int,
                    status: str, reason: str | None) -> LedgerLine:
    """The bank pays one transfer per worker and batch: marking one of its lines marks the transfer, i.e. every
    pending payment line of that worker in the batch. A failed transfer pays nothing: its set-off is cancelled
    (the receivable comes back) and its months are due again in the next batch (a new attempt)."""
    principal.require(Role.BUREAU_ADMIN)
    batch = await visible_batch(session, principal, batch_id)
    line = await session.scalar(select(LedgerLine).where(LedgerLine.id == line_id,
                                                         LedgerLine.disbursement_id == batch_id))
    if line is None:
        raise NotFound("no such line in this disbursement")
    if line.kind == "recovery":
        raise Invalid("a recovery is not a payment; it has nothing to mark", field="line_id")
    await lock(session, "batch:" + batch.policy_code)
    await lock(session, RECEIVABLES_LOCK)
    if await session.scalar(select(PaymentCycle.status).where(PaymentCycle.disbursement_id == batch_id)):
        raise Conflict("the batch is in its payment cycle (published): its transfers are marked by the bank's result "
                       "file after release, not one by one", field="status")
    if await mark_transfer(session, batch_id=batch_id, worker_id=line.worker_id, status=status, reason=reason) == 0:
        await session.refresh(line)
        raise Conflict(f"the line is already marked {line.status}")
    await session.refresh(line)
    return line


async def mark_transfer(session: AsyncSession, *, batch_id: uuid.UUID, worker_id: uuid.UUID, status: str,
                        reason: str | None) -> int:
    """Paid, failed or voided: every pending payment line of the worker in the batch and its transfer (the caller
    holds the batch and receivables locks). A failed or voided transfer pays nothing: its set-off is cancelled
    and its months are due again in the next batch (a new attempt). Returns the lines marked (0: none pending)."""
    mine = and_(LedgerLine.disbursement_id == batch_id, LedgerLine.worker_id == worker_id,
                LedgerLine.kind != "recovery")
    months = list(await session.scalars(select(LedgerLine.month_idx).where(
        mine, LedgerLine.status == "pending", LedgerLine.month_idx.is_not(None))))
    result = await session.execute(
        update(LedgerLine).where(mine, LedgerLine.status == "pending")
        .values(status=status, failure_reason=reason, marked_at=func.now())
        .execution_options(synchronize_session=False))
    if result.rowcount == 0:
        return 0
    await session.execute(
        update(DisbursementWorker).where(DisbursementWorker.disbursement_id == batch_id,
                                         DisbursementWorker.worker_id == worker_id,
                                         DisbursementWorker.status == "pending")
        .values(status=status, failure_reason=reason, marked_at=func.now())
        .execution_options(synchronize_session=False))
    if status in ("failed", "voided") and months:
        await note_change(session, worker_id=worker_id, from_idx=min(months))
    return result.rowcount


def worker_payments(principal: Principal, worker_id: uuid.UUID) -> Select:
    return select(LedgerLine).where(LedgerLine.worker_id == worker_id,
                                    readable_workers(principal, LedgerLine.worker_id))


def recoveries(principal: Principal) -> Select:
    return select(LedgerLine).where(LedgerLine.kind == "recovery", readable_workers(principal, LedgerLine.worker_id))


async def export_batch(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, fmt: str,
                       registry: RegistryClient | None) -> tuple[bytes, str, str]:
    """The batch for the bank and the archive: a row per payment line, a set-off row per worker whose
    receivable is set off (so a worker's rows add up to the one transfer), names from the registry, a total."""
    batch = await visible_batch(session, principal, batch_id)
    lines = list(await session.scalars(batch_lines(principal, batch_id).where(
        LedgerLine.kind != "recovery", LedgerLine.status.in_(("pending", "paid")))
        .order_by(LedgerLine.worker_id, LedgerLine.month, LedgerLine.id)))
    set_offs = {w.worker_id: w.set_off_fen for w in await session.scalars(batch_workers(principal, batch_id).where(
        DisbursementWorker.set_off_fen > 0, DisbursementWorker.status.in_(("pending", "paid"))))}
    workers = list(dict.fromkeys([line.worker_id for line in lines] + list(set_offs)))
    people = await registry.lookup_workers(workers) if registry and workers else {}
    header = ["worker_id", "name", "id_number_masked", "month", "level", "amount_fen", "amount_yuan", "status",
              "kind", "title"]
    rows, total = [], 0
    by_worker: dict[uuid.UUID, list] = {}
    for line in lines:
        by_worker.setdefault(line.worker_id, []).append(line)
    for worker in workers:
        person = people.get(str(worker), {})
        who = [str(worker), person.get("name", ""), person.get("id_number_masked", "")]
        for line in by_worker.get(worker, []):
            rows.append([*who, line.month or "", line.level or "", line.amount_fen, fen_to_yuan_str(line.amount_fen),
                         line.status, line.kind, line.title or ""])
            total += line.amount_fen
        if set_offs.get(worker):
            fen = -set_offs[worker]
            rows.append([*who, "", "", fen, fen_to_yuan_str(fen), "", "set_off", "receivable set off"])
            total += fen
    rows.append(["TOTAL", "", "", "", "", total, fen_to_yuan_str(total), f"{len(lines)} lines", "", ""])
    name = f"disbursement-{batch.policy_code}-{batch.month}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        return ("\ufeff" + buffer.getvalue()).encode(), "text/csv; charset=utf-8", f"{name}.csv"
    book = Workbook(write_only=True)
    sheet = book.create_sheet(batch.month)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return (out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{name}.xlsx")
