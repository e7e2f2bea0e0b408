"""Answering a recommendation request: cheap candidates, a re-rank by the active model, business
rules, and a fixed fallback chain so every shop with products in stock gets a non-empty answer.

Everything here reads the in-memory state of `store` and the visitor's real-time activity, fetched
in one cache round trip; nothing queries the database per item.

Each widget is a chain of tiers; a tier proposes catalog indices best first, and later tiers only
fill what earlier ones left short, skipping what is already listed or excluded:

    for_you          personal -> similar to the visitor's items -> trending -> newest
    similar          similar to product_id -> trending -> newest
    bought_together  bought with product_id -> similar to it -> trending -> newest
    trending         trending -> newest
    recently_viewed  the visitor's viewed items -> personal -> similar -> trending -> newest
    cart             bought with the cart -> personal -> similar to the cart -> trending -> newest
"""

import logging
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np
from django.conf import settings

from personalize.catalog.models import CATEGORY_SEPARATOR
from personalize.recommend import engine, store
from personalize.recommend.models import WIDGETS
from personalize.recommend.realtime import Activity
from personalize.recommend.rules import FEATURED, Pick, ShopRules, arrange, is_holdout
from personalize.shops.models import Shop

log = logging.getLogger(__name__)

# Candidates scanned per tier and the pool handed to the rules (more when a diversity cap may drop many).
TRENDING_CANDIDATES = 200
NEW_CANDIDATES = 200
HISTORY_ITEMS = 20
NEIGHBOURS_OF = 10
# A session item this old counts half in the real-time user vector.
HISTORY_HALF_LIFE_SECONDS = 3 * 24 * 3600
# The current session's items count this much more than older ones.
SESSION_BOOST = 2.0
# How much a known user's session moves their trained vector: items / (items + SESSION_PRIOR).
SESSION_PRIOR = 2.0
# for_you lifts a candidate by INTENT_LIFT x its category's share of the current session, over the
# candidates' rank percentiles: the categories that hold the whole session come first (in the
# model's order), however the blend weighs popularity against three fresh views.
INTENT_LIFT = 1.0
# Popular products of each of the session's categories added to for_you's candidates.
INTENT_CANDIDATES = 50
INTENT_CATEGORIES = 3

VERBS = {"product_view": "viewed", "rec_click": "viewed", "add_to_cart": "added", "purchase": "bought"}
VERB_RANK = {"viewed": 0, "added": 1, "bought": 2}


@dataclass
class Query:
    widget: str
    visitor_id: str = ""
    session_id: str = ""
    customer_id: str = ""
    product_id: str = ""
    cart: list[str] = field(default_factory=list)
    limit: int = 8
    category: str = ""
    min_price: float | None = None
    max_price: float | None = None


@dataclass
class Context:
    """Everything one request knows, in catalog indices."""

    shop: Shop
    query: Query
    view: store.View
    activity: Activity
    allowed: np.ndarray  # (n,) bool: may be listed (stock, filters, exclusions, not listed yet)
    anchor: int | None  # the product_id's index
    cart: list[int]
    history: list[int]  # the visitor's items, newest first, each once
    history_weights: np.ndarray  # (len(history),) float
    history_verbs: dict[int, str]
    soft: np.ndarray  # (m,) indices kept out of for_you unless nothing else is left
    intent: dict[int, float]  # the current session's category codes -> their share of its weight

    @property
    def catalog(self) -> store.Catalog:
        return self.view.catalog

    @property
    def ranker(self) -> store.Ranker | None:
        return self.view.ranker


