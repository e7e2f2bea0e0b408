"""A per-shop event budget per minute, shared by every web process through the cache.

Fixed one-minute windows counted with an atomic increment (Redis INCRBY in production), so
concurrent requests can never together exceed the limit inside a window. The collect path reads
the batch's cache values in the same round trip as the increment (`read`).
"""

import time

from personalize.lib import cache as batch_cache

WINDOW_SECONDS = 60


def take_events(
    *, shop_id: int, limit: int, count: int, now: float | None = None, read: list[str] = ()
) -> tuple[int | None, dict]:
    """Spend `count` events of the shop's budget and read the cache keys `read`, in one round trip.

    (None, {key: value}) if allowed, else (seconds until the budget refills, {})."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"rl:{shop_id}:{window}"
    used, values = batch_cache.count_and_read(key, count, WINDOW_SECONDS * 2, list(read))
    if used <= limit:
        return None, values
    batch_cache.uncount(key, count)  # a refused batch spends nothing
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999)), {}
