"""Training a shop's model version: data, fit, offline evaluation, artifacts, activation.

Entry points: `request_training` (queue one, at most one per shop at a time) and `train_version`
(the Celery task's body, also run in-process by `manage.py train`).
"""

import contextlib
import fcntl
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FloatField
from django.db.models.functions import Cast, Extract
from django.utils import timezone

from personalize.catalog.models import Product
from personalize.events.models import Event, OrderLine, Visitor
from personalize.recommend import artifacts as artifact_files
from personalize.recommend import engine, evaluation
from personalize.recommend.features import feature_matrix, price_edges
from personalize.recommend.models import ModelVersion, RecommenderConfig
from personalize.shops.models import Shop

log = logging.getLogger(__name__)

INTERACTION_TYPES = ("product_view", "add_to_cart", "rec_click")
TRENDING_HALF_LIFE_DAYS = 7.0
TOP_N = 100
# The most recently active users (at most this many, within this many days of the data's end) get a
# precomputed top-N; scoring all 50k items for every user of a big shop cost more than the whole fit.
TOP_N_ACTIVE_DAYS = 14.0
TOP_N_MAX_USERS = 20_000
# The newest share of the data window held out to evaluate a version before it may serve.
HOLDOUT_FRACTION = 0.1
FOLD_DAYS = 31.0
COMBINE = "max"
# A new version may be this much worse than the active one's recorded NDCG and still replace it:
# the data moved on, and the hold-outs differ.
ACTIVE_TOLERANCE = 0.9
STALE_AFTER = timedelta(hours=6)


@dataclass
class Interactions:
    """One shop's interactions as parallel arrays (one entry per event or order line)."""

    user_keys: list[str]  # "c:<customer>" or "v:<visitor>"
    item_ids: list[str]  # product ids, index order of `items`
    users: np.ndarray  # (n,) int32 index into user_keys
    items: np.ndarray  # (n,) int32 index into item_ids
    weights: np.ndarray  # (n,) float32 type weight, before decay
    ts: np.ndarray  # (n,) float64 epoch seconds
    baskets: np.ndarray  # (n,) int64 basket id (order) or -1

    @property
    def size(self) -> int:
        return int(self.users.size)


def model_dir() -> Path:
    return Path(settings.PZ_MODEL_DIR)


# --- queueing -------------------------------------------------------------------------------------


def request_training(*, shop: Shop, reason: str) -> ModelVersion | None:
    """Queue a training for `shop` unless one is already queued or running; returns the new version."""
    from personalize.recommend.tasks import train_version_task

    with transaction.atomic():
        # Serialize concurrent requests for the same shop (SQLite serializes every writer anyway).
        Shop.objects.select_for_update().filter(id=shop.id).first()
        pending = ModelVersion.objects.for_shop(shop).filter(
            status__in=[ModelVersion.QUEUED, ModelVersion.TRAINING]
        )
        for version in pending:
            if timezone.now() - (version.started_at or version.created_at) < STALE_AFTER:
                return None
            _finish(version, ModelVersion.FAILED, error="abandoned: no worker finished it")
        version = ModelVersion.objects.create(shop=shop, reason=reason)
        transaction.on_commit(lambda: train_version_task.delay(version.id))
    return version


