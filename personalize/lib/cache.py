"""Several cache commands in one round trip, for the collect path.

With Redis (django-redis) the commands go as one pipeline; with any other backend (the embedded
local-memory cache, tests on SQLite) they are the backend's own calls, one after the other.
Values are encoded and decoded exactly as django-redis does, so `cache.get` reads what these wrote.
"""

from django.core.cache import cache


def redis_client():
    """django-redis's client when the default cache is Redis, else None."""
    client = getattr(cache, "client", None)
    return client if hasattr(client, "get_client") and hasattr(client, "decode") else None


def count_and_read(counter: str, delta: int, timeout: int, keys: list[str]) -> tuple[int, dict]:
    """Add `delta` to the integer at `counter` (made with `timeout` when absent) and read `keys`:
    (the counter's new value, {key: value} of the keys present). One round trip on Redis.

    The increment is atomic (INCRBY), so concurrent callers never see the same total."""
    client = redis_client()
    if client is None:
        try:
            used = cache.incr(counter, delta)
        except ValueError:  # first increment of this counter
            used = delta if cache.add(counter, delta, timeout=timeout) else cache.incr(counter, delta)
        return used, (cache.get_many(keys) if keys else {})
    redis = client.get_client(write=True)
    made = client.make_key(counter)
    pipe = redis.pipeline(transaction=False)
    # SET NX gives a new counter its expiry; INCRBY then counts (integers are stored as plain
    # numbers by django-redis, so INCRBY works on what cache.add would have written).
    pipe.set(made, 0, ex=timeout, nx=True)
    pipe.incrby(made, delta)
    if keys:
        pipe.mget([client.make_key(key) for key in keys])
    replies = pipe.execute()
    values = replies[2] if keys else []
    return int(replies[1]), {
        key: client.decode(v) for key, v in zip(keys, values, strict=True) if v is not None
    }


def uncount(counter: str, delta: int) -> None:
    """Give back what `count_and_read` added."""
    cache.decr(counter, delta)


def set_many(*groups: tuple[dict, int]) -> None:
    """Store each ({key: value}, timeout) group; one round trip on Redis whatever their number."""
    groups = tuple((values, timeout) for values, timeout in groups if values)
    if not groups:
        return
    client = redis_client()
    if client is None:
        for values, timeout in groups:
            cache.set_many(values, timeout=timeout)
        return
    pipe = client.get_client(write=True).pipeline(transaction=False)
    for values, timeout in groups:
        for key, value in values.items():
            client.set(key, value, timeout=timeout, client=pipe)
    pipe.execute()
