"""A per-shop event budget per minute, shared by every web process through the cache.

A sliding window: the events of the current minute, plus the previous minute's weighted by the
share of it still inside the last 60 seconds (the estimate Cloudflare describes for its own
limiter). Fixed windows alone would let a shop send its whole budget at the end of one minute and
again at the start of the next. Each minute is counted with an atomic increment (Redis INCRBY in
production), so concurrent requests can never together exceed the limit. The collect path reads
the previous minute and the batch's cache values in the same round trip as the increment (`read`).
"""

import math
import time

from personalize.lib import cache as batch_cache

WINDOW_SECONDS = 60


def take_events(
    *, shop_id: int, limit: int, count: int, now: float | None = None, read: list[str] = ()
) -> tuple[int | None, dict]:
    """Spend `count` events of the shop's budget and read the cache keys `read`, in one round trip.

    (None, {key: value}) if allowed, else (seconds until the batch would fit, {})."""
    now = time.time() if now is None else now
    window, into = divmod(now, WINDOW_SECONDS)
    key, previous_key = _counter(shop_id, int(window)), _counter(shop_id, int(window) - 1)
    # A counter lives through its own minute and the next, where it is the previous one.
    used, values = batch_cache.count_and_read(key, count, WINDOW_SECONDS * 2, [previous_key, *read])
    previous = values.pop(previous_key, 0)
    if used + previous * (1 - into / WINDOW_SECONDS) <= limit:
        return None, values
    batch_cache.uncount(key, count)  # a refused batch spends nothing
    return _seconds_until_it_fits(limit, count, used - count, previous, into), {}


def _counter(shop_id: int, window: int) -> str:
    return f"rl:{shop_id}:{window}"


def _seconds_until_it_fits(limit: int, count: int, used: int, previous: int, into: float) -> int:
    """When `count` more events fit if nothing else is sent: later in this minute, as the previous
    one slides out, or in the next, as this one does. A batch larger than the limit never fits;
    it is told to wait a whole window."""
    room = limit - count - used
    if room >= 0:  # this minute has room; the previous one must slide out far enough
        fits_at = WINDOW_SECONDS * (1 - room / previous)
    elif count <= limit:  # in the next minute, this one becomes the previous
        fits_at = WINDOW_SECONDS * (2 - (limit - count) / used)
    else:
        fits_at = into + WINDOW_SECONDS
    return max(1, math.ceil(fits_at - into - 1e-9))  # 80.00000001 s is 80