@contextlib.contextmanager
def training_lock(shop_id: int):
    """Held while a shop trains; yields False when another process holds it.

    PostgreSQL: a session advisory lock. Elsewhere: an OS file lock. Both vanish with the process
    that held them, so a killed worker never leaves a shop locked.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [7301, shop_id])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [7301, shop_id])
        return
    lock_dir = Path(settings.VAR_DIR) / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"train-{shop_id}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ShopBusy(Exception):
    """Another training of the same shop holds the lock."""


def train_version(version_id: int) -> ModelVersion:
    """Train a queued version. Idempotent: a finished version is left alone; a version whose worker
    died mid-way is trained again under the same id."""
    # Unscoped on purpose: the id was queued by request_training, and the row names its own shop.
    version = ModelVersion.objects.select_related("shop").get(id=version_id)
    if version.status not in (ModelVersion.QUEUED, ModelVersion.TRAINING):
        return version
    with training_lock(version.shop_id) as acquired:
        if not acquired:
            raise ShopBusy(f"shop {version.shop_id} is training")
        version.status = ModelVersion.TRAINING
        version.started_at = timezone.now()
        version.attempts += 1
        version.save(update_fields=["status", "started_at", "attempts"])
        try:
            _train(version)
        except Exception:
            log.exception("training of model version %s failed", version.id)
            _finish(version, ModelVersion.FAILED, error=traceback.format_exc()[-4000:])
    return version


# --- the pipeline ---------------------------------------------------------------------------------


def _train(version: ModelVersion) -> None:
    shop = version.shop
    config = RecommenderConfig.for_shop(shop)
    started = time.monotonic()
    data = load_interactions(shop=shop, config=config)
    products = list(
        Product.objects.for_shop(shop).values("product_id", "title", "categories", "brand", "tags", "price")
    )
    item_ids, item_products = _item_axis(data, products)
    edges = price_edges([float(p["price"]) if p["price"] is not None else None for p in products])
    features, vocabulary = feature_matrix(item_products, edges)
    seconds = {"load": time.monotonic() - started}
    mark = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.monotonic()
        seconds[stage] = round(now - mark, 2)
        mark = now

    version.n_users, version.n_items, version.n_interactions = len(data.user_keys), len(item_ids), data.size
    if data.size:
        version.data_start = datetime.fromtimestamp(float(data.ts.min()), tz=UTC)
        version.data_end = datetime.fromtimestamp(float(data.ts.max()), tz=UTC)

    if data.size < 20 or len(data.user_keys) < 3:
        version.train_seconds = time.monotonic() - started
        _finish(
            version,
            ModelVersion.REJECTED,
            decision="Not enough interactions yet to learn from; the shop "
            "serves trending and newest products until it has them.",
        )
        return

    # 1. Offline evaluation on a temporal hold-out: fit on the older data, score the newest.
    cutoff = float(np.quantile(data.ts, 1 - HOLDOUT_FRACTION))
    train_mask = data.ts < cutoff
    train = _matrix(data, config, mask=train_mask, n_items=len(item_ids))
    later = _matrix(data, config, mask=~train_mask, n_items=len(item_ids), decay=False)
    # The blend (factor / neighbour / popularity weights) is chosen on validation folds: windows
    # counted back from the data's end (`fold_windows`). The candidate's are the ones that end before
    # the hold-out, so the hold-out above stays an honest test of that choice.
    windows = _fold_windows(data)
    before_cutoff = [w for w in windows if w[1] <= cutoff][:2]
    scored = dict(
        zip(
            before_cutoff,
            engine.score_folds(_folds(data, config, before_cutoff, len(item_ids)), features),
            strict=True,
        )
    )
    candidate = engine.fit(
        train, features, algorithm="auto", validation=list(scored.values()), num_threads=2, cold_start=False
    )
    metrics = {
        "model": evaluation.evaluate(_recommender(candidate, train), train, later, k=10),
        "popularity": evaluation.evaluate(evaluation.most_popular(train), train, later, k=10),
        "holdout": {"cutoff": datetime.fromtimestamp(cutoff, tz=UTC).isoformat()},
    }
    seconds["candidate_folds"] = round(sum(fold.seconds for fold in scored.values()), 2)
    lap("candidate")

    # 2. The published model: the same procedure on all the data, the blend chosen again on the two
    # newest windows (the evaluation above judged the procedure, not one blend: on seasonal data the
    # older folds' choice lost ta_feng's 1.0 x popularity, 0.0520 against 0.0599). A window the
    # candidate was chosen on is not scored again, and one that starts at the cutoff is the hold-out,
    # whose models are the candidate's own.
    published = []
    for window in windows[:2]:
        if window not in scored and window[0] == cutoff:
            scored[window] = engine.score_fold(candidate, train, later)
        elif window not in scored:
            (scored[window],) = engine.score_folds(_folds(data, config, [window], len(item_ids)), features)
        published.append(scored[window])
    everything = _matrix(data, config, mask=None, n_items=len(item_ids))
    model = engine.fit(everything, features, algorithm="auto", validation=published, num_threads=2)
    model.params["evaluated_blend"] = candidate.blend
    model.params["price_edges"] = edges
    model.params["validation_windows"] = {
        "candidate": [_window_dates(w) for w in before_cutoff],
        "published": [_window_dates(w) for w in windows[:2]],
    }
    lap("published")
    bought_together, lift = engine.co_purchase(_baskets(data, len(item_ids)), k=20)
    trending, trending_score = _trending(data, len(item_ids))
    # Candidates for recently active users (the others get theirs from their history's neighbours at
    # request time); with buy-again on (exclude_purchased off) their own items stay in.
    recent = _recent_users(data, days=TOP_N_ACTIVE_DAYS, limit=TOP_N_MAX_USERS)
    top_n = np.full((len(data.user_keys), TOP_N), -1, dtype=np.int32)
    top_n[recent] = engine.top_n(
        model, recent, TOP_N, exclude=everything if config.exclude_purchased else None, history=everything
    )
    lap("bought_together_trending_top_n")
    names = np.array(sorted(vocabulary, key=vocabulary.get))
    path = Path(str(version.shop_id)) / f"{version.id}.npz"
    artifact_files.save(
        model_dir() / path,
        artifact_files.Artifacts(
            model=model,
            item_ids=np.array(item_ids),
            user_ids=np.array(data.user_keys),
            top_n=top_n,
            bought_together=bought_together,
            bought_together_lift=lift,
            trending=trending,
            trending_score=trending_score,
            feature_names=names,
            user_bought=_purchases(data, len(item_ids)),
            user_history=everything,
        ),
    )

    lap("artifacts")
    seconds["load"] = round(seconds["load"], 2)
    model.params["stage_seconds"] = seconds
    version.algorithm = model.algorithm
    version.params = _jsonable(model.params)
    version.metrics = metrics
    version.artifact = str(path)
    version.train_seconds = time.monotonic() - started
    activate, decision = _decide(shop, metrics)
    if activate:
        version.decision = decision
        activate_model_version(shop=shop, version=version)
    else:
        _finish(version, ModelVersion.REJECTED, decision=decision)


def _decide(shop: Shop, metrics: dict) -> tuple[bool, str]:
    ndcg, pop = metrics["model"]["ndcg"], metrics["popularity"]["ndcg"]
    if metrics["model"]["users"] == 0:
        return False, "No shopper in the hold-out period had earlier history: nothing to evaluate on yet."
    if ndcg <= pop:
        return False, f"NDCG@10 {ndcg:.4f} does not beat popularity ({pop:.4f}) on the hold-out."
    active = ModelVersion.objects.for_shop(shop).active().first()
    if active is not None:
        active_ndcg = active.metrics.get("model", {}).get("ndcg", 0)
        if ndcg < ACTIVE_TOLERANCE * active_ndcg:
            return (
                False,
                f"NDCG@10 {ndcg:.4f} is clearly worse than the active version {active.id} ({active_ndcg:.4f}).",
            )
    return (
        True,
        f"NDCG@10 {ndcg:.4f} beats popularity ({pop:.4f}) by {ndcg / pop if pop else float('inf'):.2f}x.",
    )


def activate_model_version(*, shop: Shop, version: ModelVersion) -> None:
    """Make `version` the one serving, atomically: there is never a moment with two or none."""
    from personalize.recommend.store import announce_active_version

    with transaction.atomic():
        ModelVersion.objects.for_shop(shop).active().exclude(id=version.id).update(
            status=ModelVersion.RETIRED
        )
        version.status = ModelVersion.ACTIVE
        version.activated_at = version.finished_at = timezone.now()
        version.save()
        transaction.on_commit(lambda: announce_active_version(shop.id, version.id))


def _finish(version: ModelVersion, status: str, *, error: str = "", decision: str = "") -> None:
    version.status = status
    version.error = error or version.error
    version.decision = decision or version.decision
    version.finished_at = timezone.now()
    version.save()


# --- data -----------------------------------------------------------------------------------------


def load_interactions(*, shop: Shop, config: RecommenderConfig) -> Interactions:
    """Views, carts and recommendation clicks from events, purchases from order lines (never from
    purchase events too, which would count them twice). A visitor linked to a customer is that customer."""
    customer_of = dict(
        Visitor.objects.for_shop(shop).exclude(customer_id="").values_list("visitor_id", "customer_id")
    )
    type_weight = {
        "product_view": config.weight_view,
        "add_to_cart": config.weight_cart,
        "rec_click": config.weight_click,
    }
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    users, items, weights, stamps, baskets = [], [], [], [], []

    def add(visitor_id: str, customer_id: str, product_id: str, weight: float, ts, basket: int) -> None:
        customer = customer_id or customer_of.get(visitor_id, "")
        key = f"c:{customer}" if customer else f"v:{visitor_id}"
        if not product_id or key in ("v:", "c:"):
            return
        users.append(user_index.setdefault(key, len(user_index)))
        items.append(item_index.setdefault(product_id, len(item_index)))
        weights.append(weight)
        stamps.append(ts if isinstance(ts, float) else ts.timestamp())
        baskets.append(basket)

    events = (
        Event.objects.for_shop(shop)
        .filter(type__in=INTERACTION_TYPES)
        .exclude(product_id="")
        .annotate(epoch=_epoch("ts"))
        .values_list("visitor_id", "customer_id", "product_id", "type", "epoch")
    )
    for visitor_id, customer_id, product_id, event_type, ts in _rows(events):
        add(visitor_id, customer_id, product_id, type_weight[event_type], ts, -1)
    lines = (
        OrderLine.objects.for_shop(shop)
        .annotate(epoch=_epoch("order__ts"))
        .values_list("order__visitor_id", "order__customer_id", "product_id", "epoch", "order_id")
    )
    for visitor_id, customer_id, product_id, ts, order_pk in _rows(lines):
        add(visitor_id, customer_id, product_id, config.weight_purchase, ts, order_pk)

    return Interactions(
        user_keys=list(user_index),
        item_ids=list(item_index),
        users=np.array(users, dtype=np.int32),
        items=np.array(items, dtype=np.int32),
        weights=np.array(weights, dtype=np.float32),
        ts=np.array(stamps, dtype=np.float64),
        baskets=np.array(baskets, dtype=np.int64),
    )


def _rows(queryset, chunk_size: int = 20_000):
    """A values_list queryset's rows, streamed. On PostgreSQL straight from the driver: the values are
    plain strings and numbers already, and Django's per-value converters cost seconds a million rows."""
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _epoch(field: str):
    """Epoch seconds, computed by PostgreSQL (parsing a million timestamps in Python took seconds);
    elsewhere the datetime itself, converted by `load_interactions`."""
    if connection.vendor == "postgresql":
        return Cast(Extract(field, "epoch"), FloatField())
    return F(field)


