"""The payment cycle of a batch: draft -> on_notice -> approved -> released -> settled.

Every transition is a conditional update (`... WHERE status = expected`): two callers cannot both move a batch,
and the loser gets 409 naming the state the batch is in. The ledger keeps its meaning: a transfer that is not
released (an objection still open, no verified bank account), whose objection is upheld, or that the bank
failed, pays nothing (`voided` or `failed`) and its months are due again in the next batch as a new attempt of
the same worker-month; a month is never paid twice.

- publish: the notice (公示) starts; it lasts the policy's `notice_working_days` on the working-day calendar.
- objection: anyone who can see the worker (the worker too) holds that worker's transfer out of the release
  until a bureau_admin decides: upheld voids it, dismissed lets it go ahead. Still open at release: not released.
- approve: a bureau_admin who did not create the batch, once the notice has ended.
- release: the bank transfers, numbered (序号) in the order of the payees' ID numbers, each with the registry's
  account row; the bank file of every template is rendered and its sha256 recorded. Clear names, ID numbers and
  accounts are read from the registry for the rendering only: they are never stored here.
- bank results: the bank's result file, matched by sequence and account; its control figures must add up or
  nothing changes; the same file twice changes nothing; paid -> paid, failed -> failed with the bank's reason.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import uuid
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.subsidy.access import readable_workers
from services.subsidy.ledger import service as ledger
from services.subsidy.ledger.models import Disbursement, DisbursementWorker, LedgerLine
from services.subsidy.payments import bank_files, webhooks
from services.subsidy.payments.calendar import calendar
from services.subsidy.payments.models import (
    BankFile,
    BankPayment,
    BankResultFile,
    Notification,
    Objection,
    PaymentCycle,
    PaymentTerms,
)
from services.subsidy.policies.service import versions_or_404
from shared.auth import Principal, Role
from shared.errors import Conflict, Invalid, NotFound, NotPermitted, Unavailable
from shared.money import fen_to_yuan_str
from shared.registry_client import RegistryClient

DEFAULT_NOTICE_DAYS = 5
LEVEL_ZH = {"assistant": "助理社会工作师", "intermediate": "社会工作师", "senior": "高级社会工作师"}


def mask_name(name: str) -> str:
    """张*三, 李*, 欧**锋: the first and last character of a name of three or more."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# --- terms and state ------------------------------------------------------------------------------------------------

async def get_terms(*, session: AsyncSession, policy_code: str) -> dict:
    await versions_or_404(session=session, code=policy_code)
    return {"policy": policy_code, "notice_working_days": await notice_days(session, policy_code)}


async def notice_days(session: AsyncSession, policy_code: str) -> int:
    days = await session.scalar(select(PaymentTerms.notice_working_days).where(
        PaymentTerms.policy_code == policy_code))
    return DEFAULT_NOTICE_DAYS if days is None else days


async def set_terms(*, session: AsyncSession, principal: Principal, policy_code: str, days: int) -> dict:
    principal.require(Role.BUREAU_ADMIN)
    await versions_or_404(session=session, code=policy_code)
    await session.execute(insert(PaymentTerms).values(
        policy_code=policy_code, notice_working_days=days, updated_by=principal.subject)
        .on_conflict_do_update(index_elements=["policy_code"], set_={
            "notice_working_days": days, "updated_by": principal.subject, "updated_at": func.now()}))
    return {"policy": policy_code, "notice_working_days": days}


