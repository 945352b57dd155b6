"""The token bucket of the rate limit (app/ratelimit.py); per key and per IP through HTTP in test_security.py."""

from __future__ import annotations

from app.ratelimit import RateLimiter


def test_token_bucket_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, max_callers=100, clock=lambda: now[0])
    assert all(limiter.take("a") == 0.0 for _ in range(60))
    wait = limiter.take("a")
    assert 0.9 < wait <= 1.0  # one token per second at 60/min
    now[0] += 1.0
    assert limiter.take("a") == 0.0
    for i in range(1000):  # a flood of new callers keeps at most max_callers buckets
        limiter.take(f"ip:{i}")
    assert len(limiter._buckets) == 100