def _item_axis(data: Interactions, products: list[dict]) -> tuple[list[str], list[dict]]:
    """Items seen in interactions first (their indices are the data's), then catalog-only products."""
    by_id = {p["product_id"]: p for p in products}
    seen = set(data.item_ids)
    item_ids = list(data.item_ids) + [pid for pid in by_id if pid not in seen]
    return item_ids, [by_id.get(pid, {"product_id": pid}) for pid in item_ids]


def _matrix(
    data: Interactions, config: RecommenderConfig, *, mask, n_items: int, decay: bool = True
) -> sp.csr_matrix:
    """(n_users, n_items) weights decayed to the data's end; a (user, item) pair weighs its strongest
    event ("max" beat "sum" on the benchmark folds: ten views of a product are not ten purchases)."""
    users, items, weights, ts = data.users, data.items, data.weights, data.ts
    if mask is not None:
        users, items, weights, ts = users[mask], items[mask], weights[mask], ts[mask]
    return engine.interaction_matrix(
        users,
        items,
        weights,
        ts,
        shape=(len(data.user_keys), n_items),
        now=float(ts.max()) if ts.size else 0.0,
        half_life_days=config.half_life_days if decay else None,
        combine=COMBINE,
    )


def _fold_windows(data: Interactions) -> list[tuple[float, float]]:
    """The validation windows, newest first, counted back from the data's end: a month each when there
    are about three months of data, else a tenth of the events each (then the newest is the hold-out)."""
    span_days = float(data.ts.max() - data.ts.min()) / 86400 if data.size else 0.0
    return engine.fold_windows(
        data.ts,
        n_folds=4,
        fold_days=FOLD_DAYS if span_days >= 2.5 * FOLD_DAYS else None,
        fold_fraction=HOLDOUT_FRACTION,
    )