def recommend(*, shop: Shop, query: Query, rules: ShopRules | None = None) -> dict:
    """The answer of GET /api/v1/recommendations (see API.md).

    rules: in place of the shop's stored ones (the dashboard's preview of unsaved settings).
    """
    view, activity = store.shop_view(shop, visitor_id=query.visitor_id)
    if rules is not None:
        view = replace(view, rules=rules)
    rules = view.rules
    holdout = is_holdout(shop_id=shop.id, visitor_id=query.visitor_id, share=rules.holdout_share)
    chain = CHAINS[query.widget]
    if holdout:
        chain = [] if rules.holdout_answer == "none" else [_trending, _newest]
    ctx = _context(shop, query, view, activity)
    try:
        picks = _fill(ctx, chain, query.limit) if chain else []
    except Exception:
        # A broken model must not break the shop's pages: answer as if it had none.
        log.exception("ranking with model version %s of shop %s failed", view.version_id, shop.id)
        view = replace(view, ranker=None, version_id=None)
        ctx = _context(shop, query, view, activity)
        picks = _fill(ctx, chain, query.limit) if chain else []
    if picks:
        picks = arrange(
            picks,
            limit=query.limit,
            rules=rules.for_widget(query.widget),
            product_id_of=ctx.catalog.product_ids.__getitem__,
            category_of=ctx.catalog.paths.__getitem__,
            pinnable_product=lambda pid: _pinnable(ctx, pid),
            best_in_category=lambda value, taken: _best_in_category(ctx, value, taken),
            max_per_category=rules.max_per_category,
        )
    return {
        "rec_id": uuid.uuid4().hex,
        "widget": query.widget,
        "model_version": view.version_id,
        "holdout": holdout,
        "items": [_item(ctx, pick) for pick in picks],
    }


# --- the request's context -------------------------------------------------------------------------


def _context(shop: Shop, query: Query, view: store.View, activity: Activity) -> Context:
    catalog, rules = view.catalog, view.rules
    index = catalog.index
    allowed = catalog.in_stock.copy()
    if query.category:
        allowed &= catalog.category_mask(query.category)
    if query.min_price is not None:
        allowed &= catalog.price >= query.min_price
    if query.max_price is not None:
        allowed &= catalog.price <= query.max_price

    anchor = index.get(query.product_id) if query.product_id else None
    cart_ids = query.cart or activity.cart[::-1]
    cart = [index[p] for p in dict.fromkeys(cart_ids) if p in index]
    excluded = [anchor] if anchor is not None else []
    excluded += cart
    # What sits in the session's cart is never recommended, whichever widget asks.
    excluded += [index[p] for p in activity.cart if p in index]
    if rules.exclude_purchased:
        excluded += [index[p] for p in activity.bought if p in index]
        excluded += _bought_before(view.ranker, query)
    if excluded:
        allowed[np.array(excluded, dtype=np.int64)] = False

    now = time.time()
    weights: dict[int, float] = {}
    verbs: dict[int, str] = {}
    for product_id, event_type, ts, session_id in activity.recent:
        i = index.get(product_id)
        if i is None:
            continue
        if i not in weights and len(weights) >= HISTORY_ITEMS:
            continue
        weight = rules.type_weights.get(event_type, 1.0) * 0.5 ** (
            max(now - ts, 0) / HISTORY_HALF_LIFE_SECONDS
        )
        if query.session_id and session_id == query.session_id:
            weight *= SESSION_BOOST
        weights[i] = weights.get(i, 0.0) + weight
        # The strongest verb names the reason: bought > added > viewed.
        verb = VERBS.get(event_type, "viewed")
        if VERB_RANK[verb] > VERB_RANK[verbs.get(i, "viewed")] or i not in verbs:
            verbs[i] = verb
    history = list(weights)
    soft = np.array([i for i in history if i != anchor], dtype=np.int64)
    intent = _session_intent(catalog, activity, query, rules.type_weights, now)
    return Context(
        shop=shop,
        query=query,
        view=view,
        activity=activity,
        allowed=allowed,
        anchor=anchor,
        cart=cart,
        history=history,
        history_weights=np.array([weights[i] for i in history], dtype=np.float32),
        history_verbs=verbs,
        soft=soft,
        intent=intent,
    )


def _session_intent(
    catalog: store.Catalog, activity: Activity, query: Query, type_weights: dict, now: float
) -> dict[int, float]:
    """What the shopper is after right now: the categories of the current session's items (the
    query's session, or without one the last idle period's items) and their share of its weight."""
    idle = settings.PZ_SESSION_IDLE_SECONDS
    weights: dict[int, float] = defaultdict(float)
    for product_id, event_type, ts, session_id in activity.recent:
        if event_type == "purchase":
            continue
        current = session_id == query.session_id if query.session_id else now - ts <= idle
        i = catalog.index.get(product_id)
        if current and i is not None and catalog.paths[i]:
            weights[int(catalog.cat_codes[i])] += type_weights.get(event_type, 1.0)
    total = sum(weights.values())
    return {code: weight / total for code, weight in weights.items()} if total > 0 else {}


