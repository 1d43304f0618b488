"""The retry policy: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

import email.utils

import pytest

from coderepo.errors import AuthenticationError, RemoteError
from coderepo.gitproto import _http_error
from coderepo.retry import RetryPolicy, TransientError, retry_after_from_headers


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": email.utils.formatdate(1_700_000_030, usegmt=True)}, 30.0),
        ({"X-RateLimit-Reset": "1700000045"}, 45.0),  # GitHub: epoch seconds
        ({"RateLimit-Reset": "12"}, 12.0),  # seconds from now
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_from_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_from_headers(headers, now=1_700_000_000) == expected


def test_transient_failures_are_retried_with_backoff_then_succeed() -> None:
    waits: list[float] = []
    calls = iter([TransientError("502"), TransientError("reset"), "done"])

    def operation() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    policy = RetryPolicy(attempts=5, total_seconds=60, base_delay=1, max_delay=10)
    assert policy.run(operation, "fetching", sleep=waits.append) == "done"
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    calls = iter([TransientError("429", retry_after=3), "ok"])

    def operation() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    RetryPolicy().run(operation, "fetching", sleep=waits.append)
    assert waits == [3]


def test_gives_up_after_the_attempts_with_a_clear_error() -> None:
    def operation() -> None:
        raise TransientError("server answered HTTP 503")

    with pytest.raises(RemoteError, match=r"^fetching failed after 3 attempts: server answered HTTP 503$"):
        RetryPolicy(attempts=3, base_delay=0).run(operation, "fetching", sleep=lambda s: None)


def test_gives_up_when_out_of_time() -> None:
    def operation() -> None:
        raise TransientError("rate limited", retry_after=500)

    with pytest.raises(RemoteError, match="within 10s"):
        RetryPolicy(attempts=10, total_seconds=10).run(operation, "fetching", sleep=lambda s: None)


def test_other_errors_are_not_retried() -> None:
    calls = []

    def operation() -> None:
        calls.append(1)
        raise AuthenticationError("bad token")

    with pytest.raises(AuthenticationError):
        RetryPolicy().run(operation, "fetching", sleep=lambda s: None)
    assert calls == [1]


@pytest.mark.parametrize(
    "status, headers, kind",
    [
        (500, {}, TransientError),
        (502, {}, TransientError),
        (503, {"Retry-After": "2"}, TransientError),
        (429, {}, TransientError),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99999999999"}, TransientError),
        (403, {}, AuthenticationError),
        (401, {}, AuthenticationError),
        (404, {}, RemoteError),
    ],
)
def test_http_statuses(status: int, headers: dict[str, str], kind: type) -> None:
    error = _http_error(status, "https://host/repo.git", headers)
    assert type(error) is kind
    assert f"HTTP {status}" in str(error)
