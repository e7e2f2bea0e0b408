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


class _Script:
    """A Lua script run by its SHA-1 (EVALSHA), so the body does not travel with every call."""

    def __init__(self, text: str):
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


# KEYS: the keys; ARGV: a value and a timeout per key, as Django's (seconds; -1 stands for None,
# no expiry; 0 expires at once). Every key in one command: redis-py packs and parses each command
# in Python, and a batch of 50 visitors sets 100 keys.
_SET_MANY = _Script("""
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 * i])
  if ttl > 0 then
    redis.call('SET', key, ARGV[2 * i - 1], 'EX', ttl)
  elseif ttl < 0 then
    redis.call('SET', key, ARGV[2 * i - 1])
  else
    redis.call('DEL', key)
  end
end
return #KEYS
""")
# Compare-and-set per key. ARGV per key: what was read ("1": a value whose SHA-1 follows, "0":
# nothing, "2": not read), that SHA-1, the new value, its expiry in seconds. Each reply: 1 when it
# swapped, else {what the key holds now}. The digest, not the value read, travels back.
_SWAP_MANY = _Script("""
local out = {}
for i, key in ipairs(KEYS) do
  local read, digest = ARGV[4 * i - 3], ARGV[4 * i - 2]
  local current = redis.call('GET', key)
  if (read == '1' and current and redis.sha1hex(current) == digest) or (read == '0' and not current) then
    redis.call('SET', key, ARGV[4 * i - 1], 'EX', ARGV[4 * i])
    out[i] = 1
  else
    out[i] = {current}
  end
end
return out
""")
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
    return int(replies[1]), _reads(client, keys, replies[2] if keys else [])


def read_many(keys: list[str]) -> Reads:
    """`cache.get_many` that also keeps what Redis held, for an `Update` of some of these keys."""
    client = redis_client()
    if client is None:
        return Reads(cache.get_many(keys))
    values = client.get_client(write=True).mget([client.make_key(key) for key in keys]) if keys else []
    return _reads(client, keys, values)


def _reads(client, keys: list[str], values: list) -> Reads:
    """Reads of an MGET's replies (None for a missing key)."""
    raw = dict(zip(keys, values, strict=True))
    return Reads({key: client.decode(v) for key, v in raw.items() if v is not None}, raw)


def uncount(counter: str, delta: int) -> None:
    """Give back what `count_and_read` added."""
    cache.decr(counter, delta)


def set_many(*groups: tuple[dict, int | None], update: Update | None = None) -> None:
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
    calls = []
    if groups:
        keys, args = [], []
        for values, timeout in groups:
            for key, value in values.items():
                keys.append(client.make_key(key))
                args += [client.encode(value), -1 if timeout is None else timeout]
        calls.append((_SET_MANY, keys, args))
    swaps = None
    if update is not None:
        try:
            swaps = _first_swaps(client, update)
            calls.append((_SWAP_MANY, *swaps))
        except Exception:
            log.exception("could not update the cache keys %s", update.keys[:3])
    if not calls:
        return
    redis = client.get_client(write=True)
    replies = _run(redis, calls)
    if groups and isinstance(replies[0], Exception):
        raise replies[0]
    if swaps is not None:
        try:
            _finish_swaps(client, redis, update, replies[-1])
        except Exception:
            log.exception("could not update the cache keys %s", update.keys[:3])


def _run(redis, calls: list[tuple[_Script, list, list]]) -> list:
    """Each (script, keys, args) in one pipeline; replies in order, errors as values. A Redis that
    does not know a script (new, restarted, flushed) refuses the call: it is loaded and run again."""
    pipe = redis.pipeline(transaction=False)
    for script, keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    replies = pipe.execute(raise_on_error=False)
    refused = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if refused:
        again = redis.pipeline(transaction=False)
        for n in refused:
            script, keys, args = calls[n]
            again.script_load(script.text)
            again.evalsha(script.sha, len(keys), *keys, *args)
        for n, reply in zip(refused, again.execute(raise_on_error=False)[1::2], strict=True):
            replies[n] = reply
    return replies


def _swap_args(client, update: Update, key: str, raw, current) -> list:
    """One key's part of a swap against `raw`, what the key held when read (None: missing), and
    `current`, that value decoded."""
    new = client.encode(update.apply(key, current))
    expected = ["0", ""] if raw is None else ["1", hashlib.sha1(raw).hexdigest()]
    return [*expected, new, update.timeout]


def _first_swaps(client, update: Update) -> tuple[list, list]:
    """The keys and arguments of the first swap of every key."""
    raw = update.read.raw if update.read is not None else {}
    args = []
    for key in update.keys:  # a key not read: its swap only fetches the value, to start from it
        if key in raw:
            args += _swap_args(client, update, key, raw[key], update.read.get(key))
        else:
            args += ["2", "", "", update.timeout]
    return [client.make_key(key) for key in update.keys], args


def _finish_swaps(client, redis, update: Update, replies) -> None:
    """Apply the update again to each key whose swap found another value, until one swap wins."""
    if isinstance(replies, Exception):
        raise replies
    for key, reply in zip(update.keys, replies, strict=True):
        attempts = 0
        while reply != 1:
            if attempts == SWAP_ATTEMPTS:
                log.warning("gave up updating the cache key %s after %s tries", key, attempts)
                break
            raw = reply[0]
            args = _swap_args(client, update, key, raw, None if raw is None else client.decode(raw))
            (replies_of_one,) = _run(redis, [(_SWAP_MANY, [client.make_key(key)], args)])
            if isinstance(replies_of_one, Exception):
                raise replies_of_one
            (reply,) = replies_of_one
            attempts += 1


def _update_locally(update: Update) -> None:
    # The local-memory cache lives in this process: the lock makes read, apply and write one step.
    with _local_lock:
        for key in update.keys:
            try:
                cache.set(key, update.apply(key, cache.get(key)), timeout=update.timeout)
            except Exception:
                log.exception("could not update the cache key %s", key)