# --- filling a list through the chain --------------------------------------------------------------


class _Pool:
    """Picks in order, each item once, only allowed ones."""

    def __init__(self, ctx: Context, target: int):
        self.allowed = ctx.allowed.copy()
        self.target = target
        self.picks: list[Pick] = []

    @property
    def full(self) -> bool:
        return len(self.picks) >= self.target

    def add(self, indices: np.ndarray, scores: np.ndarray | None, reason) -> None:
        """`reason`: a value for every item, or a function of the position in `indices`."""
        if self.full or not len(indices):
            return
        indices = np.asarray(indices, dtype=np.int64)
        ok = self.allowed[indices]
        positions = np.flatnonzero(ok)
        for p in positions:
            i = int(indices[p])
            if not self.allowed[i]:
                continue  # listed twice in `indices`
            self.allowed[i] = False
            score = float(scores[p]) if scores is not None else 0.0
            self.picks.append(Pick(i, score, reason(int(p)) if callable(reason) else reason))
            if self.full:
                return


def _target(ctx: Context, limit: int) -> int:
    spare = max(limit * 3, limit + 24)
    if ctx.view.rules.max_per_category:
        spare = max(spare, limit * 12)
    return min(spare, 600)


def _fill(ctx: Context, chain: list, limit: int) -> list[Pick]:
    pool = _Pool(ctx, _target(ctx, limit))
    if chain[0] is _personal and ctx.soft.size:
        # for_you: what the visitor just looked at is shown only when nothing else is left.
        pool.allowed[ctx.soft] = False
    for tier in chain:
        if pool.full:
            break
        tier(ctx, pool)
    if chain[0] is _personal and ctx.soft.size and len(pool.picks) < limit:
        pool.allowed[ctx.soft] = ctx.allowed[ctx.soft]
        pool.add(ctx.soft, None, ("viewed", None))
    return pool.picks


# --- tiers -----------------------------------------------------------------------------------------


def _personal(ctx: Context, pool: _Pool) -> None:
    """Re-rank cheap candidates by the model, with the session folded into the user vector."""
    ranker = ctx.ranker
    if ranker is None:
        return
    user_row = _user_row(ctx)
    history, weights = ctx.history, ctx.history_weights
    if ctx.query.widget == "cart" and ctx.cart:
        # The cart widget's shopper is about to buy these: they weigh like carted items.
        cart_weight = ctx.view.rules.type_weights.get("add_to_cart", 4.0)
        in_cart = set(ctx.cart)
        rest = np.array([n for n, i in enumerate(ctx.history) if i not in in_cart], dtype=np.int64)
        history = ctx.cart + [ctx.history[n] for n in rest.tolist()]
        weights = np.concatenate([np.full(len(ctx.cart), cart_weight, dtype=np.float32), weights[rest]])
    hist_items, hist_weights, hist_catalog = _model_history(ctx, history, weights)
    if user_row is None and not hist_items.size:
        return
    session_items, session_weights = hist_items, hist_weights
    if user_row is not None:
        # A known shopper's neighbour part reads their trained history too, the session first.
        past_items, past_weights, past_catalog = _trained_history(ctx, user_row)
        hist_items = np.concatenate([hist_items, past_items])
        hist_weights = np.concatenate([hist_weights, past_weights])
        if not hist_catalog.size:
            hist_catalog = past_catalog
    candidates = [ranker.trending[:TRENDING_CANDIDATES], ranker.new_products[:NEW_CANDIDATES]]
    if user_row is not None:
        candidates.append(_trained_user_top(ctx, user_row, past_items, past_weights))
    candidates.extend(_neighbours(ranker, hist_items[:NEIGHBOURS_OF]))
    if ctx.cart:
        candidates.extend(_bought_with_lists(ctx, ctx.cart)[0])
    intent = ctx.intent if ctx.query.widget == "for_you" else {}
    candidates.extend(_intent_candidates(ctx, pool, intent))
    candidates = _unique(np.concatenate(candidates).astype(np.int64))
    candidates = candidates[pool.allowed[candidates] & (ranker.item_of[candidates] >= 0)]
    if not candidates.size:
        return
    user_vec = _user_vector(ranker, user_row, session_items, session_weights)
    scores = np.asarray(
        engine.score(ranker.model, user_vec, hist_items, hist_weights, ranker.item_of[candidates]),
        dtype=np.float64,
    )
    if intent:
        scores = _lift_intent(ctx, intent, candidates, scores)
    order = np.argsort(-scores, kind="stable")
    candidates, scores = candidates[order], scores[order]
    if hist_catalog.size:
        because = _closest(ranker, candidates[: pool.target], hist_catalog)
        reasons = [("because", int(b)) for b in because]
        pool.add(candidates, scores, lambda p: reasons[p] if p < len(reasons) else ("for_you", None))
    else:
        pool.add(candidates, scores, ("for_you", None))