async def _batch(session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> Disbursement:
    return await ledger.visible_batch(session, principal, batch_id)  # 404 for a caller who sees no batches


async def _cycle(session: AsyncSession, batch_id: uuid.UUID) -> PaymentCycle | None:
    return await session.get(PaymentCycle, batch_id, populate_existing=True)


async def cycle_read(session: AsyncSession, batch: Disbursement) -> dict:
    cycle = await _cycle(session, batch.id)
    base = {"disbursement_id": batch.id, "policy": batch.policy_code, "month": batch.month,
            "created_by": batch.created_by, "status": cycle.status if cycle else "draft"}
    if cycle is None:
        return base
    open_objections = await session.scalar(select(func.count()).select_from(Objection).where(
        Objection.disbursement_id == batch.id, Objection.status == "open"))
    files = {f.template: f.sha256 for f in await session.scalars(select(BankFile).where(
        BankFile.disbursement_id == batch.id))}
    return {**base, "notice_working_days": cycle.notice_working_days, "published_by": cycle.published_by,
            "published_on": cycle.published_on, "notice_ends_on": cycle.notice_ends_on,
            "approvable_on": cycle.approvable_on, "approved_by": cycle.approved_by, "approved_at": cycle.approved_at,
            "released_by": cycle.released_by, "released_at": cycle.released_at, "settled_at": cycle.settled_at,
            "bank_count": cycle.bank_count, "bank_total_fen": cycle.bank_total_fen,
            "open_objections": open_objections, "bank_files": files}


async def get_cycle(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> dict:
    return await cycle_read(session, await _batch(session, principal, batch_id))


async def _move(session: AsyncSession, batch_id: uuid.UUID, expected: str, **values) -> None:
    """The conditional transition: 409 naming the batch's state when it is not `expected`."""
    result = await session.execute(update(PaymentCycle).where(
        PaymentCycle.disbursement_id == batch_id, PaymentCycle.status == expected).values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        cycle = await _cycle(session, batch_id)
        state = cycle.status if cycle else "draft"
        raise Conflict(f"the batch is {state}, not {expected}", field="status", status_now=state)


async def _locks(session: AsyncSession, batch: Disbursement) -> None:
    await ledger.lock(session, "batch:" + batch.policy_code)
    await ledger.lock(session, ledger.RECEIVABLES_LOCK)


async def _transfers(session: AsyncSession, batch_id: uuid.UUID) -> list[DisbursementWorker]:
    """Transfers still to make: pending, with something to transfer."""
    return list(await session.scalars(select(DisbursementWorker).where(
        DisbursementWorker.disbursement_id == batch_id, DisbursementWorker.status == "pending",
        DisbursementWorker.net_to_pay_fen > 0).order_by(DisbursementWorker.worker_id)))


async def _notify(session: AsyncSession, rows: list[dict]) -> None:
    """Once per worker, batch and event: a replay inserts nothing (and so sends no webhook)."""
    if rows:
        written = (await session.execute(insert(Notification).values(
            [{"id": uuid.uuid4(), **r} for r in rows]).on_conflict_do_nothing(
            index_elements=["worker_id", "disbursement_id", "event"]).returning(
            Notification.id, Notification.worker_id, Notification.disbursement_id, Notification.month,
            Notification.event, Notification.amount_fen, Notification.reason))).mappings().all()
        await webhooks.enqueue(session, [dict(n) for n in written])


# --- publish, notice, objections, approve ---------------------------------------------------------------------------

async def publish(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, on: date) -> dict:
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    days = await notice_days(session, batch.policy_code)
    ends_on, approvable_on = calendar().notice(on, days)
    created = (await session.execute(insert(PaymentCycle).values(
        disbursement_id=batch_id, status="on_notice", notice_working_days=days, published_by=principal.subject,
        published_on=on, notice_ends_on=ends_on, approvable_on=approvable_on)
        .on_conflict_do_nothing(index_elements=["disbursement_id"]).returning(PaymentCycle.disbursement_id))).scalar()
    if created is None:
        cycle = await _cycle(session, batch_id)
        raise Conflict(f"the batch is {cycle.status}, not draft", field="status", status_now=cycle.status)
    until = f"through {ends_on.isoformat()}" if ends_on else "without a notice period"
    await _notify(session, [
        {"worker_id": t.worker_id, "disbursement_id": batch_id, "month": batch.month, "event": "on_notice",
         "amount_fen": t.net_to_pay_fen,
         "message": f"{batch.month} 补贴发放名单公示中 ({until}): {fen_to_yuan_str(t.net_to_pay_fen)} 元"}
        for t in await _transfers(session, batch_id)])
    return await cycle_read(session, batch)


async def notice(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID,
                 registry: RegistryClient | None) -> tuple[dict, list[dict]]:
    """The notice list as this caller may see it: masked name and ID number, station, level, months, amount."""
    batch = await _batch(session, principal, batch_id)
    cycle = await _cycle(session, batch_id)
    if cycle is None:
        raise Conflict("the batch is draft: it has no notice until it is published", field="status",
                       status_now="draft")
    transfers = {t.worker_id: t for t in await session.scalars(select(DisbursementWorker).where(
        DisbursementWorker.disbursement_id == batch_id, DisbursementWorker.net_to_pay_fen > 0,
        readable_workers(principal, DisbursementWorker.worker_id)))}
    lines = list(await session.scalars(select(LedgerLine).where(
        LedgerLine.disbursement_id == batch_id, LedgerLine.kind.in_(("subsidy", "top_up")),
        LedgerLine.worker_id.in_(list(transfers))).order_by(LedgerLine.month, LedgerLine.id)))
    if registry is None:
        raise Unavailable("the registry is not configured: the notice needs names", upstream="registry")
    people = await registry.lookup_workers(list(transfers)) if transfers else {}
    station_names: dict[str, str] = {}
    for person in people.values():
        for s in person["station_ids"]:
            if s not in station_names:
                station = await registry.get_station(uuid.UUID(s))
                station_names[s] = station["name"] if station else ""
    by_worker: dict[uuid.UUID, list[LedgerLine]] = {}
    for line in lines:
        by_worker.setdefault(line.worker_id, []).append(line)
    rank = {"assistant": 1, "intermediate": 2, "senior": 3}
    items = []
    for worker_id, t in transfers.items():
        person = people.get(str(worker_id), {})
        mine = by_worker.get(worker_id, [])
        levels = [x.level for x in mine if x.level]
        items.append({
            "worker_id": worker_id, "line_id": mine[0].id if mine else None,
            "name_masked": mask_name(person.get("name", "")), "id_number_masked": person.get("id_number_masked", ""),
            "station": "、".join(station_names.get(s, "") for s in person.get("station_ids", [])),
            "level": max(levels, key=rank.get) if levels else None,
            "months": sorted({x.month for x in mine if x.month}), "amount_fen": t.net_to_pay_fen,
            "status": t.status})
    items.sort(key=lambda i: (i["station"], i["id_number_masked"], str(i["worker_id"])))
    head = {"disbursement_id": batch.id, "policy": batch.policy_code, "month": batch.month,
            "published_on": cycle.published_on, "notice_ends_on": cycle.notice_ends_on,
            "count": len(items), "total_fen": sum(i["amount_fen"] for i in items)}
    return head, items


NOTICE_COLUMNS = (("name_masked", "姓名"), ("id_number_masked", "身份证号"), ("station", "社工站"),
                  ("level", "证书等级"), ("months", "发放月份"), ("amount", "金额(元)"))


def _notice_cells(item: dict) -> list[str]:
    return [item["name_masked"], item["id_number_masked"], item["station"], LEVEL_ZH.get(item["level"] or "", ""),
            " ".join(item["months"]), fen_to_yuan_str(item["amount_fen"])]


def notice_csv(head: dict, items: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for _, title in NOTICE_COLUMNS])
    writer.writerows(_notice_cells(i) for i in items)
    writer.writerow(["合计", f"{head['count']}人", "", "", "", fen_to_yuan_str(head["total_fen"])])
    return ("\ufeff" + buffer.getvalue()).encode()


def notice_html(head: dict, items: list[dict]) -> str:
    """A printable page (every value escaped; no script, no external resource)."""
    e = html.escape
    period = (f"公示期: {head['published_on']} 至 {head['notice_ends_on']}" if head["notice_ends_on"]
              else f"公示日期: {head['published_on']}")
    rows = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _notice_cells(i)) + "</tr>" for i in items)
    header = "".join(f"<th>{e(title)}</th>" for _, title in NOTICE_COLUMNS)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(head["month"])} '
            f'社会工作人才补贴发放公示</title><style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}'
            f'td,th{{border:1px solid #000;padding:2px 6px}}@media print{{button{{display:none}}}}</style></head>'
            f'<body><h1>{e(head["month"])} 社会工作人才补贴发放公示</h1><p>{e(period)}。如有异议, 请在公示期内向'
            f'民政局反映。</p><table><thead><tr>{header}</tr></thead><tbody>\n{rows}\n</tbody><tfoot><tr>'
            f'<td>合计</td><td>{head["count"]}人</td><td></td><td></td><td></td>'
            f'<td>{e(fen_to_yuan_str(head["total_fen"]))}</td></tr></tfoot></table></body></html>\n')


