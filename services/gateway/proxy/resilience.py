"""A circuit breaker per upstream and a retry budget: failing upstreams are not hammered."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed -> (N consecutive failures) -> open for T seconds -> half-open: one trial request decides."""

    def __init__(self, *, failures: int, open_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self._trial_running = False

    def allow(self) -> bool:
        """May a request go out now? In half-open state only one trial is let through."""
        if self.state == "closed":
            return True
        if self.state == "open" and self.clock() - self.opened_at >= self.open_seconds:
            self.state = "half_open"
            self._trial_running = False
        if self.state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def retry_after(self) -> int:
        return max(1, int(self.opened_at + self.open_seconds - self.clock() + 0.999))

    def success(self) -> None:
        self.state, self.failures, self._trial_running = "closed", 0, False

    def failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.state == "half_open" or self.failures >= self.threshold:
            self.state, self.opened_at = "open", self.clock()

    def abandoned(self) -> None:
        """A trial that ended without a verdict (the caller went away): let the next request try."""
        self._trial_running = False


class RetryBudget:
    """Retries may add at most `ratio` of the recent request volume, plus `floor` tokens refilled per second."""

    def __init__(self, *, ratio: float, floor: float, clock: Callable[[], float] = time.monotonic):
        self.ratio = ratio
        self.floor = floor
        self.clock = clock
        self.tokens = floor
        self._at = clock()

    def _refill(self, amount: float) -> None:
        now = self.clock()
        cap = max(self.floor, 1.0) * 2
        self.tokens = min(cap, self.tokens + amount + (now - self._at) * self.floor / 10)
        self._at = now

    def request(self) -> None:
        self._refill(self.ratio)

    def withdraw(self) -> bool:
        self._refill(0.0)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
