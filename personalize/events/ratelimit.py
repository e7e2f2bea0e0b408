"""A per-shop event budget per minute, shared by every web process through the cache.

Fixed one-minute windows counted with an atomic increment (Redis INCR in production), so
concurrent requests can never together exceed the limit inside a window.
"""

import time

from django.core.cache import cache

WINDOW_SECONDS = 60


def take_events(*, shop_id: int, limit: int, count: int, now: float | None = None) -> int | None:
    """Spend `count` events of the shop's budget; None if allowed, else seconds until it refills."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"rl:{shop_id}:{window}"
    try:
        used = cache.incr(key, count)
    except ValueError:  # first request of the window
        used = count if cache.add(key, count, timeout=WINDOW_SECONDS * 2) else cache.incr(key, count)
    if used <= limit:
        return None
    cache.decr(key, count)  # a refused batch spends nothing
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
