"""What a visitor just did, kept in the cache so the very next recommendation request reflects it.

Per shop and visitor: their recent items (newest first, one entry per product and event type),
their cart and what they bought. The collect path folds each batch in as one atomic change, so two
batches of one visitor arriving together both count; serving reads it in the same cache round trip
as its model and catalog versions.

On Redis the activity is four native structures per visitor, changed by one Lua script per batch
with nothing read first: the recent items (a sorted set scored by event time, plus a hash of each
entry's session and arrival number), the cart and the bought products (sorted sets in arrival
order). On the embedded local-memory cache it is one entry, folded in Python under a lock. The two
give the same `Activity`.
"""

import time
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from django.core.cache import cache

from personalize.lib import cache as batch_cache
from personalize.shops.models import Shop

RECENT_MAX = 50
CART_MAX = 100
BOUGHT_MAX = 200
# Long enough to span a returning visitor's next visits; every change renews it.
TTL_SECONDS = 30 * 24 * 3600
TRACKED = frozenset(("product_view", "add_to_cart", "remove_from_cart", "rec_click", "purchase"))
# The suffixes of a visitor's four Redis keys.
PARTS = (":r", ":m", ":c", ":b")
SEPARATOR = "\x1f"
# The meta of an entry the hash lacks: arrival 0, no session.
_NO_META = b"0" + SEPARATOR.encode()

# KEYS: each visitor's key, the stem of their four: ":r" their recent items (sorted set: "type SEP
# product" scored by epoch seconds), ":m" their meta (hash: entry -> "arrival SEP session"), ":c" and
# ":b" their cart and bought products (sorted sets scored by arrival). Django's key function only
# prefixes a key, so the stem's made key plus a part is the part's made key. ARGV: the expiry in
# seconds, the three size bounds, then per visitor the number of its steps and 5 values per step,
# oldest first: kind (an event type, or "checkout", which empties the cart), product id, epoch
# seconds, session id, arrival (an increasing integer). Each structure expires TTL_SECONDS after it
# last changed. Every redis.call costs Redis about a microsecond, and a batch holds up to 100
# visitors: only what a step needs is called.
_FOLD = batch_cache.Script("""
local ttl, recent_max, cart_max, bought_max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local at = 5
for _, key in ipairs(KEYS) do
  local recent, meta, cart, bought = key .. ':r', key .. ':m', key .. ':c', key .. ':b'
  local viewed, carted, purchased = false, false, false
  local steps = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, steps do
    local kind, product, ts, session, arrival = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
    at = at + 5
    if kind == 'remove_from_cart' then
      redis.call('ZREM', cart, product)
      carted = true
    elseif kind == 'checkout' then
      redis.call('DEL', cart)
    else
      local entry = kind .. '\\31' .. product
      -- GT: an older event does not move the entry back; on equal times the later arrival counts
      -- as newer (and brings its session).
      if redis.call('ZADD', recent, 'GT', 'CH', ts, entry) == 1
        or tonumber(redis.call('ZSCORE', recent, entry)) == tonumber(ts) then
        redis.call('HSET', meta, entry, arrival .. '\\31' .. session)
      end
      viewed = true
      if kind == 'add_to_cart' then
        redis.call('ZADD', cart, arrival, product)
        carted = true
      elseif kind == 'purchase' then
        redis.call('ZADD', bought, arrival, product)
        purchased = true
      end
    end
  end
  if viewed then
    local over = redis.call('ZCARD', recent) - recent_max
    if over > 0 then
      local oldest = redis.call('ZRANGE', recent, 0, over - 1)
      redis.call('ZREM', recent, unpack(oldest))
      redis.call('HDEL', meta, unpack(oldest))
    end
    redis.call('EXPIRE', recent, ttl)
    redis.call('EXPIRE', meta, ttl)
  end
  if carted then
    redis.call('ZREMRANGEBYRANK', cart, 0, -cart_max - 1)
    redis.call('EXPIRE', cart, ttl)
  end
  if purchased then
    redis.call('ZREMRANGEBYRANK', bought, 0, -bought_max - 1)
    redis.call('EXPIRE', bought, ttl)
  end
end
return #KEYS
""")


# KEYS: a visitor's key (the stem). The reply: their recent items with scores (newest first), their
# meta hash's fields and values, their cart, their bought products. One script, not four commands:
# redis-py handles each command's reply in Python.
_READ = batch_cache.Script("""
local key = KEYS[1]
return {
  redis.call('ZREVRANGE', key .. ':r', 0, -1, 'WITHSCORES'),
  redis.call('HGETALL', key .. ':m'),
  redis.call('ZRANGE', key .. ':c', 0, -1),
  redis.call('ZRANGE', key .. ':b', 0, -1),
}
""")