async def object_to(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, line_id: int,
                    reason: str) -> Objection:
    """Anyone who can see the line's worker (the worker too) objects while the batch is on notice or approved."""
    line = await session.scalar(select(LedgerLine).where(
        LedgerLine.id == line_id, LedgerLine.disbursement_id == batch_id,
        readable_workers(principal, LedgerLine.worker_id)))
    if line is None:
        raise NotFound("no such line in this disbursement")
    # the release takes the same lock: an objection is either seen by it or refused after it
    await ledger.lock(session, "batch:" + (await session.get(Disbursement, batch_id)).policy_code)
    cycle = await _cycle(session, batch_id)
    state = cycle.status if cycle else "draft"
    if state not in ("on_notice", "approved"):
        raise Conflict(f"objections are taken while the batch is on notice or approved; it is {state}",
                       field="status", status_now=state)
    objection = Objection(id=uuid.uuid4(), disbursement_id=batch_id, line_id=line_id, worker_id=line.worker_id,
                          reason=reason, status="open", raised_by=principal.subject)
    session.add(objection)
    await session.flush()
    await session.refresh(objection)
    return objection


def objections(principal: Principal, batch_id: uuid.UUID):
    return select(Objection).where(Objection.disbursement_id == batch_id,
                                   readable_workers(principal, Objection.worker_id))


