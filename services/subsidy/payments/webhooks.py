"""Webhooks: what the workers are told, as signed messages to subscribed endpoints (Standard Webhooks).

Each notification written (once per worker, batch and event) writes, in the same transaction, one delivery per
active subscription: a replayed result file writes no notification and so no delivery. The sender posts each
delivery with the headers `webhook-id` (the delivery's id, the same on every retry: the receiver's idempotency
key), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 with the
subscription's secret over `{id}.{timestamp}.{body}`). A 2xx answer delivers it; anything else (or no answer) is
retried with an exponential backoff (10 s doubling, at most an hour) and after `MAX_ATTEMPTS` the delivery is
`dead`. The body carries ids, the month, the amount and the bank's reason: no name, ID number or account.

No transaction is open while a request is out: due deliveries are claimed (leased) in one short transaction,
sent, and each result recorded in another. Outside dev and test a subscription's host must resolve to public
addresses only (no private, loopback, link-local… address: the service must not be made to call its own
network), checked when subscribing and again at every send, which connects to the very address it checked.

The secret is kept as it is (HMAC signing needs the key itself, so it cannot be hashed) and is never returned
after the answer that creates the subscription: not listed, not in the audit trail (see the migration).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
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
SEND_TIMEOUT_S = 30.0  # one POST at most (connect, send, answer)
PARALLEL_SENDS = 8
LEASE = timedelta(minutes=10)  # a claimed batch is sent well within this (50 / 8 sends of 30 s at most)
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


class Refused(Exception):
    """A webhook URL that must not be called (an internal address, in production)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve_public(host: str, port: int) -> str:
    """The address to connect to: every address the name resolves to must be public (not private, loopback,
    link-local, shared, reserved or multicast), else `Refused`. The sender connects to the address it checked,
    so a name that resolves differently a moment later (DNS rebinding) cannot reach an internal host."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc})") from None
    addresses = [info[4][0] for info in infos]
    private = [a for a in addresses if not _public(a)]
    if private or not addresses:
        raise Refused(f"{host} resolves to an address that is not public ({', '.join(private) or 'none'})")
    return addresses[0]


async def check_subscription_url(url: str, *, env: str) -> str:
    """Outside dev and test: https only, and a host that resolves to public addresses only (SSRF)."""
    check_url(url, allow_http=env in ("dev", "test"))
    if env not in ("dev", "test"):
        parts = urlsplit(url)
        try:
            await resolve_public(parts.hostname, parts.port or 443)
        except Refused as exc:
            raise Invalid(f"a webhook URL must reach a public address: {exc}", field="url") from None
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


async def _claim(sessions: async_sessionmaker, *, limit: int, now: datetime) -> list[dict]:
    """A short transaction: the due deliveries are leased (their next attempt moved past the time a send may
    take), so no other sender takes them while they are sent outside any transaction. A sender that dies
    leaves them due again when the lease ends: at least once, and the receiver deduplicates by webhook-id."""
    async with sessions() as session, session.begin():
        due = (select(WebhookDelivery.id).where(WebhookDelivery.status == "pending",
                                                 WebhookDelivery.next_attempt_at <= now)
               .order_by(WebhookDelivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True))
        claimed = (await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + LEASE)
            .returning(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.payload,
                       WebhookDelivery.subscription_id))).mappings().all()
        subscriptions = {s.id: s for s in await session.scalars(select(WebhookSubscription).where(
            WebhookSubscription.id.in_({c["subscription_id"] for c in claimed})))} if claimed else {}
        return [{**c, "url": subscriptions[c["subscription_id"]].url,
                 "secret": subscriptions[c["subscription_id"]].secret} for c in claimed]


async def _send(client: httpx.AsyncClient, delivery: dict, *, now: datetime, check_address: bool
                ) -> tuple[int | None, str | None]:
    """One POST, no transaction open. Outside dev and test the host is resolved and checked now, and the
    request goes to that very address (Host header and TLS server name stay the URL's name)."""
    body = json.dumps(delivery["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    msg_id = f"msg_{delivery['id'].hex}"
    timestamp = int(now.timestamp())
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(delivery["secret"], msg_id, timestamp, body)}
    url, extensions = httpx.URL(delivery["url"]), {}
    try:
        if check_address:
            address = await resolve_public(url.host, url.port or (443 if url.scheme == "https" else 80))
            headers["host"] = url.netloc.decode("ascii")
            extensions["sni_hostname"] = url.host
            url = url.copy_with(host=address)
        async with asyncio.timeout(SEND_TIMEOUT_S):
            response = await client.post(url, content=body, headers=headers, extensions=extensions)
        return response.status_code, None
    except Refused as exc:
        return None, f"refused: {exc}"[:500]
    except (httpx.HTTPError, TimeoutError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


async def _record(sessions: async_sessionmaker, delivery: dict, status: int | None, error: str | None, *,
                  now: datetime) -> None:
    """Another short transaction; only if the delivery is still this sender's claim (same attempt count)."""
    attempts = delivery["attempts"] + 1
    if status is not None and 200 <= status < 300:
        values = {"status": "delivered", "delivered_at": datetime.now(UTC)}
    else:
        values = {"status": "dead" if attempts >= MAX_ATTEMPTS else "pending",
                  "next_attempt_at": now + backoff(attempts), "last_error": error or f"answered {status}"}
    async with sessions() as session, session.begin():
        await session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery["id"], WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == delivery["attempts"]).values(
            attempts=attempts, last_status=status, **values).execution_options(synchronize_session=False))


async def deliver_due(sessions: async_sessionmaker, client: httpx.AsyncClient, *, limit: int = 50,
                      now: datetime | None = None, check_address: bool = False) -> int:
    """Claim the due deliveries, send them (a few at once, no transaction held), record each result.
    `check_address`: production's SSRF guard (see `_send`). Returns how many were attempted."""
    now = now or datetime.now(UTC)
    claimed = await _claim(sessions, limit=limit, now=now)
    gate = asyncio.Semaphore(PARALLEL_SENDS)

    async def one(delivery: dict) -> None:
        async with gate:
            status, error = await _send(client, delivery, now=now, check_address=check_address)
        await _record(sessions, delivery, status, error, now=now)

    await asyncio.gather(*(one(d) for d in claimed))
    return len(claimed)


async def run_sender(sessions: async_sessionmaker, *, check_address: bool, interval: float = 2.0) -> None:
    """The sender loop of a service process (started with the outbox relay)."""
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False, trust_env=False) as client:
        while True:
            try:
                if await deliver_due(sessions, client, check_address=check_address) == 0:
                    await asyncio.sleep(interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook sender failed; retrying")
                await asyncio.sleep(interval)