def _intent_candidates(ctx: Context, pool: _Pool, intent: dict[int, float]) -> list[np.ndarray]:
    """The most trending allowed products of the session's main categories."""
    codes = sorted(intent, key=intent.__getitem__, reverse=True)[:INTENT_CATEGORIES]
    found = []
    for code in codes:
        top = ctx.ranker.trending_in(ctx.catalog, code, 4 * INTENT_CANDIDATES)
        found.append(top[pool.allowed[top]][:INTENT_CANDIDATES])
    return found


def _lift_intent(
    ctx: Context, intent: dict[int, float], candidates: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """Scores as rank percentiles among the candidates (the worst 0, the best just under 1: raw scores
    can crowd the top within a hair of each other), plus INTENT_LIFT x the session's interest in each
    candidate's category: its category's share of the session, plus 1/4 of its department's (the
    top level), so a session across Home > Candles and Home > Decor lifts both, and the rest of Home
    a little."""
    percentile = np.empty(scores.size, dtype=np.float64)
    percentile[np.argsort(scores, kind="stable")] = np.arange(scores.size) / scores.size  # in [0, 1)
    departments = ctx.catalog.departments
    share = np.zeros(departments.size or 1, dtype=np.float64)
    department_share = np.zeros(int(departments.max(initial=0)) + 1, dtype=np.float64)
    for code, value in intent.items():
        share[code] += value
        department_share[departments[code]] += 0.25 * value
    share[: departments.size] += department_share[departments]
    return percentile + INTENT_LIFT * share[ctx.catalog.cat_codes[candidates]]


def _similar_to_history(ctx: Context, pool: _Pool) -> None:
    if ctx.history:
        _similar(ctx, pool, ctx.history[:NEIGHBOURS_OF], ctx.history_weights[:NEIGHBOURS_OF])


def _similar_to_anchor(ctx: Context, pool: _Pool) -> None:
    if ctx.anchor is not None:
        _similar(ctx, pool, [ctx.anchor], np.ones(1, dtype=np.float32))


def _similar_to_cart(ctx: Context, pool: _Pool) -> None:
    if ctx.cart:
        _similar(ctx, pool, ctx.cart, np.ones(len(ctx.cart), dtype=np.float32))


def _similar(ctx: Context, pool: _Pool, anchors: list[int], weights: np.ndarray) -> None:
    """Items like `anchors`: by the model's item vectors, then by shared category."""
    ranker = ctx.ranker
    if ranker is not None:
        items, item_weights, anchors_known = _model_history(ctx, anchors, weights)
        if items.size:
            candidates = _neighbours(ranker, items)
            candidates.append(ranker.new_products[: store.NEW_ITEMS_MAX])
            if np.any(items >= ranker.n_trained):
                # A product new since training has no precomputed neighbours: scan everything.
                candidates.append(np.arange(len(ctx.catalog), dtype=np.int64))
            candidates = _unique(np.concatenate(candidates).astype(np.int64))
            candidates = candidates[pool.allowed[candidates] & (ranker.item_of[candidates] >= 0)]
            if candidates.size:
                user_vec = engine.user_vector(ranker.model, items, item_weights)
                scores = np.asarray(
                    engine.score(ranker.model, user_vec, items, item_weights, ranker.item_of[candidates]),
                    dtype=np.float64,
                )
                order = np.argsort(-scores, kind="stable")[: pool.target]
                candidates, scores = candidates[order], scores[order]
                if anchors_known.size == 1:
                    pool.add(candidates, scores, ("similar", int(anchors_known[0])))
                else:
                    because = _closest(ranker, candidates, anchors_known)
                    pool.add(candidates, scores, lambda p: ("similar", int(because[p])))
    # Without a model (or past its neighbours): the same category, then the parent category.
    catalog = ctx.catalog
    for depth in (0, 1):
        for anchor in anchors:
            if pool.full:
                return
            path = catalog.paths[anchor]
            if depth:
                path = path.rpartition(CATEGORY_SEPARATOR)[0]
            if not path:
                continue
            pool.add(_popular_first(ctx, path, pool.allowed), None, ("similar", anchor))


def _bought_with_anchor(ctx: Context, pool: _Pool) -> None:
    if ctx.anchor is not None:
        _bought_with(ctx, pool, [ctx.anchor])


def _bought_with_cart(ctx: Context, pool: _Pool) -> None:
    if ctx.cart:
        _bought_with(ctx, pool, ctx.cart)


def _bought_with(ctx: Context, pool: _Pool, anchors: list[int]) -> None:
    """Products bought in the same orders, by lift (summed over several anchors)."""
    lists, lifts, sources = _bought_with_lists(ctx, anchors)
    if not lists:
        return
    items = np.concatenate(lists)
    lift = np.concatenate(lifts)
    source = np.concatenate(sources)
    total: dict[int, float] = {}
    best: dict[int, tuple[float, int]] = {}
    for i, value, src in zip(items.tolist(), lift.tolist(), source.tolist(), strict=True):
        total[i] = total.get(i, 0.0) + value
        if value > best.get(i, (-math.inf, 0))[0]:
            best[i] = (value, src)
    ranked = sorted(total, key=lambda i: -total[i])
    pool.add(
        np.array(ranked, dtype=np.int64),
        np.array([total[i] for i in ranked]),
        lambda p: ("bought_with", best[ranked[p]][1]),
    )


def _bought_with_lists(ctx: Context, anchors: list[int]) -> tuple[list, list, list]:
    ranker = ctx.ranker
    if ranker is None or not ranker.artifacts.bought_together.size:
        return [], [], []
    lists, lifts, sources = [], [], []
    together = ranker.artifacts.bought_together
    lift = ranker.artifacts.bought_together_lift
    for anchor in anchors:
        m = int(ranker.item_of[anchor])
        if m < 0 or m >= together.shape[0]:
            continue
        row = together[m]
        keep = (row >= 0) & (row < ranker.product_of.size)
        mapped = ranker.product_of[row[keep]]
        ok = mapped >= 0
        lists.append(mapped[ok].astype(np.int64))
        lifts.append(np.asarray(lift[m][keep][ok], dtype=np.float64))
        sources.append(np.full(int(ok.sum()), anchor, dtype=np.int64))
    return lists, lifts, sources


def _trending(ctx: Context, pool: _Pool) -> None:
    ranker = ctx.ranker
    if ranker is not None and ranker.trending.size:
        items, scores = ranker.trending, ranker.trending_score
    else:
        items, scores = store.event_trending(ctx.shop, ctx.view)
    pool.add(items, scores, lambda p: ("trending", int(items[p])))


def _newest(ctx: Context, pool: _Pool) -> None:
    newest = ctx.catalog.newest
    pool.add(newest[pool.allowed[newest]], None, ("new", None))


def _recently_viewed(ctx: Context, pool: _Pool) -> None:
    index = ctx.catalog.index
    viewed = [index[p] for p in ctx.activity.viewed() if p in index]
    if viewed:
        pool.add(np.array(viewed, dtype=np.int64), None, ("recent", None))


CHAINS = {
    "for_you": [_personal, _similar_to_history, _trending, _newest],
    "similar": [_similar_to_anchor, _trending, _newest],
    "bought_together": [_bought_with_anchor, _similar_to_anchor, _trending, _newest],
    "trending": [_trending, _newest],
    "recently_viewed": [_recently_viewed, _personal, _similar_to_history, _trending, _newest],
    "cart": [_bought_with_cart, _personal, _similar_to_cart, _trending, _newest],
}
assert set(CHAINS) == set(WIDGETS)


# --- model helpers -----------------------------------------------------------------------------------


def _user_row(ctx: Context) -> int | None:
    return _known_user(ctx.ranker, ctx.query)


def _known_user(ranker: store.Ranker, query: Query) -> int | None:
    """The shopper's row in the trained model: as a customer first, else as a visitor."""
    if query.customer_id:
        row = ranker.user_row("c:" + query.customer_id)
        if row is not None:
            return row
    if query.visitor_id:
        return ranker.user_row("v:" + query.visitor_id)
    return None


def _bought_before(ranker: store.Ranker | None, query: Query) -> list[int]:
    """Catalog indices of what a known shopper bought in the trained history (the real-time
    activity only covers recent days)."""
    if ranker is None or ranker.artifacts.user_bought is None:
        return []
    row = _known_user(ranker, query)
    bought = ranker.artifacts.user_bought
    if row is None or row >= bought.shape[0]:
        return []
    return ranker.products(
        bought.indices[bought.indptr[row] : bought.indptr[row + 1]].astype(np.int64)
    ).tolist()


def _model_history(
    ctx: Context, items: list[int], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalog indices -> (model items, their weights, the catalog indices kept), for items with a vector."""
    if not items:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=np.float32), empty
    catalog_items = np.asarray(items, dtype=np.int64)
    model_items = ctx.ranker.item_of[catalog_items].astype(np.int64)
    known = model_items >= 0
    return model_items[known], np.asarray(weights, dtype=np.float32)[known], catalog_items[known]


def _trained_history(ctx: Context, user_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A known user's items at training time: (model items, weights, catalog items of the strongest).

    Their verbs ("bought" or "viewed") join the request's, for the reasons of the answer."""
    ranker = ctx.ranker
    history = ranker.artifacts.user_history
    if history is None or user_row >= history.shape[0]:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=np.float32), empty
    lo, hi = history.indptr[user_row], history.indptr[user_row + 1]
    items = history.indices[lo:hi].astype(np.int64)
    weights = history.data[lo:hi].astype(np.float32)
    order = np.argsort(-weights, kind="stable")
    items, weights = items[order], weights[order]
    catalog = ranker.product_of[items]
    shown = catalog[catalog >= 0][:NEIGHBOURS_OF]
    bought = ranker.artifacts.user_bought
    bought_items = (
        set()
        if bought is None
        else set(bought.indices[bought.indptr[user_row] : bought.indptr[user_row + 1]])
    )
    for model_item, catalog_item in zip(items.tolist(), catalog.tolist(), strict=True):
        if catalog_item >= 0:
            ctx.history_verbs.setdefault(catalog_item, "bought" if model_item in bought_items else "viewed")
    return items, weights, shown


def _trained_user_top(
    ctx: Context, user_row: int, past_items: np.ndarray, past_weights: np.ndarray
) -> np.ndarray:
    """Catalog indices of a known user's top-N: precomputed for users active lately, else ranked now
    over every item from their trained vector and history, as training would have."""
    ranker = ctx.ranker
    top_n = ranker.artifacts.top_n
    if user_row < top_n.shape[0] and top_n.shape[1] and top_n[user_row, 0] >= 0:
        return ranker.products(top_n[user_row])
    model = ranker.model
    if user_row >= model.user_vectors.shape[0]:
        return np.zeros(0, dtype=np.int64)
    exclude_purchased = ctx.view.rules.exclude_purchased

    def rank() -> np.ndarray:
        scores = engine.score(model, model.user_vectors[user_row], past_items, past_weights)
        if exclude_purchased and past_items.size:
            scores[past_items] = -np.inf  # as training's top-N leaves out what they already had
        n = min(max(top_n.shape[1], 1), scores.size)
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return best[np.isfinite(scores[best])]

    return ranker.products(ranker.ranked_user((user_row, exclude_purchased), rank))


def _user_vector(
    ranker: store.Ranker, user_row: int | None, items: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The session folded into a user vector; for a known user, blended with the trained one."""
    session = engine.user_vector(ranker.model, items, weights) if items.size else None
    if user_row is None:
        return session
    trained = np.asarray(ranker.model.user_vectors[user_row], dtype=np.float32)
    if session is None:
        return trained
    share = items.size / (items.size + SESSION_PRIOR)
    return (1 - share) * trained + share * _scaled_like(session, trained)


def _scaled_like(vector: np.ndarray, reference: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector * (float(np.linalg.norm(reference)) / norm) if norm > 0 else vector


def _neighbours(ranker: store.Ranker, model_items: np.ndarray) -> list[np.ndarray]:
    """Catalog indices of the precomputed neighbours of trained items."""
    similar, lists = ranker.model.similar, ranker.neighbour_lists
    if similar is None or lists is None:
        return []
    indptr = similar.indptr
    return [
        ranker.products(lists[indptr[m] : indptr[m + 1]])
        for m in model_items.tolist()
        if 0 <= m < ranker.n_trained
    ]


def _closest(ranker: store.Ranker, candidates: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For each candidate, the source item (catalog index) whose vector it is closest to."""
    if sources.size == 1 or not candidates.size:
        return np.full(candidates.size, sources[0] if sources.size else -1, dtype=np.int64)
    vectors = ranker.model.item_vectors
    a = _normalized(vectors[ranker.item_of[candidates]])
    b = _normalized(vectors[ranker.item_of[sources]])
    return sources[np.argmax(a @ b.T, axis=1)]


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return matrix / norms


def _unique(indices: np.ndarray) -> np.ndarray:
    """Distinct values in first-seen order."""
    if not indices.size:
        return indices
    _, first = np.unique(indices, return_index=True)
    return indices[np.sort(first)]


def _popular_first(ctx: Context, category: str, allowed: np.ndarray) -> np.ndarray:
    """The allowed products of `category` or below it, trending ones first, then newest."""
    ranker = ctx.ranker
    if ranker is not None and ranker.trending.size:
        ranked = ranker.popular_in(ctx.catalog, category)
    else:
        ranked = store.event_popular_in(ctx.shop, ctx.view, category)
    return ranked[allowed[ranked]]


# --- rules' look-ups and the answer ----------------------------------------------------------------


def _pinnable(ctx: Context, product_id: str) -> int | None:
    i = ctx.catalog.index.get(product_id)
    return i if i is not None and ctx.allowed[i] else None


def _best_in_category(ctx: Context, value: str, taken: set[int]) -> int | None:
    for i in _popular_first(ctx, value, ctx.allowed).tolist():
        if i not in taken:
            return i
    return None


def _leaf(path: str) -> str:
    return path.rpartition(CATEGORY_SEPARATOR)[2]


def _reason(ctx: Context, reason) -> str:
    if isinstance(reason, str):
        return reason
    kind, ref = reason
    titles = ctx.catalog.titles
    if kind == "because":
        verb = ctx.history_verbs.get(ref, "viewed")
        if verb == "added":
            return f"Because you added {titles[ref]} to your cart"
        return f"Because you {verb} {titles[ref]}"
    if kind == "similar":
        return f"Similar to {titles[ref]}"
    if kind == "bought_with":
        return f"Bought together with {titles[ref]}"
    if kind == "trending":
        category = _leaf(ctx.catalog.paths[ref])
        return f"Trending in {category}" if category else "Popular right now"
    if kind == "new":
        return "New in"
    if kind == "recent":
        return "Recently viewed"
    if kind == "viewed":
        return "You looked at this"
    if kind == "for_you":
        return "Picked for you"
    return FEATURED


def _item(ctx: Context, pick: Pick) -> dict:
    catalog, i = ctx.catalog, pick.index
    price = catalog.price[i]
    return {
        "product_id": catalog.product_ids[i],
        "title": catalog.titles[i],
        "url": catalog.urls[i],
        "image_url": catalog.images[i],
        "price": None if np.isnan(price) else float(price),
        "currency": catalog.currencies[i] or ctx.shop.currency,
        "score": round(float(pick.score), 6),
        "reason": _reason(ctx, pick.reason),
    }