async def decide_objection(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID,
                           objection_id: uuid.UUID, uphold: bool, reason: str | None) -> Objection:
    """bureau_admin: upheld voids the worker's transfer in this batch (its months due again), dismissed lets it go
    ahead. Decided once (conditional update). After the release the transfer was already held out (voided)."""
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    objection = await session.scalar(select(Objection).where(Objection.id == objection_id,
                                                             Objection.disbursement_id == batch_id))
    if objection is None:
        raise NotFound("no such objection in this disbursement")
    await _locks(session, batch)
    result = await session.execute(update(Objection).where(Objection.id == objection_id, Objection.status == "open")
                                   .values(status="upheld" if uphold else "dismissed", decided_by=principal.subject,
                                           decided_at=func.now(), decision_reason=reason)
                                   .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"the objection is already {objection.status}", field="objection_id")
    cycle = await _cycle(session, batch_id)
    if uphold and cycle is not None and cycle.status in ("on_notice", "approved"):
        await ledger.mark_transfer(session, batch_id=batch_id, worker_id=objection.worker_id, status="voided",
                                   reason=f"objection upheld: {reason or objection.reason}")
    await session.refresh(objection)
    return objection


async def approve(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, on: date) -> dict:
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    if batch.created_by == principal.subject:
        raise NotPermitted("a batch is approved by a bureau_admin other than the one who created it")
    cycle = await _cycle(session, batch_id)
    if cycle is not None and cycle.status == "on_notice" and on < cycle.approvable_on:
        raise Conflict(f"the notice runs through {cycle.notice_ends_on.isoformat()}; the batch can be approved from "
                       f"{cycle.approvable_on.isoformat()}", field="status", notice_ends_on=str(cycle.notice_ends_on),
                       approvable_on=str(cycle.approvable_on))
    await _move(session, batch_id, "on_notice", status="approved", approved_by=principal.subject,
                approved_at=func.now())
    return await cycle_read(session, batch)


# --- release and bank files -----------------------------------------------------------------------------------------

def _purpose(batch: Disbursement) -> str:
    return f"bank file of disbursement {batch.id} ({batch.policy_code} {batch.month})"


def _registry(registry: RegistryClient | None) -> RegistryClient:
    if registry is None:
        raise Unavailable("the registry is not configured: bank files need the payees' accounts",
                          upstream="registry")
    return registry


