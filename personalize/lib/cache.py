"""Several cache commands in one round trip, for the collect and serving paths.

With Redis (django-redis) the commands go as one pipeline; with any other backend (the embedded
local-memory cache, tests on SQLite) they are the backend's own calls, one after the other.
Values are encoded and decoded exactly as django-redis does, so `cache.get` reads what these wrote.

`AtomicChange` changes several keys as one step that no other request can interleave: a Lua script
on Redis; on the local-memory cache, which lives in one process, a function run under a lock.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger(__name__)

# What an unreachable or failing cache raises: redis-py's own errors, django-redis's wrapper of
# them, and the socket's.
ERRORS = (RedisError, ConnectionInterrupted, OSError)
# After a failure, callers that can do without the cache skip it for this long (per process): a
# Redis that hangs then costs one socket timeout every few seconds, not one per request.
BREAK_SECONDS = 5.0
_broken_until = 0.0


def available() -> bool:
    """False for BREAK_SECONDS after `broke`: the cache is taken to be down."""
    return time.monotonic() >= _broken_until


def broke(exc: BaseException) -> None:
    """Note that the cache failed (logged once per break, not once per request)."""
    global _broken_until
    if available():
        log.warning("the cache is unreachable (%s); going on without it for %.0f s", exc, BREAK_SECONDS)
    _broken_until = time.monotonic() + BREAK_SECONDS


def mend() -> None:
    """Forget a break (tests)."""
    global _broken_until
    _broken_until = 0.0


def attempt(call: Callable[[], Any], default: Any = None) -> Any:
    """`call()` for a caller that can do without the cache: `default` during a break, and when the
    call fails (which starts one)."""
    if not available():
        return default
    try:
        return call()
    except ERRORS as exc:
        broke(exc)
        return default


class Script:
    """A Lua script run by its SHA-1 (EVALSHA), so the body does not travel with every call."""

    def __init__(self, text: str):
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


# KEYS: the keys; ARGV: a value and a timeout per key, as Django's (seconds; -1 stands for None,
# no expiry; 0 expires at once). Every key in one command: redis-py packs and parses each command
# in Python, and a batch of 50 visitors sets 100 keys.
_SET_MANY = Script("""
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
_local_lock = threading.Lock()


@dataclass
class AtomicChange:
    """A change of several keys made as one step: on Redis `script` run with `keys` (cache keys, the
    backend's prefix is added) and `args`; on any other backend `locally()`, under a process lock."""

    script: Script
    keys: list[str]
    args: list
    locally: Callable[[], None]


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
        return used, cache.get_many(keys) if keys else {}
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
    return int(replies[1]), _decoded(client, keys, replies[2] if keys else [])


def read_many(keys: list[str]) -> dict:
    """`cache.get_many`: {key: value} of the keys present."""
    client = redis_client()
    if client is None or not keys:
        return cache.get_many(keys)
    return _decoded(client, keys, client.get_client(write=True).mget([client.make_key(key) for key in keys]))


def read_many_and_run(
    keys: list[str], script: Script, script_keys: list[str], args: list
) -> tuple[dict, Any]:
    """`cache.get_many(keys)` and a read-only Lua `script` run with `script_keys` (cache keys) and
    `args`, in one round trip: ({key: value} of the keys present, the script's reply). Redis only."""
    client = redis_client()
    redis = client.get_client(write=True)
    call = (script, [client.make_key(key) for key in script_keys], args)
    pipe = redis.pipeline(transaction=False)
    if keys:
        pipe.mget([client.make_key(key) for key in keys])
    pipe.evalsha(script.sha, len(call[1]), *call[1], *args)
    replies = pipe.execute(raise_on_error=False)
    reply = replies[-1]
    if isinstance(reply, NoScriptError):
        (reply,) = _run(redis, [call])
    for failed in (replies[0] if keys else None, reply):
        if isinstance(failed, Exception):
            raise failed
    return (_decoded(client, keys, replies[0]) if keys else {}), reply


def _decoded(client, keys: list[str], values: list) -> dict:
    """{key: value} of an MGET's replies, without the missing keys."""
    return {key: client.decode(v) for key, v in zip(keys, values, strict=True) if v is not None}


def uncount(counter: str, delta: int) -> None:
    """Give back what `count_and_read` added."""
    cache.decr(counter, delta)


def set_many(*groups: tuple[dict, int | None], change: AtomicChange | None = None) -> None:
    """Store each ({key: value}, timeout) group and make `change`: one round trip on Redis whatever
    their number. A failing `change` is logged, not raised: the groups are stored all the same."""
    groups = tuple((values, timeout) for values, timeout in groups if values)
    client = redis_client()
    if client is None:
        for values, timeout in groups:
            cache.set_many(values, timeout=timeout)
        if change is not None:
            try:
                with _local_lock:  # the local-memory cache lives in this process
                    change.locally()
            except Exception:
                log.exception("could not change the cache keys %s", change.keys[:3])
        return
    calls = []
    if groups:
        keys, args = [], []
        for values, timeout in groups:
            for key, value in values.items():
                keys.append(client.make_key(key))
                args += [client.encode(value), -1 if timeout is None else timeout]
        calls.append((_SET_MANY, keys, args))
    if change is not None:
        calls.append((change.script, [client.make_key(key) for key in change.keys], change.args))
    if not calls:
        return
    replies = _run(client.get_client(write=True), calls)
    if groups and isinstance(replies[0], Exception):
        raise replies[0]
    if change is not None and isinstance(replies[-1], Exception):
        log.error("could not change the cache keys %s: %s", change.keys[:3], replies[-1])


def _run(redis, calls: list[tuple[Script, list, list]]) -> list:
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