@dataclass
class Activity:
    """A visitor's recent activity. `recent` holds (product_id, type, epoch seconds, session_id),
    newest first, one entry per product and type (a repeat moves it to the front)."""

    recent: list[tuple[str, str, float, str]] = field(default_factory=list)
    cart: list[str] = field(default_factory=list)  # oldest first
    bought: list[str] = field(default_factory=list)  # oldest first

    def viewed(self) -> list[str]:
        """Products looked at (viewed, clicked, carted), newest first, each once."""
        seen: dict[str, None] = {}
        for product_id, event_type, _, _ in self.recent:
            if event_type != "purchase":
                seen.setdefault(product_id)
        return list(seen)

    def as_cached(self) -> bytes:
        """The local-memory cache's entry (JSON text: cheaper to copy than a pickled structure)."""
        return orjson.dumps({"r": self.recent, "c": self.cart, "b": self.bought})

    @classmethod
    def from_cached(cls, value) -> "Activity":
        if not isinstance(value, bytes):
            return cls()
        value = orjson.loads(value)
        return cls(recent=[tuple(entry) for entry in value["r"]], cart=value["c"], bought=value["b"])

    @classmethod
    def from_redis(cls, recent: list, meta: list, cart: list, bought: list) -> "Activity":
        """From `_READ`'s reply (flat lists of Redis's bytes)."""
        about = dict(zip(meta[::2], meta[1::2], strict=True))
        entries = []
        for entry, ts in zip(recent[::2], recent[1::2], strict=True):
            kind, _, product_id = entry.decode().partition(SEPARATOR)
            arrival, _, session = about.get(entry, _NO_META).decode().partition(SEPARATOR)
            entries.append((float(ts), int(arrival), product_id, kind, session))
        entries.sort(reverse=True)
        return cls(
            recent=[(product_id, kind, ts, session) for ts, _, product_id, kind, session in entries],
            cart=[p.decode() for p in cart],
            bought=[p.decode() for p in bought],
        )


def activity_key(shop_id: int, visitor_id: str) -> str:
    """The visitor's cache entry (on Redis, the stem of their four keys)."""
    return f"rt:{shop_id}:{visitor_id}"


def read_with_activity(keys: list[str], *, shop_id: int, visitor_id: str) -> tuple[dict, Activity]:
    """`cache.get_many(keys)` and the visitor's activity, in one cache round trip."""
    if not visitor_id:
        return (cache.get_many(keys) if keys else {}), Activity()
    key = activity_key(shop_id, visitor_id)
    if batch_cache.redis_client() is None:
        values = cache.get_many([*keys, key])
        return values, Activity.from_cached(values.pop(key, None))
    values, reply = batch_cache.read_many_and_run(keys, _READ, [key], [])
    return values, Activity.from_redis(*reply)


def read_activity(*, shop: Shop, visitor_id: str) -> Activity:
    return read_with_activity([], shop_id=shop.id, visitor_id=visitor_id)[1]


def activity_change(*, shop: Shop, events: list[dict]) -> batch_cache.AtomicChange | None:
    """The change that folds newly stored events (validated dicts: visitor_id, session_id, type,
    product_id, items, ts) into their visitors' activity; None when no event is tracked."""
    by_visitor: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event.get("type") in TRACKED and event.get("visitor_id"):
            by_visitor[event["visitor_id"]].append(event)
    if not by_visitor:
        return None
    steps_of = {activity_key(shop.id, visitor): _steps(events) for visitor, events in by_visitor.items()}
    keys, args = [], [TTL_SECONDS, RECENT_MAX, CART_MAX, BOUGHT_MAX]
    arrival = time.time_ns() // 1000  # microseconds: exact as a sorted set's score
    for key, steps in steps_of.items():
        keys.append(key)
        args.append(len(steps))
        for step in steps:
            arrival += 1
            args += (*step, arrival)
    return batch_cache.AtomicChange(
        script=_FOLD, keys=keys, args=args, locally=lambda: _fold_locally(steps_of)
    )


def forget_activity(*, shop: Shop, visitor_id: str) -> None:
    """Erase a visitor's real-time activity (privacy erasure)."""
    key = activity_key(shop.id, visitor_id)
    cache.delete_many([key, *(key + part for part in PARTS)])


def _steps(events: list[dict]) -> list[tuple[str, str, float, str]]:
    """A visitor's events as the fold's steps (kind, product id, epoch seconds, session), by time."""
    steps = []
    for event in sorted(events, key=lambda e: e["ts"]):
        ts = event["ts"].timestamp()
        session = event.get("session_id") or ""
        if event["type"] == "purchase":
            for line in event.get("items") or []:
                if line.get("product_id"):
                    steps.append(("purchase", line["product_id"], ts, session))
            steps.append(("checkout", "", ts, session))
        else:
            steps.append((event["type"], event["product_id"], ts, session))
    return steps


def _fold_locally(steps_of: dict[str, list]) -> None:
    for key, steps in steps_of.items():
        activity = Activity.from_cached(cache.get(key))
        _fold(activity, steps)
        cache.set(key, activity.as_cached(), timeout=TTL_SECONDS)


def _fold(activity: Activity, steps: list[tuple[str, str, float, str]]) -> None:
    """What `_FOLD` does on Redis, on an `Activity`."""
    recent: list[tuple] = []
    cart, bought = list(activity.cart), list(activity.bought)
    for kind, product_id, ts, session in steps:
        if kind == "remove_from_cart":
            cart = [p for p in cart if p != product_id]
        elif kind == "checkout":
            cart = []
        else:
            recent.append((product_id, kind, ts, session))
            if kind == "add_to_cart":
                cart = [p for p in cart if p != product_id] + [product_id]
            elif kind == "purchase":
                bought = [p for p in bought if p != product_id] + [product_id]
    # Newest first, one entry per (product, type): batches may arrive out of order. On equal times the
    # later event (in the batch, or the batch itself) counts as newer, so the sort must be stable.
    recent = recent[::-1] + list(activity.recent)
    recent.sort(key=lambda entry: entry[2], reverse=True)
    unique: dict[tuple[str, str], tuple] = {}
    for entry in recent:
        unique.setdefault((entry[0], entry[1]), entry)
    activity.recent = list(unique.values())[:RECENT_MAX]
    activity.cart = cart[-CART_MAX:]
    activity.bought = bought[-BOUGHT_MAX:]
