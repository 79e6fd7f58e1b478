"""HTTP: the payment cycle of a batch (notice, objections, approval, release, bank files, bank results) and what
the workers are told."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select, update

from services.subsidy.access import ensure_readable
from services.subsidy.payments import service, webhooks
from services.subsidy.payments.models import (
    BankPayment,
    Notification,
    Objection,
    WebhookDelivery,
    WebhookSubscription,
)
from services.subsidy.payments.schemas import (
    BankPaymentRead,
    BankResultsRead,
    CycleRead,
    NoticeRead,
    NotificationRead,
    ObjectionCreate,
    ObjectionDecision,
    ObjectionRead,
    PaymentTermsRead,
    PaymentTermsUpdate,
    ReleaseRead,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
)
from shared import audit
from shared.auth import CurrentPrincipal, Role, allow
from shared.clock import bureau_today
from shared.db import SessionDep
from shared.errors import NotFound, PayloadTooLarge
from shared.pagination import Page, PageParams, page_params, paginate

router = APIRouter(tags=["payment cycle"])
Params = Annotated[PageParams, Depends(page_params)]
BUREAU = [allow(Role.BUREAU_ADMIN)]
RESULT_FILE_MAX_BYTES = 16 * 2**20
BATCH = "/v1/disbursements/{disbursement_id}"


def _today(request: Request) -> date:
    """The bureau's date (tests set `app.state.today` to move the clock)."""
    override = getattr(request.app.state, "today", None)
    return override() if override else bureau_today()


def _registry(request: Request):
    return getattr(request.app.state, "registry", None)


@router.get("/v1/policies/{code}/payment-terms", response_model=PaymentTermsRead, tags=["policies"])
async def get_payment_terms(code: str, session: SessionDep, principal: CurrentPrincipal):
    return await service.get_terms(session=session, policy_code=code)


@router.put("/v1/policies/{code}/payment-terms", response_model=PaymentTermsRead, tags=["policies"],
            dependencies=BUREAU)
async def set_payment_terms(code: str, body: PaymentTermsUpdate, session: SessionDep, principal: CurrentPrincipal):
    """How many working days a batch's notice lasts (a batch keeps the figure it was published with)."""
    return await service.set_terms(session=session, principal=principal, policy_code=code,
                                   days=body.notice_working_days)