async def release(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID,
                  registry: RegistryClient | None) -> dict:
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    registry = _registry(registry)
    await _locks(session, batch)
    await _move(session, batch_id, "approved", status="released", released_by=principal.subject,
                released_at=func.now())
    transfers = await _transfers(session, batch_id)
    held = set(await session.scalars(select(Objection.worker_id).where(
        Objection.disbursement_id == batch_id, Objection.status == "open")))
    not_released = [{"worker_id": t.worker_id, "amount_fen": t.net_to_pay_fen,
                     "reason": "objection open"} for t in transfers if t.worker_id in held]
    candidates = [t for t in transfers if t.worker_id not in held]
    found, missing = await registry.payees([t.worker_id for t in candidates], purpose=_purpose(batch))
    missing_set = set(missing)
    not_released += [{"worker_id": t.worker_id, "amount_fen": t.net_to_pay_fen,
                      "reason": "no verified bank account"} for t in candidates if str(t.worker_id) in missing_set]
    for item in not_released:
        await ledger.mark_transfer(session, batch_id=batch_id, worker_id=item["worker_id"], status="voided",
                                   reason=f"not released: {item['reason']}")
    paying = sorted((t for t in candidates if str(t.worker_id) in found),
                    key=lambda t: (found[str(t.worker_id)]["id_number"], str(t.worker_id)))
    payments, rows = [], []
    for seq, t in enumerate(paying, start=1):
        payee = found[str(t.worker_id)]
        payments.append({"disbursement_id": batch_id, "seq": seq, "worker_id": t.worker_id,
                         "account_id": uuid.UUID(payee["account_id"]),
                         "account_masked": _mask(payee["account_number"]), "amount_fen": t.net_to_pay_fen,
                         "status": "sent"})
        rows.append(_row(seq, payee, t.net_to_pay_fen))
    if payments:
        await session.execute(insert(BankPayment).values(payments))
    total = sum(p["amount_fen"] for p in payments)
    unavailable = {}
    for code in bank_files.templates():
        try:
            data = bank_files.render(code, rows)
        except Invalid as exc:
            unavailable[code] = exc.detail
            continue
        session.add(BankFile(disbursement_id=batch_id, template=code, sha256=bank_files.sha256(data),
                             size=len(data), count=len(rows), total_fen=total))
    await session.execute(update(PaymentCycle).where(PaymentCycle.disbursement_id == batch_id).values(
        bank_count=len(rows), bank_total_fen=total).execution_options(synchronize_session=False))
    await session.flush()
    return {**await cycle_read(session, batch), "not_released": not_released, "templates_unavailable": unavailable}


def _mask(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}"


def _row(seq: int, payee: dict, amount_fen: int) -> bank_files.Row:
    return bank_files.Row(seq=seq, name=payee["holder_name"], account=payee["account_number"],
                          amount_fen=amount_fen, id_number=payee["id_number"])


async def _released_rows(session: AsyncSession, batch: Disbursement,
                         registry: RegistryClient) -> tuple[list[BankPayment], list[bank_files.Row]]:
    """The release's transfers and their rows, rendered again from the account rows they were released to."""
    payments = list(await session.scalars(select(BankPayment).where(
        BankPayment.disbursement_id == batch.id).order_by(BankPayment.seq)))
    if not payments:
        return [], []
    found, missing = await registry.payees([p.worker_id for p in payments], purpose=_purpose(batch),
                                           account_ids=[p.account_id for p in payments])
    if missing:
        raise Conflict("the registry no longer holds the accounts this batch was released to", field="template")
    return payments, [_row(p.seq, found[str(p.worker_id)], p.amount_fen) for p in payments]


async def bank_file(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, template: str,
                    registry: RegistryClient | None) -> tuple[bytes, str, str, str]:
    """The release's bank file in a template: the same bytes every time (checked against the recorded sha256)."""
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    bank_files.template(template)  # 404 naming the templates
    recorded = await session.get(BankFile, (batch_id, template))
    if recorded is None:
        cycle = await _cycle(session, batch_id)
        state = cycle.status if cycle else "draft"
        if state in ("released", "settled"):
            raise Conflict(f"the bank file in {template} could not be made at release", field="template")
        raise Conflict(f"the batch is {state}: its bank file exists once it is released", field="status",
                       status_now=state)
    _, rows = await _released_rows(session, batch, _registry(registry))
    data = bank_files.render(template, rows)
    if bank_files.sha256(data) != recorded.sha256:
        raise Conflict("the bank file can no longer be rendered as released (the registry's data of a payee "
                       "changed); it is not given out", field="template")
    spec = bank_files.template(template)
    return (data, bank_files.MEDIA[spec["format"]], bank_files.filename(template, batch.policy_code, batch.month),
            recorded.sha256)


# --- the bank's results ---------------------------------------------------------------------------------------------

