"""Several cache commands in one round trip, for the collect path.

With Redis (django-redis) the commands go as one pipeline; with any other backend (the embedded
local-memory cache, tests on SQLite) they are the backend's own calls, one after the other.
Values are encoded and decoded exactly as django-redis does, so `cache.get` reads what these wrote.

`Update` is a read-modify-write that two requests cannot interleave: on Redis each key is swapped
only while it still holds the bytes the request read (a compare-and-set in Lua), and one that changed
meanwhile is modified again from its new value; on the local-memory cache, which lives in one
process, a lock does the same.
"""

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)

# KEYS[1]; ARGV: what was read ("1": a value, whose SHA-1 is ARGV[2]; "0": nothing; "2": not read),
# the new value, its expiry in seconds. Returns 1 when it swapped, else {what the key holds now}.
# The digest, not the value read, travels back: a batch of 50 visitors would send 50 entries twice.
_SWAP = """
local current = redis.call('GET', KEYS[1])
if (ARGV[1] == '1' and current and redis.sha1hex(current) == ARGV[2]) or (ARGV[1] == '0' and not current) then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  return 1
end
return {current}
"""
_SWAP_SHA = hashlib.sha1(_SWAP.encode()).hexdigest()
# Each further try follows a write that won in between: more than a few means a hot loop elsewhere.
SWAP_ATTEMPTS = 8
_local_lock = threading.Lock()


class Reads(dict):
    """{key: value} of the keys found, plus `raw`: {key: the bytes Redis held} for each key asked
    (None: missing). Empty `raw` on other backends."""

    def __init__(self, values: dict, raw: dict | None = None):
        super().__init__(values)
        self.raw = raw or {}


@dataclass
class Update:
    """Set each of `keys` to `apply(key, its current value or None)`, as one atomic step per key.

    `read`: what the caller read of them already (`count_and_read`'s Reads, or None): where the key
    still holds that, the first try costs no extra round trip."""

    keys: list[str]
    apply: Callable[[str, Any], Any]
    timeout: int
    read: Reads | None = None


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
        return used, Reads(cache.get_many(keys) if keys else {})
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
    raw = dict(zip(keys, replies[2], strict=True)) if keys else {}
    return int(replies[1]), Reads({key: client.decode(v) for key, v in raw.items() if v is not None}, raw)


def read_many(keys: list[str]) -> Reads:
    """`cache.get_many` that also keeps what Redis held, for an `Update` of some of these keys."""
    client = redis_client()
    if client is None:
        return Reads(cache.get_many(keys))
    values = client.get_client(write=True).mget([client.make_key(key) for key in keys]) if keys else []
    raw = dict(zip(keys, values, strict=True))
    return Reads({key: client.decode(v) for key, v in raw.items() if v is not None}, raw)


def uncount(counter: str, delta: int) -> None:
    """Give back what `count_and_read` added."""
    cache.decr(counter, delta)


def set_many(*groups: tuple[dict, int], update: Update | None = None) -> None:
    """Store each ({key: value}, timeout) group and run `update`: one round trip on Redis whatever
    their number, unless an updated key changed since it was read. A failing `update` is logged,
    not raised: the groups are stored all the same."""
    groups = tuple((values, timeout) for values, timeout in groups if values)
    client = redis_client()
    if client is None:
        for values, timeout in groups:
            cache.set_many(values, timeout=timeout)
        if update is not None:
            _update_locally(update)
        return
    redis = client.get_client(write=True)
    pipe = redis.pipeline(transaction=False)
    for values, timeout in groups:
        for key, value in values.items():
            client.set(key, value, timeout=timeout, client=pipe)
    swaps = []
    if update is not None:
        try:
            swaps = _first_swaps(client, update)
        except Exception:
            log.exception("could not update the cache keys %s", update.keys[:3])
    for made, args in swaps:
        pipe.evalsha(_SWAP_SHA, 1, made, *args)
    if not groups and not swaps:
        return
    replies = pipe.execute(raise_on_error=False)
    stored, swapped = replies[: len(replies) - len(swaps)], replies[len(replies) - len(swaps) :]
    for reply in stored:
        if isinstance(reply, Exception):
            raise reply
    if not swaps:
        return
    try:
        if any(isinstance(reply, NoScriptError) for reply in swapped):
            redis.script_load(_SWAP)  # a new or flushed Redis: the swaps did not run, so run them now
            again = redis.pipeline(transaction=False)
            for made, args in swaps:
                again.evalsha(_SWAP_SHA, 1, made, *args)
            swapped = again.execute(raise_on_error=False)
        _finish_swaps(client, redis, update, swapped)
    except Exception:
        log.exception("could not update the cache keys %s", update.keys[:3])


def _swap_args(client, update: Update, key: str, raw) -> tuple:
    """The swap's arguments against `raw`, what the key held when read (None: missing)."""
    new = client.encode(update.apply(key, None if raw is None else client.decode(raw)))
    return ("0", "") if raw is None else ("1", hashlib.sha1(raw).hexdigest()), new


def _first_swaps(client, update: Update) -> list[tuple]:
    swaps = []
    raw = update.read.raw if update.read is not None else {}
    for key in update.keys:
        made = client.make_key(key)
        if key in raw:
            expected, new = _swap_args(client, update, key, raw[key])
            swaps.append((made, (*expected, new, update.timeout)))
        else:  # not read: the swap only fetches the value, to start from it
            swaps.append((made, ("2", "", "", update.timeout)))
    return swaps


def _finish_swaps(client, redis, update: Update, replies: list) -> None:
    """Apply the update again to each key whose swap found another value, until one swap wins."""
    for key, reply in zip(update.keys, replies, strict=True):
        attempts = 0
        while reply != 1:
            if isinstance(reply, Exception) or attempts == SWAP_ATTEMPTS:
                log.warning("gave up updating the cache key %s after %s tries: %s", key, attempts, reply)
                break
            expected, new = _swap_args(client, update, key, reply[0])
            reply = redis.evalsha(_SWAP_SHA, 1, client.make_key(key), *expected, new, update.timeout)
            attempts += 1


def _update_locally(update: Update) -> None:
    # The local-memory cache lives in this process: the lock makes read, apply and write one step.
    with _local_lock:
        for key in update.keys:
            try:
                cache.set(key, update.apply(key, cache.get(key)), timeout=update.timeout)
            except Exception:
                log.exception("could not update the cache key %s", key)
