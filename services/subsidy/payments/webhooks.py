"""Webhooks: what the workers are told, as signed messages to subscribed endpoints (Standard Webhooks).

Each notification written (once per worker, batch and event) writes, in the same transaction, one delivery per
active subscription: a replayed result file writes no notification and so no delivery. The sender posts each
delivery with the headers `webhook-id` (the delivery's id, the same on every retry: the receiver's idempotency
key), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 with the
subscription's secret over `{id}.{timestamp}.{body}`). A 2xx answer delivers it; anything else (or no answer) is
retried with an exponential backoff (10 s doubling, at most an hour) and after `MAX_ATTEMPTS` the delivery is
`dead`. The body carries ids, the month, the amount and the bank's reason: no name, ID number or account.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subsidy.payments.models import WebhookDelivery, WebhookSubscription
from shared.errors import Invalid

log = logging.getLogger("subsidy.webhooks")
MAX_ATTEMPTS = 8
EVENT_TYPES = {"on_notice": "payment.on_notice", "paid": "payment.paid", "failed": "payment.failed"}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_url(url: str, *, allow_http: bool) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is not a number raises here, not when sending)
    except ValueError:
        raise Invalid("not a URL", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not allow_http):
        raise Invalid("a webhook URL is https://… (plain http only in dev and test)", field="url")
    return url


async def enqueue(session: AsyncSession, notifications: list[dict]) -> None:
    """One delivery per active subscription for each notification written now."""
    if not notifications:
        return
    subscriptions = list(await session.scalars(select(WebhookSubscription.id).where(WebhookSubscription.active)))
    rows = []
    for n in notifications:
        payload = {"type": EVENT_TYPES[n["event"]], "timestamp": datetime.now(UTC).isoformat(),
                   "data": {"notification_id": str(n["id"]), "worker_id": str(n["worker_id"]),
                            "disbursement_id": str(n["disbursement_id"]), "month": n["month"],
                            "amount_fen": n["amount_fen"], "reason": n["reason"]}}
        rows += [{"id": uuid.uuid4(), "subscription_id": s, "notification_id": n["id"], "payload": payload}
                 for s in subscriptions]
    if rows:
        await session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
            index_elements=["subscription_id", "notification_id"]))


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


async def deliver_due(sessions: async_sessionmaker, client: httpx.AsyncClient, *, limit: int = 50,
                      now: datetime | None = None) -> int:
    """Send the deliveries that are due (each locked while sent: several senders never send one twice at once).
    Returns how many were attempted."""
    async with sessions() as session, session.begin():
        due = (await session.execute(
            select(WebhookDelivery, WebhookSubscription).join(
                WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= (now or datetime.now(UTC)))
            .order_by(WebhookDelivery.next_attempt_at).limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True))).all()
        for delivery, subscription in due:
            body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
            msg_id = f"msg_{delivery.id.hex}"
            timestamp = int((now or datetime.now(UTC)).timestamp())
            headers = {"content-type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": str(timestamp),
                       "webhook-signature": sign(subscription.secret, msg_id, timestamp, body)}
            status, error = None, None
            try:
                response = await client.post(subscription.url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempts = delivery.attempts + 1
            if status is not None and 200 <= status < 300:
                values = {"status": "delivered", "delivered_at": datetime.now(UTC)}
            else:
                values = {"status": "dead" if attempts >= MAX_ATTEMPTS else "pending",
                          "next_attempt_at": (now or datetime.now(UTC)) + backoff(attempts),
                          "last_error": error or f"answered {status}"}
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(
                attempts=attempts, last_status=status, **values).execution_options(synchronize_session=False))
        return len(due)


async def run_sender(sessions: async_sessionmaker, *, interval: float = 2.0) -> None:
    """The sender loop of a service process (started with the outbox relay)."""
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
        while True:
            try:
                if await deliver_due(sessions, client) == 0:
                    await asyncio.sleep(interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook sender failed; retrying")
                await asyncio.sleep(interval)