async def bank_results(*, session: AsyncSession, principal: Principal, batch_id: uuid.UUID, data: bytes,
                       registry: RegistryClient | None) -> tuple[dict, bool]:
    """Apply the bank's result file; (the report, whether it was applied now). The same file again answers the
    first report and changes nothing."""
    principal.require(Role.BUREAU_ADMIN)
    batch = await _batch(session, principal, batch_id)
    digest = hashlib.sha256(data).hexdigest()
    await _locks(session, batch)  # before looking for the file: the same file sent twice at once is applied once
    seen = await session.scalar(select(BankResultFile).where(BankResultFile.disbursement_id == batch_id,
                                                             BankResultFile.sha256 == digest))
    if seen is not None:
        return {**seen.report, "replayed": True}, False
    cycle = await _cycle(session, batch_id)
    state = cycle.status if cycle else "draft"
    if state not in ("released", "settled"):
        raise Conflict(f"the batch is {state}: results come back after it is released", field="status",
                       status_now=state)
    rows, count, total = bank_files.parse_results(data)  # 422 and nothing written when the figures are off
    payments, released = await _released_rows(session, batch, _registry(registry))
    by_seq = {p.seq: (p, r) for p, r in zip(payments, released, strict=True)}
    file_id = uuid.uuid4()
    report = {"file_id": str(file_id), "sha256": digest, "rows": len(rows), "control_count": count,
              "control_total_fen": total, "paid": 0, "failed": 0, "unchanged": 0, "unmatched": []}
    done: set[int] = set()
    notes = []
    for r in rows:
        match = by_seq.get(r.seq) if r.seq is not None else None
        if match is None or match[1].account != r.account:
            report["unmatched"].append({"row": r.row, "seq": r.seq, "reason": "no released transfer has this "
                                        "sequence number and account"})
            continue
        payment, row = match
        if r.amount_fen != payment.amount_fen:
            report["unmatched"].append({"row": r.row, "seq": r.seq, "reason": f"amount {r.amount_fen} fen is not "
                                        f"the {payment.amount_fen} fen released"})
            continue
        if r.seq in done:
            report["unmatched"].append({"row": r.row, "seq": r.seq, "reason": "a second row for this sequence"})
            continue
        done.add(r.seq)
        status = "paid" if r.paid else "failed"
        if payment.status != "sent":
            report["unchanged"] += 1
            if payment.status != status:
                report["unmatched"].append({"row": r.row, "seq": r.seq, "reason": f"already {payment.status} by "
                                            "an earlier result file; not changed"})
            continue
        reason = None if r.paid else (r.reason or "failed at the bank")
        await ledger.mark_transfer(session, batch_id=batch_id, worker_id=payment.worker_id, status=status,
                                   reason=reason)
        await session.execute(update(BankPayment).where(
            BankPayment.disbursement_id == batch_id, BankPayment.seq == payment.seq, BankPayment.status == "sent")
            .values(status=status, failure_reason=reason, result_file_id=file_id)
            .execution_options(synchronize_session=False))
        report[status] += 1
        message = (f"{batch.month} 补贴 {fen_to_yuan_str(payment.amount_fen)} 元已到账" if r.paid else
                   f"{batch.month} 补贴 {fen_to_yuan_str(payment.amount_fen)} 元发放失败: {reason}; "
                   "将在下一批次重新发放")
        notes.append({"worker_id": payment.worker_id, "disbursement_id": batch_id, "month": batch.month,
                      "event": status, "amount_fen": payment.amount_fen, "reason": reason, "message": message})
    await _notify(session, notes)
    left = await session.scalar(select(func.count()).select_from(BankPayment).where(
        BankPayment.disbursement_id == batch_id, BankPayment.status == "sent"))
    if left == 0 and state == "released":
        await _move(session, batch_id, "released", status="settled", settled_at=func.now())
    report["status"] = "settled" if left == 0 else "released"
    session.add(BankResultFile(id=file_id, disbursement_id=batch_id, sha256=digest, report=report,
                               received_by=principal.subject))
    await session.flush()
    return {**report, "replayed": False}, True


def bank_payments(principal: Principal, batch_id: uuid.UUID):
    return select(BankPayment).where(BankPayment.disbursement_id == batch_id,
                                     readable_workers(principal, BankPayment.worker_id))


def notifications(principal: Principal, worker_id: uuid.UUID):
    return select(Notification).where(Notification.worker_id == worker_id,
                                      readable_workers(principal, Notification.worker_id))
