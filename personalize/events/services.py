"""Storing what shoppers did: event batches, orders, visitors; export and erasure."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from personalize.analytics.live import notify_collected, watch_key
from personalize.analytics.models import RangeStats, VisitorDay
from personalize.events.bulk import Then, insert_rows
from personalize.events.models import Event, Order, OrderLine, Visitor
from personalize.events.validation import validate_event
from personalize.lib import cache as batch_cache
from personalize.recommend.models import ErasedUser
from personalize.recommend.realtime import activity_change, forget_activity
from personalize.recommend.store import erased_user_hash, users_erased
from personalize.shops.models import Shop

# A visitor row is refreshed at most this often; last_seen is accurate to this.
VISITOR_TOUCH_SECONDS = 300
# A freshly written visitor is cached with their customer id, or this when they have none: Redis
# keeps integers as plain numbers, read back without unpickling (most visitors, 50 a batch).
ANONYMOUS = 0


@dataclass
class CollectResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class OrderIn:
    order_id: str
    revenue: Decimal
    ts: datetime
    lines: list[dict]  # [{product_id, quantity, price}]
    visitor_id: str = ""
    customer_id: str = ""
    currency: str = ""


@dataclass
class PreparedBatch:
    """A validated batch, not stored yet: what `store_events` needs, and the cache keys it reads
    (which the collect view fetches in the same round trip as the rate limit)."""

    shop: Shop
    now: datetime
    result: CollectResult
    events: list[dict]  # the valid events, one per event_id
    cache_keys: list[str]


def record_events(*, shop: Shop, batch: list, received_at: datetime | None = None) -> CollectResult:
    """Validate and store a snippet batch; each event is stored at most once per shop.

    Bad events are reported one by one and the good ones kept. The batch is written with a constant
    number of queries, whatever its size: on PostgreSQL one statement in autocommit (events and
    visitors) unless it holds purchases, which add their order and order-line inserts in one
    transaction.
    """
    prepared = prepare_events(shop=shop, batch=batch, received_at=received_at)
    if not prepared.events:
        return prepared.result
    return store_events(prepared, cached=_read_cache(prepared.cache_keys))


def prepare_events(*, shop: Shop, batch: list, received_at: datetime | None = None) -> PreparedBatch:
    """Validate a batch: rejected events with their reasons in `result`, the good ones in `events`."""
    now = received_at or timezone.now()
    result = CollectResult()
    skew = timedelta(seconds=settings.PZ_MAX_CLOCK_SKEW_SECONDS)
    properties_max_bytes = settings.PZ_PROPERTIES_MAX_BYTES
    valid: dict[uuid.UUID, dict] = {}
    for index, raw in enumerate(batch):
        event, errors = validate_event(raw, now=now, max_skew=skew, properties_max_bytes=properties_max_bytes)
        if errors:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            result.rejected.append(
                {
                    "index": index,
                    "event_id": event_id if isinstance(event_id, str) else None,
                    "errors": errors,
                }
            )
        elif event["event_id"] in valid:
            result.duplicates += 1  # the same event twice in one batch
        else:
            if event["ts"] is None:
                event["ts"] = now
            valid[event["event_id"]] = event
    events = list(valid.values())
    keys: list[str] = []
    if events:
        # Which visitors were touched lately, whether a dashboard watches the shop, and the session
        # state of visitors whose events came without a session.
        visitors = {e["visitor_id"]: None for e in events}
        keys = [_visitor_cache_key(shop, v) for v in visitors]
        keys.append(watch_key(shop.id))
        keys += {_session_cache_key(shop, e["visitor_id"]): None for e in events if not e["session_id"]}
    return PreparedBatch(shop=shop, now=now, result=result, events=events, cache_keys=keys)


def store_events(prepared: PreparedBatch, *, cached: dict | None) -> CollectResult:
    """Store a prepared batch. `cached`: the values of its `cache_keys`, or None when the cache is
    down: the batch is stored all the same (sessions derived afresh, every visitor row written) and
    only the real-time state (sessions, visitor freshness, activity) is not kept."""
    shop, events, now, result = prepared.shop, prepared.events, prepared.now, prepared.result
    sessions = _derive_sessions(shop, events, state=cached or {})
    visitor_rows, fresh = _visitor_rows(shop, events, fresh=cached or {})
    rows = [_event_row(shop, event, now) for event in events]
    touch = Then(
        Visitor,
        visitor_rows,
        conflict=("shop_id", "visitor_id"),
        link="visitor_id",
        on_conflict_set=_VISITOR_UPSERT,
    )

    def insert_events() -> set:
        inserted = insert_rows(
            Event,
            rows,
            conflict=("shop_id", "event_id"),
            returning=("event_id",),
            then=touch,
            relaxed_commit=True,
        )
        return {event_id for (event_id,) in inserted}

    if connection.vendor == "postgresql" and not any(e["type"] == "purchase" for e in events):
        # One statement in autocommit: no BEGIN / COMMIT round trips. Answered means stored.
        stored = insert_events()
        new_events = [e for e in events if e["event_id"] in stored]
    else:
        with transaction.atomic():
            stored = insert_events()
            new_events = [e for e in events if e["event_id"] in stored]
            purchases = [e for e in new_events if e["type"] == "purchase"]
            if purchases:
                record_orders(shop=shop, orders=[_order_from_event(e) for e in purchases], source="event")

    # The visitors written are those with a new event (the statement skipped the others).
    written = {e["visitor_id"] for e in new_events}
    touched = {
        _visitor_cache_key(shop, r["visitor_id"]): r["customer_id"]
        or fresh.get(_visitor_cache_key(shop, r["visitor_id"]))
        or ANONYMOUS
        for r in visitor_rows
        if r["visitor_id"] in written
    }
    idle = settings.PZ_SESSION_IDLE_SECONDS
    activity = activity_change(shop=shop, events=new_events)
    # With the cache down (cached None) what it would keep is lost; the batch is stored all the same.
    if cached is not None and connection.in_atomic_block:  # visitors are fresh once the caller commits
        _remember((sessions, idle), change=activity)
        transaction.on_commit(lambda: _remember((touched, VISITOR_TOUCH_SECONDS)))
    elif cached is not None:  # committed already: one cache round trip for all three
        _remember((sessions, idle), (touched, VISITOR_TOUCH_SECONDS), change=activity)
    # The live feed (never raises); with the cache down, whether anyone watches is unknown: no one.
    watched = cached is not None and bool(cached.get(watch_key(shop.id)))
    notify_collected(shop=shop, count=len(stored), watched=watched)
    result.accepted = len(stored)
    result.duplicates += len(events) - len(stored)
    return result


def record_orders(*, shop: Shop, orders: list[OrderIn], source: str, merge_lines: bool = False) -> set[str]:
    """Store orders; an order counts once per shop however often it is sent. Returns the new order ids.

    With merge_lines (history imports, where rows sharing an order_id are the lines of one order and
    the caller guarantees each line is new), lines of an existing order are added to it.
    """
    by_id: dict[str, OrderIn] = {}
    for order in orders:
        known = by_id.get(order.order_id)
        if known is None:
            by_id[order.order_id] = order
        elif merge_lines:
            known.lines.extend(order.lines)
            known.revenue += order.revenue
    rows = [
        {
            "shop_id": shop.id,
            "order_id": o.order_id,
            "visitor_id": o.visitor_id,
            "customer_id": o.customer_id,
            "revenue": o.revenue,
            "currency": o.currency,
            "ts": o.ts,
            "source": source,
            "created_at": timezone.now(),
        }
        for o in by_id.values()
    ]
    stored = insert_rows(
        Order,
        rows,
        conflict=("shop_id", "order_id"),
        returning=("id", "order_id"),
        on_conflict_set="revenue = t.revenue + excluded.revenue" if merge_lines else "",
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                shop=shop,
                order_id=pk,
                product_id=line["product_id"],
                quantity=line["quantity"],
                price=line["price"],
            )
            for pk, order_id in stored
            for line in by_id[order_id].lines
        ],
        batch_size=5000,
    )
    return {order_id for _, order_id in stored}


def _model_users(shop: Shop, visitor_id: str) -> set[str]:
    """The user ids a trained model may know a visitor by: theirs, and every customer id they
    identified as or ordered under (recommend.training's "v:…" and "c:…")."""
    customers = set()
    for rows in (Event.objects, Order.objects, Visitor.objects):
        found = rows.for_shop(shop).filter(visitor_id=visitor_id).exclude(customer_id="")
        customers.update(found.values_list("customer_id", flat=True).distinct())
    return {"v:" + visitor_id} | {"c:" + customer for customer in customers}


def _event_row(shop: Shop, event: dict, now: datetime) -> dict:
    row = {"shop_id": shop.id, "received_at": now}
    row.update(event)
    return row


def _order_from_event(event: dict) -> OrderIn:
    return OrderIn(
        order_id=event["order_id"],
        revenue=event["revenue"] or Decimal(0),
        ts=event["ts"],
        lines=[dict(line) for line in event["items"]],
        visitor_id=event["visitor_id"],
        customer_id=event["customer_id"],
        currency=event["currency"],
    )


def _read_cache(keys: list[str]) -> dict | None:
    """The batch's cache reads in one round trip; None when the cache is down."""
    return batch_cache.attempt(lambda: batch_cache.read_many(keys))


def _remember(*groups: tuple[dict, int | None], change: batch_cache.AtomicChange | None = None) -> None:
    """batch_cache.set_many after the batch is stored: a cache failure then loses only real-time
    state, never the answer."""
    batch_cache.attempt(lambda: batch_cache.set_many(*groups, change=change))


def _visitor_cache_key(shop: Shop, visitor_id: str) -> str:
    return f"vis:{shop.id}:{visitor_id}"


def _session_cache_key(shop: Shop, visitor_id: str) -> str:
    return f"sess:{shop.id}:{visitor_id}"


def _derive_sessions(shop: Shop, events: list[dict], state: dict) -> dict:
    """Give events that came without a session_id the visitor's current one (30 min idle rule).
    `state`: the session keys read already. Returns the session state to store."""
    missing = [e for e in events if not e["session_id"]]
    if not missing:
        return {}
    idle = settings.PZ_SESSION_IDLE_SECONDS
    keys = {_session_cache_key(shop, e["visitor_id"]) for e in missing}
    state = {k: state[k] for k in keys if k in state}
    for event in sorted(missing, key=lambda e: e["ts"]):
        key = _session_cache_key(shop, event["visitor_id"])
        ts = event["ts"].timestamp()
        current = state.get(key)
        if current is None or abs(ts - current[1]) > idle:
            current = ["s-" + uuid.uuid4().hex, ts]
        current[1] = max(current[1], ts)
        state[key] = current
        event["session_id"] = current[0]
    return {k: state[k] for k in keys}


_VISITOR_UPSERT = (
    "last_seen = CASE WHEN excluded.last_seen > t.last_seen THEN excluded.last_seen ELSE t.last_seen END, "
    "first_seen = CASE WHEN excluded.first_seen < t.first_seen THEN excluded.first_seen ELSE t.first_seen END, "
    "customer_id = CASE WHEN excluded.customer_id <> '' THEN excluded.customer_id ELSE t.customer_id END"
)


def _visitor_rows(shop: Shop, events: list[dict], fresh: dict) -> tuple[list[dict], dict]:
    """The batch's visitor rows to upsert (first/last seen, customer id from identify), skipping the
    ones refreshed in the last few minutes whose customer id did not change, sorted by visitor id
    (concurrent upserts then lock rows in one order). `fresh`: the cache read already. Returns the
    rows and the freshness values read."""
    latest: dict[str, dict] = {}
    for event in events:
        seen = latest.get(event["visitor_id"])
        if seen is None:
            latest[event["visitor_id"]] = {
                "first": event["ts"],
                "last": event["ts"],
                "customer": event["customer_id"],
            }
            continue
        seen["first"] = min(seen["first"], event["ts"])
        seen["last"] = max(seen["last"], event["ts"])
        seen["customer"] = event["customer_id"] or seen["customer"]
    cache_keys = {_visitor_cache_key(shop, v): v for v in sorted(latest)}
    rows = [
        {
            "shop_id": shop.id,
            "visitor_id": v,
            "customer_id": seen["customer"],
            "first_seen": seen["first"],
            "last_seen": seen["last"],
        }
        for key, v in cache_keys.items()
        for seen in (latest[v],)
        if key not in fresh or (seen["customer"] and seen["customer"] != fresh[key])
    ]
    return rows, fresh


def export_visitor(*, shop: Shop, visitor_id: str) -> dict | None:
    """Everything stored about one visitor, or None when nothing is."""
    visitor = Visitor.objects.for_shop(shop).filter(visitor_id=visitor_id).first()
    events = list(
        Event.objects.for_shop(shop)
        .filter(visitor_id=visitor_id)
        .order_by("ts", "id")
        .values(
            "event_id",
            "type",
            "ts",
            "received_at",
            "session_id",
            "customer_id",
            "url",
            "referrer",
            "product_id",
            "quantity",
            "price",
            "currency",
            "order_id",
            "revenue",
            "items",
            "query",
            "rec_id",
            "campaign_id",
            "properties",
        )
    )
    orders = list(
        Order.objects.for_shop(shop).filter(visitor_id=visitor_id).prefetch_related("lines").order_by("ts")
    )
    days = list(
        VisitorDay.objects.for_shop(shop)
        .filter(visitor_id=visitor_id)
        .order_by("day")
        .values("day", "events", "orders", "revenue")
    )
    if visitor is None and not events and not orders and not days:
        return None
    return {
        "visitor_id": visitor_id,
        "customer_id": visitor.customer_id if visitor else "",
        "first_seen": visitor.first_seen if visitor else None,
        "last_seen": visitor.last_seen if visitor else None,
        "events": events,
        "orders": [
            {
                "order_id": o.order_id,
                "revenue": o.revenue,
                "currency": o.currency,
                "ts": o.ts,
                "source": o.source,
                "items": [
                    {"product_id": li.product_id, "quantity": li.quantity, "price": li.price}
                    for li in o.lines.all()
                ],
            }
            for o in orders
        ],
        "analytics_days": days,
    }


@transaction.atomic
def erase_visitor(*, shop: Shop, visitor_id: str) -> dict | None:
    """Delete a visitor's events, profile and analytics days; their orders stay as anonymous sales,
    so revenue totals do not change. The active model stops using what it learnt of them, and of
    the customer ids they identified as or ordered under, until a version trained without it
    replaces it. None when
    nothing was stored about them."""
    users = _model_users(shop, visitor_id)
    events, _ = Event.objects.for_shop(shop).filter(visitor_id=visitor_id).delete()
    visitors, _ = Visitor.objects.for_shop(shop).filter(visitor_id=visitor_id).delete()
    orders = Order.objects.for_shop(shop).filter(visitor_id=visitor_id).update(visitor_id="", customer_id="")
    days = list(VisitorDay.objects.for_shop(shop).filter(visitor_id=visitor_id).values_list("day", flat=True))
    if not (events or visitors or orders or days):
        return None
    if days:
        VisitorDay.objects.for_shop(shop).filter(visitor_id=visitor_id).delete()
        # the snapshots of ranges over those days summed this visitor in; the report then sums afresh
        RangeStats.objects.for_shop(shop).filter(start__lte=max(days), end__gte=min(days)).delete()
    ErasedUser.objects.bulk_create(
        [ErasedUser(shop=shop, user_hash=erased_user_hash(user)) for user in sorted(users)]
    )
    transaction.on_commit(lambda: users_erased(shop.id))
    cache.delete_many([_session_cache_key(shop, visitor_id), _visitor_cache_key(shop, visitor_id)])
    forget_activity(shop=shop, visitor_id=visitor_id)
    return {
        "events_deleted": events,
        "profile_deleted": bool(visitors),
        "orders_anonymized": orders,
        "analytics_days_deleted": len(days),
    }