@router.get(BATCH + "/cycle", response_model=CycleRead)
async def get_cycle(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    return await service.get_cycle(session=session, principal=principal, batch_id=disbursement_id)


@router.post(BATCH + "/publish", response_model=CycleRead, dependencies=BUREAU)
async def publish(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request):
    """Draft -> on notice: the notice (公示) lasts the policy's working days; the workers are told."""
    return await service.publish(session=session, principal=principal, batch_id=disbursement_id,
                                 on=_today(request))


@router.get(BATCH + "/notice", response_model=NoticeRead, responses={200: {"content": {
    "text/csv": {"schema": {"type": "string"}}, "text/html": {"schema": {"type": "string"}}}}})
async def get_notice(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request,
                     format: Annotated[Literal["json", "csv", "html"], Query()] = "json"):
    """The notice list: masked name (张*三) and ID number, station, level, months, amount. CSV, or a printable
    HTML page."""
    head, items = await service.notice(session=session, principal=principal, batch_id=disbursement_id,
                                       registry=_registry(request))
    if format == "csv":
        return Response(service.notice_csv(head, items), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="notice-{head["policy"]}-{head["month"]}.csv"'})
    if format == "html":
        return Response(service.notice_html(head, items), media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
    return {**head, "items": items}


@router.post(BATCH + "/lines/{line_id}/objection", response_model=ObjectionRead, status_code=201,
             dependencies=[allow(Role.BUREAU_ADMIN, Role.STATION_MANAGER, Role.SOCIAL_WORKER)])
async def raise_objection(disbursement_id: uuid.UUID, line_id: int, body: ObjectionCreate, session: SessionDep,
                          principal: CurrentPrincipal):
    """Anyone who can see the line's worker (the worker too; the auditor reads and changes nothing), while the
    batch is on notice or approved: the worker's transfer is held out of the release until a bureau_admin
    decides."""
    return await service.object_to(session=session, principal=principal, batch_id=disbursement_id, line_id=line_id,
                                   reason=body.reason)


@router.get(BATCH + "/objections", response_model=Page[ObjectionRead])
async def list_objections(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                          params: Params):
    await service.get_cycle(session=session, principal=principal, batch_id=disbursement_id)
    items, cursor = await paginate(session, service.objections(principal, disbursement_id), params,
                                   keys=[Objection.created_at, Objection.id])
    return {"items": items, "next_cursor": cursor}


@router.post(BATCH + "/objections/{objection_id}/uphold", response_model=ObjectionRead, dependencies=BUREAU)
async def uphold_objection(disbursement_id: uuid.UUID, objection_id: uuid.UUID, session: SessionDep,
                           principal: CurrentPrincipal, body: ObjectionDecision | None = None):
    """The worker's transfer in this batch is voided; its months are due again in the next batch."""
    return await service.decide_objection(session=session, principal=principal, batch_id=disbursement_id,
                                          objection_id=objection_id, uphold=True, reason=body.reason if body else None)


@router.post(BATCH + "/objections/{objection_id}/dismiss", response_model=ObjectionRead, dependencies=BUREAU)
async def dismiss_objection(disbursement_id: uuid.UUID, objection_id: uuid.UUID, session: SessionDep,
                            principal: CurrentPrincipal, body: ObjectionDecision | None = None):
    return await service.decide_objection(session=session, principal=principal, batch_id=disbursement_id,
                                          objection_id=objection_id, uphold=False,
                                          reason=body.reason if body else None)


@router.post(BATCH + "/approve", response_model=CycleRead, dependencies=BUREAU)
async def approve(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request):
    """On notice -> approved: a bureau_admin who did not create the batch, once the notice has ended."""
    return await service.approve(session=session, principal=principal, batch_id=disbursement_id, on=_today(request))


@router.post(BATCH + "/release", response_model=ReleaseRead, dependencies=BUREAU)
async def release(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request):
    """Approved -> released: the transfers with a verified account and no open objection go to the bank (the
    others are voided and listed: due again in the next batch); the bank files are made and their sha256 kept."""
    return await service.release(session=session, principal=principal, batch_id=disbursement_id,
                                 registry=_registry(request))


@router.get(BATCH + "/bank-file", response_class=Response, dependencies=BUREAU, responses={200: {
    "description": "the bank file (clear names, accounts and ID numbers)",
    "content": {"text/csv": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}}})
async def get_bank_file(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                        request: Request, template: Annotated[str, Query(max_length=100)] = "generic-xlsx"):
    """bureau_admin only: the release's bank file in a template (`generic-xlsx`, `generic-csv`, `legacy-gbk`), the
    same bytes every time (`X-Content-SHA256` is the sha256 recorded at release)."""
    data, media_type, name, digest = await service.bank_file(
        session=session, principal=principal, batch_id=disbursement_id, template=template,
        registry=_registry(request))
    await audit.record(session, action="export", entity="disbursements", entity_id=disbursement_id,
                       after={"bank_file": template, "sha256": digest}, purpose="bank file")
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": digest})


@router.get(BATCH + "/bank-payments", response_model=Page[BankPaymentRead])
async def list_bank_payments(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                             params: Params):
    """The released transfers by sequence number, with the bank's result (accounts masked)."""
    await service.get_cycle(session=session, principal=principal, batch_id=disbursement_id)
    items, cursor = await paginate(session, service.bank_payments(principal, disbursement_id), params,
                                   keys=[BankPayment.seq], kinds=[int])
    return {"items": items, "next_cursor": cursor}


@router.post(BATCH + "/bank-results", response_model=BankResultsRead, dependencies=BUREAU,
             responses={201: {"model": BankResultsRead, "description": "applied"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def post_bank_results(disbursement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                            request: Request, response: Response):
    """The bank's result file (CSV, UTF-8 or GBK: 序号, 账号, 金额, 结果, 失败原因, and a 合计 row with the count
    under 账号 and the total under 金额). Rows match a released transfer by sequence and account; if the control
    figures do not add up nothing changes (422); unmatched rows are reported; the same file again answers 200
    with its first report and changes nothing."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > RESULT_FILE_MAX_BYTES:
        raise PayloadTooLarge("the result file is larger than 16 MiB", field="body")
    data = await request.body()
    if len(data) > RESULT_FILE_MAX_BYTES:
        raise PayloadTooLarge("the result file is larger than 16 MiB", field="body")
    report, applied = await service.bank_results(session=session, principal=principal, batch_id=disbursement_id,
                                                 data=data, registry=_registry(request))
    response.status_code = 201 if applied else 200
    return report


@router.get("/v1/workers/{worker_id}/notifications", response_model=Page[NotificationRead], tags=["payments"])
async def list_notifications(worker_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                             params: Params):
    """What the worker was told: on notice, paid, failed with the bank's reason (once per batch and event)."""
    await ensure_readable(session=session, principal=principal, worker_id=worker_id)
    items, cursor = await paginate(session, service.notifications(principal, worker_id), params,
                                   keys=[Notification.created_at, Notification.id])
    return {"items": items, "next_cursor": cursor}



@router.post("/v1/webhooks", response_model=WebhookCreated, status_code=201, tags=["webhooks"], dependencies=BUREAU)
async def create_webhook(body: WebhookCreate, session: SessionDep, principal: CurrentPrincipal, request: Request):
    """Subscribe an endpoint (e.g. an HR system's) to what the workers are told: payment.on_notice, payment.paid,
    payment.failed, signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`); the
    secret is shown once. https only (plain http in dev and test); outside dev and test the host must resolve to
public addresses only (checked again at every send)."""
    url = await webhooks.check_subscription_url(body.url, env=request.app.state.settings.env)
    subscription = WebhookSubscription(id=uuid.uuid4(), url=url,
                                       secret=webhooks.new_secret(), description=body.description, active=True,
                                       created_by=principal.subject)
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)
    return {**WebhookRead.model_validate(subscription).model_dump(), "secret": subscription.secret}


@router.get("/v1/webhooks", response_model=Page[WebhookRead], tags=["webhooks"],
            dependencies=[allow(Role.BUREAU_ADMIN, Role.AUDITOR)])
async def list_webhooks(session: SessionDep, principal: CurrentPrincipal, params: Params):
    items, cursor = await paginate(session, select(WebhookSubscription), params,
                                   keys=[WebhookSubscription.created_at, WebhookSubscription.id])
    return {"items": items, "next_cursor": cursor}


@router.post("/v1/webhooks/{webhook_id}/disable", response_model=WebhookRead, tags=["webhooks"], dependencies=BUREAU)
async def disable_webhook(webhook_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    """No new messages; those pending are still retried."""
    await session.execute(update(WebhookSubscription).where(WebhookSubscription.id == webhook_id)
                          .values(active=False).execution_options(synchronize_session=False))
    subscription = await session.get(WebhookSubscription, webhook_id, populate_existing=True)
    if subscription is None:
        raise NotFound("no such webhook")
    return subscription


@router.get("/v1/webhooks/{webhook_id}/deliveries", response_model=Page[WebhookDeliveryRead], tags=["webhooks"],
            dependencies=[allow(Role.BUREAU_ADMIN, Role.AUDITOR)])
async def list_webhook_deliveries(webhook_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                                  params: Params):
    if await session.get(WebhookSubscription, webhook_id) is None:
        raise NotFound("no such webhook")
    items, cursor = await paginate(session, select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == webhook_id), params, keys=[WebhookDelivery.id], kinds=[uuid.UUID])
    return {"items": items, "next_cursor": cursor}
