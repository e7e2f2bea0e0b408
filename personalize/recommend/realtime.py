"""What a visitor just did, kept in the cache so the very next recommendation request reflects it.

One cache entry per shop and visitor holds their recent items (newest first), their cart and what
they bought. The collect path reads it with the batch's other cache keys and writes it back as an
atomic update (`personalize.lib.cache.Update`): two batches of one visitor arriving together both
count. Serving reads it in the same cache round trip as its model and catalog versions.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from django.core.cache import cache

from personalize.lib.cache import Reads, Update
from personalize.shops.models import Shop

RECENT_MAX = 50
CART_MAX = 100
BOUGHT_MAX = 200
# Long enough to span a returning visitor's next visits; every batch renews it.
TTL_SECONDS = 30 * 24 * 3600
TRACKED = frozenset(("product_view", "add_to_cart", "remove_from_cart", "rec_click", "purchase"))


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
        # JSON text, not the cache's pickle: a returning visitor's entry is read and written on every
        # batch, and with orjson a full entry's read, fold and write takes 17 µs instead of 26.
        return orjson.dumps({"r": self.recent, "c": self.cart, "b": self.bought})

    @classmethod
    def from_cached(cls, value) -> "Activity":
        if isinstance(value, bytes):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                return cls()
        if not isinstance(value, dict):  # nothing stored (or a dict, as entries were written before)
            return cls()
        return cls(
            recent=[tuple(entry) for entry in value.get("r", [])],
            cart=list(value.get("c", [])),
            bought=list(value.get("b", [])),
        )


def activity_key(shop_id: int, visitor_id: str) -> str:
    return f"rt:{shop_id}:{visitor_id}"


def read_activity(*, shop: Shop, visitor_id: str) -> Activity:
    if not visitor_id:
        return Activity()
    return Activity.from_cached(cache.get(activity_key(shop.id, visitor_id)))


def activity_keys(*, shop: Shop, events: list[dict]) -> list[str]:
    """The cache keys `remember_events` reads for these events (collect fetches them with its own)."""
    visitors = {e["visitor_id"] for e in events if e.get("type") in TRACKED and e.get("visitor_id")}
    return [activity_key(shop.id, visitor_id) for visitor_id in visitors]


def activity_update(*, shop: Shop, events: list[dict], read: Reads | None) -> Update | None:
    """The update that folds newly stored events (validated dicts: visitor_id, session_id, type,
    product_id, items, ts) into their visitors' activity; None when no event is tracked.
    `read`: the batch's cache reads, holding the `activity_keys` (None: not read)."""
    by_visitor: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event.get("type") in TRACKED and event.get("visitor_id"):
            by_visitor[event["visitor_id"]].append(event)
    if not by_visitor:
        return None
    visitor_of = {activity_key(shop.id, visitor_id): visitor_id for visitor_id in by_visitor}

    def apply(key: str, current) -> dict:
        activity = Activity.from_cached(current)
        _apply(activity, by_visitor[visitor_of[key]])
        return activity.as_cached()

    return Update(keys=list(visitor_of), apply=apply, timeout=TTL_SECONDS, read=read)


def forget_activity(*, shop: Shop, visitor_id: str) -> None:
    """Erase a visitor's real-time activity (privacy erasure)."""
    cache.delete(activity_key(shop.id, visitor_id))


def _apply(activity: Activity, events: list[dict]) -> None:
    recent: list[tuple] = []
    cart = list(activity.cart)
    bought = list(activity.bought)
    for event in sorted(events, key=lambda e: e["ts"]):
        ts = event["ts"].timestamp()
        session = event.get("session_id") or ""
        event_type = event["type"]
        if event_type == "purchase":
            for line in event.get("items") or []:
                product_id = line.get("product_id")
                if product_id:
                    recent.append((product_id, "purchase", ts, session))
                    bought = [p for p in bought if p != product_id] + [product_id]
            # A checkout empties the cart.
            cart = []
        elif event_type == "remove_from_cart":
            cart = [p for p in cart if p != event["product_id"]]
        else:
            recent.append((event["product_id"], event_type, ts, session))
            if event_type == "add_to_cart":
                cart = [p for p in cart if p != event["product_id"]] + [event["product_id"]]
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
