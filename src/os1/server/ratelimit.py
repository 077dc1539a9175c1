"""Per-key token buckets: a sustained rate with a burst, answered with a wait time.

Keys are `user:<id>` after sign-in and `addr:<ip>` before it, so one user's flood never slows
another user. Buckets live in this process (a deployment with several workers multiplies the
allowance by the worker count, which is documented in docs/deploy.md). Idle buckets are
forgotten so memory stays bounded by the number of active keys.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from os1.errors import UserError


class RateLimited(UserError):
    """Too many requests; `retry_after` says how many seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"That's a lot at once; please wait {seconds} s and try again.")
        self.retry_after = seconds


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str, cost: float = 1.0) -> None:
        """Spend `cost` from `key`'s bucket or raise RateLimited."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 50_000:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < cost:
            raise RateLimited((cost - bucket.tokens) / self.rate if self.rate else 60.0)
        bucket.tokens -= cost

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate if self.rate else math.inf
        for key in [k for k, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[key]


__all__ = ["RateLimited", "RateLimiter"]
