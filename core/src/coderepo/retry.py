"""One retry policy for transient failures of every download, whatever the host.

Transient: 5xx answers, 429 and rate-limiting 403 answers (honouring ``Retry-After``
and ``X-RateLimit-Reset``), connection resets and truncated bodies. Backoff is
exponential with jitter, each wait capped, and the whole attempt bounded in time, so
a dead server gives a clear error in bounded time rather than a hang.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Mapping, Optional, TypeVar

import attrs

from .errors import RemoteError

T = TypeVar("T")


class TransientError(RemoteError):
    """A failure worth another attempt; ``retry_after`` is the server's wish, if any."""

    def __init__(self, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_from_headers(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait according to Retry-After (seconds or date) or X-RateLimit-Reset."""
    now = time.time() if now is None else now
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        import email.utils

        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = lowered.get("x-ratelimit-reset") or lowered.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        seconds = float(reset)
        # GitHub sends an epoch time; GitLab's RateLimit-Reset is one too.
        return max(0.0, seconds - now) if seconds > 1e9 else seconds
    return None


@attrs.frozen
class RetryPolicy:
    """How long and how often to retry."""

    attempts: int = 5
    total_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 15.0

    def delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay * 4)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)

    def run(
        self,
        operation: Callable[[], T],
        describe: str,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Optional[Callable[[int, TransientError, float], None]] = None,
    ) -> T:
        """Call ``operation`` until it succeeds or fails for good; raise a clear error."""
        deadline = time.monotonic() + self.total_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except TransientError as exc:
                wait = self.delay(attempt, exc.retry_after)
                out_of_time = time.monotonic() + wait > deadline
                if attempt >= self.attempts or out_of_time:
                    why = f"after {attempt} attempts" if not out_of_time else f"within {self.total_seconds:.0f}s"
                    raise RemoteError(f"{describe} failed {why}: {exc}") from None
                if on_retry is not None:
                    on_retry(attempt, exc, wait)
                sleep(wait)


DEFAULT_POLICY = RetryPolicy()


def policy_from_environment() -> RetryPolicy:
    """The default policy, adjustable with CODEREPO_RETRY_ATTEMPTS / _SECONDS / _BASE_DELAY."""
    import os

    def number(name: str, default: float) -> float:
        try:
            return float(os.environ.get(name, default))
        except ValueError:
            return default

    return RetryPolicy(
        attempts=int(number("CODEREPO_RETRY_ATTEMPTS", DEFAULT_POLICY.attempts)),
        total_seconds=number("CODEREPO_RETRY_SECONDS", DEFAULT_POLICY.total_seconds),
        base_delay=number("CODEREPO_RETRY_BASE_DELAY", DEFAULT_POLICY.base_delay),
        max_delay=DEFAULT_POLICY.max_delay,
    )
