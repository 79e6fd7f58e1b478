"""The report summary of callers who read everything, kept per ledger version (issue 18: the console's dashboard
answers in under 1 s with 100,000 workers; computing the summary reads every ledger line in the range).

`ledger_version` is bumped in the same transaction as every write to what the summary reads (the ledger lines, and
the transfers, repayments and write-offs of the receivable; migration 0010). An answer is computed in ONE
snapshot (a REPEATABLE READ, read-only transaction) with the version read first in it, and kept under that
version: it is exactly the figures of that version, never of a version whose data it did not see. A call reads the
current version (one short statement) and is answered from the cache when the answer kept for its key is of that
version or a later one; otherwise it is computed (one computation per key at a time: concurrent callers wait for
the same one, unless it began before the version they read).

Warm-up: a loop reads the version every `poll_seconds`; when it moved, the keys asked in the last
`warm_seconds` (the console's usual call) are computed again at once, one after the other, so the next
dashboard after a batch, a bank-results upload or a repayment is answered from the cache. While writes keep
coming (marks one by one) it recomputes one key at a time, never more.

Per process, bounded (`size` keys, the least recently asked dropped first). Callers with a scope (station managers,
social workers) are not served from here: their workers depend on service months, and they are computed live.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("subsidy.reports")
VERSION = text("SELECT version FROM ledger_version")
Key = tuple[str, str, str]  # policy, from, to
Compute = Callable[[AsyncConnection, Key], Awaitable[dict]]


class SummaryCache:
    def __init__(self, engine: AsyncEngine, compute: Compute, *, size: int = 64, poll_seconds: float = 2.0,
                 warm_seconds: float = 3600.0, warm_keys: int = 8):
        self.engine = engine
        self.compute = compute
        self.size = size
        self.poll_seconds = poll_seconds
        self.warm_seconds = warm_seconds
        self.warm_keys = warm_keys
        self.computed = 0  # computations done (tests and the benchmark read it)
        self._answers: OrderedDict[Key, tuple[int, dict]] = OrderedDict()  # key: (version, answer)
        self._running: dict[Key, asyncio.Task] = {}
        self._asked: OrderedDict[Key, float] = OrderedDict()  # key: when a caller last asked it (monotonic)
        self._warmer: asyncio.Task | None = None

    async def version(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(VERSION))

    async def get(self, key: Key) -> dict:
        """The summary for `key` as of the current ledger version or later (a copy: callers may change it)."""
        self._asked[key] = time.monotonic()
        self._asked.move_to_end(key)
        while len(self._asked) > self.warm_keys:
            self._asked.popitem(last=False)
        return copy.deepcopy(await self._at_least(key, await self.version()))

    async def _at_least(self, key: Key, version: int) -> dict:
        while True:
            kept = self._answers.get(key)
            if kept is not None and kept[0] >= version:
                self._answers.move_to_end(key)
                return kept[1]
            task = self._running.get(key)
            if task is None:
                task = asyncio.create_task(self._compute(key), name=f"report-summary {key}")
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
                self._running[key] = task
            # shielded: a caller that goes away does not cancel what others wait for
            got, answer = await asyncio.shield(task)
            if got >= version:
                return answer
            # that computation began before the version this caller read: the next round starts another

    async def _compute(self, key: Key) -> tuple[int, dict]:
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                async with conn.begin():
                    version = int(await conn.scalar(VERSION))  # the snapshot is taken here
                    answer = await self.compute(conn, key)
            self.computed += 1
            kept = self._answers.get(key)
            if kept is None or kept[0] < version:
                self._answers[key] = (version, answer)
                self._answers.move_to_end(key)
                while len(self._answers) > self.size:
                    self._answers.popitem(last=False)
            return version, answer
        finally:
            self._running.pop(key, None)

    def start(self) -> None:
        self._warmer = asyncio.create_task(self._warm(), name="report-summary-warmer")

    async def close(self) -> None:
        tasks = [t for t in (self._warmer, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _warm(self) -> None:
        seen: int | None = None
        while True:
            await asyncio.sleep(self.poll_seconds)
            now = time.monotonic()
            keys = [k for k, at in self._asked.items() if now - at <= self.warm_seconds]
            if not keys:
                continue
            try:
                version = await self.version()
                if version == seen:
                    continue
                for key in keys:
                    await self._at_least(key, version)
                seen = version
            except Exception:  # the database away for a moment: the next round tries again
                log.warning("report summary warm-up failed", exc_info=True)

    def kept_version(self, key: Key) -> int | None:
        """The version the answer kept for `key` is of (None: none kept)."""
        kept = self._answers.get(key)
        return kept[0] if kept else None