def _window_dates(window: tuple[float, float]) -> list[str]:
    return [datetime.fromtimestamp(t, tz=UTC).isoformat() for t in window]


def _folds(data: Interactions, config: RecommenderConfig, windows: list, n_items: int) -> list:
    """A (train, holdout) validation fold per [start, end) window, train decayed to the window's start."""
    return engine.temporal_folds(
        data.users,
        data.items,
        data.weights,
        data.ts,
        shape=(len(data.user_keys), n_items),
        half_life_days=config.half_life_days,
        windows=windows,
        combine=COMBINE,
    )


def _baskets(data: Interactions, n_items: int) -> sp.csr_matrix:
    """(n_orders, n_items) binary: which products were bought together."""
    in_basket = data.baskets >= 0
    _, rows = np.unique(data.baskets[in_basket], return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, data.items[in_basket])),
        shape=(int(rows.max()) + 1 if rows.size else 0, n_items),
    )
    matrix.data[:] = 1
    return matrix


def _purchases(data: Interactions, n_items: int) -> sp.csr_matrix:
    """(n_users, n_items) 1 where the user bought the item: serving hides these when the shop asks."""
    bought = data.baskets >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(bought.sum()), dtype=np.float32), (data.users[bought], data.items[bought])),
        shape=(len(data.user_keys), n_items),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _trending(data: Interactions, n_items: int, keep: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Items by time-decayed interaction weight (a week's half-life), best first."""
    age_days = (data.ts.max() - data.ts) / 86400
    score = np.bincount(
        data.items,
        weights=data.weights * np.power(0.5, age_days / TRENDING_HALF_LIFE_DAYS),
        minlength=n_items,
    ).astype(np.float32)
    order = np.argsort(-score, kind="stable")[:keep]
    order = order[score[order] > 0]
    return order.astype(np.int32), score[order]


def _recent_users(data: Interactions, days: float, limit: int) -> np.ndarray:
    """Rows of the (at most `limit`) latest users with an interaction in the last `days`, ascending."""
    if not data.size:
        return np.zeros(0, dtype=np.int64)
    last = np.full(len(data.user_keys), -np.inf)
    np.maximum.at(last, data.users, data.ts)
    recent = np.flatnonzero(last >= data.ts.max() - days * 86400)
    if recent.size > limit:
        recent = recent[np.argsort(-last[recent], kind="stable")[:limit]]
    return np.sort(recent).astype(np.int64)


def _recommender(model: engine.Model, train: sp.csr_matrix):
    def recommend(user_rows: np.ndarray, k: int = 10) -> np.ndarray:
        return engine.top_n(model, user_rows, k, exclude=train)

    return recommend


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
