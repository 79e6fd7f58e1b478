"""Sign-in throttling: growing delays, then a temporary lock, per account and per client address.

An attempt is counted before the secret is checked (in its own short transaction, row-locked, so concurrent
attempts on one account in every gateway process are serialised) and the count is undone by a success. A caller
that must wait is refused with 429 and Retry-After before any hashing: argon2 costs tens of milliseconds of
CPU, the refusal well under one, so guessing cannot starve real sign-ins of CPU.

Kept small here rather than taken from `limits`: its counters are fixed or sliding windows of a rate, kept in
memory, Redis, Memcached or MongoDB; what is needed is a failure count with growing delays, a lock and a reset
on success, shared by the gateway processes through the PostgreSQL they already have.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.identity.models import LoginThrottle
from services.gateway.settings import GatewaySettings

# A refusal is remembered in the process this long at most, so a flood is refused without a database round trip
# (briefly: a success in another process may have reset the count meanwhile).
_MEMO_SECONDS = 2.0
_MEMO_MAX = 50_000


@dataclass(frozen=True)
class Limits:
    free: int  # failures that cost nothing
    lock: int  # failures that lock


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], settings: GatewaySettings):
        self.sessionmaker = sessionmaker
        self.enabled = settings.login_throttle_enabled
        self.account = Limits(settings.login_free_failures, settings.login_lock_failures)
        self.address = Limits(settings.login_address_free_failures, settings.login_address_lock_failures)
        self.delay = settings.login_delay_seconds
        self.max_delay = settings.login_max_delay_seconds
        self.lock_seconds = settings.login_lock_seconds
        self.window = timedelta(seconds=settings.login_failure_window_seconds)
        self.refusal_delay = settings.login_refusal_delay_seconds
        self._memo: dict[str, float] = {}  # key -> time.monotonic() until which it is known to be blocked
        self._queues: dict[str, list] = {}  # key -> [asyncio.Lock, attempts using it]: one at a time per key
        self.sleep = asyncio.sleep  # how a refusal is held (a test records the holds instead)

    async def hold_refusal(self, retry_after: int) -> None:
        """Before a refusal is answered (outside any transaction: nothing is held but the caller's connection)."""
        if self.refusal_delay > 0:
            await self.sleep(min(self.refusal_delay, retry_after))

    def wait_after(self, failures: int, limits: Limits) -> float:
        """Seconds the next attempt waits after `failures` failures in a row."""
        if failures >= limits.lock:
            return self.lock_seconds
        if failures <= limits.free:
            return 0.0
        return min(self.delay * 2 ** (failures - limits.free - 1), self.max_delay)

    def keys(self, *, account: str, address: str | None) -> dict[str, Limits]:
        keys = {account[:300]: self.account}
        if address:
            keys[f"addr:{address}"[:300]] = self.address
        return keys

    async def attempt(self, keys: dict[str, Limits]) -> None:
        """Count an attempt for every key, or raise Throttled (nothing counted) if one of them must wait."""
        if not self.enabled:
            return
        self._refuse_if_known(keys)
        # Attempts on one key in this process go one at a time here, not on the row lock below: a crowd of
        # guesses on one account then waits without holding database connections (which a person signing in
        # meanwhile needs), and all but the first are refused from the memo once the first has been refused.
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(keys):  # always in the same order: no deadlock between two attempts
                await stack.enter_async_context(self._one_at_a_time(key))
            self._refuse_if_known(keys)
            await self._count(keys)

    def _refuse_if_known(self, keys: dict[str, Limits]) -> None:
        clock = time.monotonic()
        memo = max((self._memo.get(k, 0.0) for k in keys), default=0.0)
        if memo > clock:
            raise Throttled(max(1, math.ceil(memo - clock)))

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: str):
        entry = self._queues.get(key)
        if entry is None:
            entry = self._queues[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._queues[key]

    async def _count(self, keys: dict[str, Limits]) -> None:
        clock = time.monotonic()
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(LoginThrottle).values([{"key": k, "failures": 0} for k in sorted(keys)])
                                  .on_conflict_do_nothing())
            rows = (await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys)))
                                          .order_by(LoginThrottle.key).with_for_update())).all()
            waits = {r.key: (r.blocked_until - now).total_seconds() for r in rows
                     if r.blocked_until is not None and r.blocked_until > now}
            if waits:
                learned = time.monotonic()  # remembered from now: the check itself may have waited a while
                for key, wait in waits.items():
                    self._remember(key, learned + min(wait - (learned - clock), _MEMO_SECONDS))
                raise Throttled(max(1, math.ceil(max(waits.values()))))
            for row in rows:
                recent = row.last_failure_at is not None and now - row.last_failure_at < self.window
                row.failures = (row.failures if recent else 0) + 1
                row.last_failure_at = now
                pause = self.wait_after(row.failures, keys[row.key])
                row.blocked_until = now + timedelta(seconds=pause) if pause else None
            if random.random() < 0.01:  # forget what is long past, now and then
                stale = now - max(self.window, timedelta(seconds=self.lock_seconds))
                await session.execute(delete(LoginThrottle).where(
                    LoginThrottle.last_failure_at < stale,
                    or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now)))

    async def succeeded(self, keys: dict[str, Limits]) -> None:
        """The secret was right: the account starts afresh; the address forgets this one attempt."""
        if not self.enabled:
            return
        account, *addresses = keys
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(LoginThrottle).where(LoginThrottle.key == account))
            if addresses:
                await session.execute(update(LoginThrottle).where(LoginThrottle.key.in_(addresses)).values(
                    failures=func.greatest(LoginThrottle.failures - 1, 0), blocked_until=None))
        self._memo.pop(account, None)

    def _remember(self, key: str, until: float) -> None:
        if len(self._memo) > _MEMO_MAX:
            clock = time.monotonic()
            self._memo = {k: v for k, v in self._memo.items() if v > clock}
            if len(self._memo) > _MEMO_MAX:
                self._memo.clear()
        self._memo[key] = max(self._memo.get(key, 0.0), until)
