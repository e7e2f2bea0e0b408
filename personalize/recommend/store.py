"""What serving holds in process memory per shop: the active model's arrays, a catalog snapshot and
the shop's rules, loaded lazily, LRU-bounded, and reloaded when the cache says they changed.

One cache round trip per request (`get_many` of the version keys, plus the visitor's real-time
activity) tells whether anything changed; the database is read only when something did:

- `active-model:{shop}` holds the active version id (0 for none). Training calls
  `announce_active_version` on activation; a missing key is re-read from the database.
- `catalog-version:{shop}` changes on every catalog write (`catalog_changed`): the snapshot reloads
  just the rows updated since its last load. `catalog-full:{shop}` changes on deletes: a full reload.
- `rec-rules:{shop}` changes when the config or widget rules change (`rules_changed`).

Products in the catalog but not in the model (they arrived after training) get vectors from their
features at load time, so they can be recommended the same minute.
"""

import gc
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, FloatField, Sum, Value, When
from django.utils import timezone

from personalize.catalog.models import CATEGORY_SEPARATOR, Product
from personalize.events.models import Event, OrderLine
from personalize.lib import cache as batch_cache
from personalize.recommend import artifacts as artifact_files
from personalize.recommend import engine
from personalize.recommend.features import feature_matrix
from personalize.recommend.models import ErasedUser, ModelVersion
from personalize.recommend.realtime import Activity, read_with_activity
from personalize.recommend.rules import ShopRules, load_rules
from personalize.shops.models import Shop

log = logging.getLogger(__name__)

MAX_SHOPS = 32
# Without Redis (the embedded default) the worker's announcements cannot reach the web process's
# local-memory cache, so the web process looks at the database itself, and more often.
_SHARED_CACHE = bool(settings.REDIS_URL)
# A snapshot is rebuilt from scratch this often anyway, to catch writes that bypassed the services.
CATALOG_FULL_RELOAD_SECONDS = 15 * 60 if _SHARED_CACHE else 60
# Rows updated this long before the last load are read again: a transaction may commit late.
CATALOG_DELTA_MARGIN = timedelta(seconds=60)
RULES_RELOAD_SECONDS = 60
# The active-version key expires so that a missed announcement heals itself.
ACTIVE_KEY_SECONDS = 10 * 60 if _SHARED_CACHE else 15
# After a failed artifact load, wait this long before trying the same version again.
MODEL_RETRY_SECONDS = 60
EVENT_TRENDING_SECONDS = 5 * 60
EVENT_TRENDING_DAYS = 14
PURCHASE_TRENDING_WEIGHT = Value(8.0)  # one order line, as the default purchase weight
# For neighbours of items new since training: at most this many of them are scanned.
NEW_ITEMS_MAX = 2000
# Trained users' request-time top-N kept per ranker (100 model indices each: about 0.8 MB per 1,000).
RANKED_USERS_MAX = 5000


def model_dir() -> Path:
    return Path(getattr(settings, "PZ_MODEL_DIR", settings.VAR_DIR / "models"))


def _model_key(shop_id: int) -> str:
    return f"active-model:{shop_id}"


def _catalog_key(shop_id: int) -> str:
    return f"catalog-version:{shop_id}"


def _catalog_full_key(shop_id: int) -> str:
    return f"catalog-full:{shop_id}"


def _rules_key(shop_id: int) -> str:
    return f"rec-rules:{shop_id}"


def _trending_key(shop_id: int) -> str:
    return f"event-trending:{shop_id}"


def _erasures_key(shop_id: int) -> str:
    return f"rec-erasures:{shop_id}"


def erased_user_hash(user_key: str) -> str:
    """What ErasedUser keeps of a model user id ("v:…", "c:…"): enough to recognise it, not to read it."""
    return hashlib.sha256(user_key.encode()).hexdigest()


# --- announcements (called by training, the catalog and the dashboard) -----------------------------


def announce_active_version(shop_id: int, version_id: int | None) -> None:
    """Tell every web process that `version_id` (None: no model) now serves `shop_id`.

    Call it after the activation committed (training does, from transaction.on_commit)."""
    cache.set(_model_key(shop_id), int(version_id or 0), timeout=ACTIVE_KEY_SECONDS)


def catalog_changed(shop_id: int, *, deleted: bool = False) -> None:
    """Products were written (or, with `deleted`, removed): snapshots reload on their next request.

    Call it once the write committed; a snapshot loaded in between would miss the rows until the
    next change or its periodic full reload."""
    token = uuid.uuid4().hex
    values = {_catalog_key(shop_id): token}
    if deleted:
        values[_catalog_full_key(shop_id)] = token
    cache.set_many(values, timeout=None)


def rules_changed(shop_id: int) -> None:
    """The shop's RecommenderConfig or WidgetRules changed (call it once that committed)."""
    cache.set(_rules_key(shop_id), uuid.uuid4().hex, timeout=None)


def users_erased(shop_id: int) -> None:
    """ErasedUser rows were added (call it once they committed): serving stops using their rows."""
    cache.set(_erasures_key(shop_id), uuid.uuid4().hex, timeout=None)


# --- the catalog snapshot ---------------------------------------------------------------------------

_PRODUCT_COLUMNS = (
    "product_id",
    "title",
    "url",
    "image_url",
    "price",
    "currency",
    "category_path",
    "brand",
    "tags",
    "in_stock",
    "created_at",
    "updated_at",
)


@dataclass
class Catalog:
    """A shop's products as parallel columns; a product's position is its catalog index."""

    product_ids: list[str]
    index: dict[str, int]
    titles: list[str]
    urls: list[str]
    images: list[str]
    currencies: list[str]
    paths: list[str]  # 'A > B'
    brands: list[str]
    tags: list[list]
    in_stock: np.ndarray  # (n,) bool
    price: np.ndarray  # (n,) float64, nan when unknown
    created: np.ndarray  # (n,) float64 epoch seconds
    watermark: datetime  # rows updated after this are not in the snapshot yet
    loaded_at: float  # time.monotonic() of the last full load
    # Derived, rebuilt by _derive:
    cat_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    categories: list[str] = field(default_factory=list)
    departments: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # per category code
    newest: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    _category_masks: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.product_ids)

    def category_mask(self, value: str) -> np.ndarray:
        """(n,) bool: products in category `value` or below it."""
        matched = self._category_masks.get(value)
        if matched is None:
            prefix = value + CATEGORY_SEPARATOR
            matched = np.array(
                [c == value or c.startswith(prefix) for c in self.categories] or [False], dtype=bool
            )
            if len(self._category_masks) > 256:
                self._category_masks.clear()
            self._category_masks[value] = matched
        return matched[self.cat_codes] if len(self) else np.zeros(0, dtype=bool)

    def feature_rows(self, indices) -> list[dict]:
        """What features.feature_matrix needs to embed these products."""
        return [
            {
                "title": self.titles[i],
                "categories": [c for c in self.paths[i].split(CATEGORY_SEPARATOR) if c],
                "brand": self.brands[i],
                "tags": self.tags[i],
                "price": None if np.isnan(self.price[i]) else float(self.price[i]),
            }
            for i in indices
        ]


def _column_values(row: dict) -> tuple:
    return (
        row["title"],
        row["url"] or "",
        row["image_url"] or "",
        row["currency"] or "",
        row["category_path"] or "",
        row["brand"] or "",
        row["tags"] if isinstance(row["tags"], list) else [],
        bool(row["in_stock"]),
        float(row["price"]) if row["price"] is not None else np.nan,
        row["created_at"].timestamp(),
    )


def _derive(catalog: Catalog) -> Catalog:
    codes: dict[str, int] = {}
    catalog.cat_codes = np.fromiter(
        (codes.setdefault(p, len(codes)) for p in catalog.paths), dtype=np.int32, count=len(catalog)
    )
    catalog.categories = list(codes)
    tops: dict[str, int] = {}
    catalog.departments = np.array(
        [tops.setdefault(c.split(CATEGORY_SEPARATOR)[0], len(tops)) for c in catalog.categories],
        dtype=np.int32,
    )
    # Newest first; ties (one bulk insert) by catalog position, later rows first.
    catalog.newest = np.lexsort((-np.arange(len(catalog)), -catalog.created)).astype(np.int32)
    catalog._category_masks = {}
    return catalog


def load_catalog(shop: Shop) -> Catalog:
    """The whole catalog of `shop`, in one query."""
    watermark = timezone.now()
    rows = list(Product.objects.for_shop(shop).order_by("id").values(*_PRODUCT_COLUMNS))
    product_ids = [r["product_id"] for r in rows]
    columns = list(zip(*(_column_values(r) for r in rows), strict=True)) or [()] * 10
    catalog = Catalog(
        product_ids=product_ids,
        index={pid: i for i, pid in enumerate(product_ids)},
        titles=list(columns[0]),
        urls=list(columns[1]),
        images=list(columns[2]),
        currencies=list(columns[3]),
        paths=list(columns[4]),
        brands=list(columns[5]),
        tags=list(columns[6]),
        in_stock=np.array(columns[7], dtype=bool),
        price=np.array(columns[8], dtype=np.float64),
        created=np.array(columns[9], dtype=np.float64),
        watermark=watermark,
        loaded_at=time.monotonic(),
    )
    return _derive(catalog)


def refresh_catalog(shop: Shop, old: Catalog) -> tuple[Catalog, list[int]]:
    """A new snapshot with the rows updated since `old` was loaded (one query), and their indices."""
    watermark = timezone.now()
    rows = list(
        Product.objects.for_shop(shop)
        .filter(updated_at__gte=old.watermark - CATALOG_DELTA_MARGIN)
        .order_by("id")
        .values(*_PRODUCT_COLUMNS)
    )
    new = replace(
        old,
        product_ids=list(old.product_ids),
        index=dict(old.index),
        titles=list(old.titles),
        urls=list(old.urls),
        images=list(old.images),
        currencies=list(old.currencies),
        paths=list(old.paths),
        brands=list(old.brands),
        tags=list(old.tags),
        watermark=watermark,
    )
    changed: list[int] = []
    updates: list[tuple[int, tuple]] = []
    for row in rows:
        values = _column_values(row)
        i = new.index.get(row["product_id"])
        if i is None:
            i = len(new.product_ids)
            new.index[row["product_id"]] = i
            new.product_ids.append(row["product_id"])
            for column in (new.titles, new.urls, new.images, new.currencies, new.paths, new.brands, new.tags):
                column.append(None)
        (
            new.titles[i],
            new.urls[i],
            new.images[i],
            new.currencies[i],
            new.paths[i],
            new.brands[i],
            new.tags[i],
        ) = values[:7]
        updates.append((i, values[7:]))
        changed.append(i)
    n = len(new.product_ids)
    new.in_stock = np.resize(old.in_stock, n)
    new.price = np.resize(old.price, n)
    new.created = np.resize(old.created, n)
    for i, (in_stock, price, created) in updates:
        new.in_stock[i], new.price[i], new.created[i] = in_stock, price, created
    return _derive(new), changed


# --- the model, laid over the catalog -------------------------------------------------------------


@dataclass
class Ranker:
    """The active model with its item axis extended by catalog products new since training.

    `model` indices: trained items first, then the appended products. `item_of[c]` is catalog
    index c's model index (-1: none); `product_of[m]` the reverse (-1: no longer in the catalog).
    """

    version_id: int
    artifacts: artifact_files.Artifacts
    model: engine.Model
    item_of: np.ndarray
    product_of: np.ndarray
    n_trained: int
    new_products: np.ndarray  # catalog indices of products with a feature-made vector, newest first
    trending: np.ndarray  # catalog indices, most trending first
    trending_score: np.ndarray
    user_row_of: dict  # user id ("c:…", "v:…") -> their row in the model
    # erased_user_hash of the shoppers erased since this version's training started: rows not to use
    erased: frozenset = frozenset()
    # model.similar's column indices with each row ordered by weight, strongest first (its indptr)
    neighbour_lists: np.ndarray | None = None
    # category code -> its most trending products (catalog indices), filled as requests ask
    trending_by_category: dict = field(default_factory=dict)
    # category value -> its products by trending then newest (catalog indices), filled as requests ask
    popular_by_category: dict = field(default_factory=dict)
    # top-N (model indices) ranked at request time for trained users training did not precompute:
    # a function of this ranker alone, and a shopper's pages ask for it again and again
    ranked_users: OrderedDict = field(default_factory=OrderedDict)
    _ranked_lock: threading.Lock = field(default_factory=threading.Lock)

    def popular_in(self, catalog: Catalog, category: str) -> np.ndarray:
        """The products of `category` or below it, the model's trending first, then the newest
        (this ranker's catalog snapshot)."""
        found = self.popular_by_category.get(category)
        if found is None:
            if len(self.popular_by_category) > 256:
                self.popular_by_category.clear()
            found = self.popular_by_category[category] = trending_then_newest(
                self.trending, catalog, catalog.category_mask(category)
            )
        return found

    def ranked_user(self, key: tuple, rank) -> np.ndarray:
        """`rank()`'s answer for `key`, computed once per ranker (LRU, RANKED_USERS_MAX entries)."""
        with self._ranked_lock:
            found = self.ranked_users.get(key)
            if found is not None:
                self.ranked_users.move_to_end(key)
                return found
        found = rank()
        with self._ranked_lock:
            self.ranked_users[key] = found
            if len(self.ranked_users) > RANKED_USERS_MAX:
                self.ranked_users.popitem(last=False)
        return found

    def trending_in(self, catalog: Catalog, code: int, n: int) -> np.ndarray:
        """`n` products of one category, the most trending first, then the newest (this ranker's
        catalog snapshot; every caller asks the same `n`)."""
        found = self.trending_by_category.get(code)
        if found is None:
            in_category = catalog.cat_codes == code
            found = self.trending_by_category[code] = trending_then_newest(
                self.trending, catalog, in_category
            )[:n]
        return found

    def user_row(self, key: str) -> int | None:
        row = self.user_row_of.get(key)
        if row is not None and self.erased and erased_user_hash(key) in self.erased:
            return None
        return row

    def products(self, model_items: np.ndarray) -> np.ndarray:
        """Model indices (-1 padded) -> catalog indices of the ones still in the catalog."""
        model_items = model_items[(model_items >= 0) & (model_items < self.product_of.size)]
        mapped = self.product_of[model_items]
        return mapped[mapped >= 0]


def trending_then_newest(trending: np.ndarray, catalog: Catalog, mask: np.ndarray) -> np.ndarray:
    """Catalog indices of the products where `mask` (n,): those in `trending` in its order, then the
    rest, newest first."""
    first = trending[mask[trending]].astype(np.int64) if trending.size else np.zeros(0, dtype=np.int64)
    rest = catalog.newest[mask[catalog.newest]].astype(np.int64)
    return np.concatenate([first, rest[~np.isin(rest, first)]])


def _embed(model: engine.Model, features: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    vectors, biases = engine.embed_items(model, features)
    return np.asarray(vectors, dtype=np.float32), np.asarray(biases, dtype=np.float32)


def _resized(matrix, n: int):
    """A square sparse matrix grown to (n, n) with empty rows and columns."""
    if matrix is None:
        return None
    csr = sp.csr_matrix(matrix)
    if csr.shape[0] >= n:
        return csr
    indptr = np.concatenate([csr.indptr, np.full(n - csr.shape[0], csr.indptr[-1], dtype=csr.indptr.dtype)])
    return sp.csr_matrix((csr.data, csr.indices, indptr), shape=(n, n))


def build_ranker(
    version_id: int, art: artifact_files.Artifacts, catalog: Catalog, previous: Ranker | None = None
) -> Ranker:
    """Lay a trained version over a catalog snapshot (vectors for new products from their features).
    `previous`: the ranker this one replaces; what depends on the version alone is taken from it."""
    model = art.model
    n_trained = int(np.asarray(model.item_vectors).shape[0])
    trained_index = {str(pid): m for m, pid in enumerate(art.item_ids.tolist())}
    item_of = np.full(len(catalog), -1, dtype=np.int32)
    product_of = np.full(n_trained, -1, dtype=np.int32)
    for c, pid in enumerate(catalog.product_ids):
        m = trained_index.get(pid)
        if m is not None and m < n_trained:
            item_of[c] = m
            product_of[m] = c
    new = np.flatnonzero(item_of < 0)
    if new.size and model.feature_vectors is not None and art.feature_names.size:
        new = new[np.argsort(-catalog.created[new], kind="stable")]
        vocabulary = {str(name): i for i, name in enumerate(art.feature_names.tolist())}
        edges = list((model.params or {}).get("price_edges") or [])
        features, _ = feature_matrix(catalog.feature_rows(new), edges, vocabulary)
        vectors, biases = _embed(model, features)
        n_all = n_trained + new.size
        model = replace(
            model,
            item_vectors=np.vstack([np.asarray(model.item_vectors, dtype=np.float32), vectors]),
            item_bias=np.concatenate([np.asarray(model.item_bias, dtype=np.float32), biases]),
            similar=_resized(model.similar, n_all),
        )
        item_of[new] = np.arange(n_trained, n_all, dtype=np.int32)
        product_of = np.concatenate([product_of, new.astype(np.int32)])
    else:
        new = np.zeros(0, dtype=np.int32)
    trending_items = np.asarray(art.trending, dtype=np.int64)
    keep = (trending_items >= 0) & (trending_items < n_trained)
    trending_cat = product_of[trending_items[keep]]
    trending_score = np.asarray(art.trending_score, dtype=np.float32)[keep]
    if previous is not None and previous.version_id == version_id:
        user_row_of = previous.user_row_of
    else:  # a dict: searching a sorted array of 100,000 ids took 0.14 ms per request
        user_row_of = {key: row for row, key in enumerate(art.user_ids.tolist())}
    return Ranker(
        version_id=version_id,
        artifacts=art,
        model=model,
        item_of=item_of,
        product_of=product_of,
        n_trained=n_trained,
        new_products=new.astype(np.int32),
        trending=trending_cat[trending_cat >= 0],
        trending_score=trending_score[trending_cat >= 0],
        user_row_of=user_row_of,
        neighbour_lists=_by_weight(model.similar),
    )


def _by_weight(similar: sp.csr_matrix | None) -> np.ndarray | None:
    """The column indices of each row of `similar`, strongest first: sorted once here, not per request."""
    if similar is None:
        return None
    rows = np.repeat(np.arange(similar.shape[0]), np.diff(similar.indptr))
    return similar.indices[np.lexsort((-similar.data, rows))].astype(np.int64)


# --- per-shop state, LRU-bounded ------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A consistent read of one shop's state for one request."""

    catalog: Catalog
    ranker: Ranker | None
    rules: ShopRules
    version_id: int | None


@dataclass
class ShopState:
    """Bookkeeping of one shop; readers only ever take `view`, which is replaced whole."""

    shop_id: int
    view: View | None = None
    catalog_tokens: tuple = (None, None)
    model_token: int | None = None
    version_id: int = 0
    artifacts: artifact_files.Artifacts | None = None
    model_failed_at: float = 0.0
    rules_token: str | None = None
    rules_loaded_at: float = 0.0
    erasures_token: str | None = None
    erased: frozenset = frozenset()
    event_trending: "_EventTrending | None" = None


@dataclass
class _EventTrending:
    """event_trending's list for one catalog snapshot, and what event_popular_in made of it."""

    expires: float  # monotonic
    items: np.ndarray  # catalog indices
    scores: np.ndarray
    catalog: Catalog
    by_category: dict = field(default_factory=dict)  # category -> event_popular_in's answer


_states: "OrderedDict[int, ShopState]" = OrderedDict()
_states_lock = threading.Lock()
_shop_locks: dict[int, threading.Lock] = {}


def forget_loaded_state() -> None:
    """Drop every shop's in-memory state (tests; a process that wants its memory back)."""
    with _states_lock:
        _states.clear()
        _shop_locks.clear()


def _state_and_lock(shop_id: int) -> tuple[ShopState, threading.Lock]:
    with _states_lock:
        state = _states.get(shop_id)
        if state is None:
            state = _states[shop_id] = ShopState(shop_id=shop_id)
            while len(_states) > MAX_SHOPS:
                evicted, _ = _states.popitem(last=False)
                _shop_locks.pop(evicted, None)
        else:
            _states.move_to_end(shop_id)
        lock = _shop_locks.setdefault(shop_id, threading.Lock())
    return state, lock


def _token(values: dict, key: str) -> str:
    """The cache's token for `key`; a missing one (evicted, flushed) is replaced by a new token."""
    value = values.get(key)
    if value is None:
        mine = uuid.uuid4().hex

        def shared() -> str:
            return mine if cache.add(key, mine, timeout=None) else cache.get(key) or mine

        # with the cache down, a token of this process's own until it is back
        value = values[key] = batch_cache.attempt(shared, default=mine)
    return value


def _keys(shop_id: int) -> list[str]:
    return [
        _model_key(shop_id),
        _catalog_full_key(shop_id),
        _catalog_key(shop_id),
        _rules_key(shop_id),
        _erasures_key(shop_id),
    ]


def shop_view(shop: Shop, *, visitor_id: str = "") -> tuple[View, Activity]:
    """The shop's current state, reloading what changed, and the visitor's real-time activity
    (fetched in the same cache round trip). No database query when nothing changed.

    With the cache down, the shop's state as this process last loaded it serves, without the
    session's activity; a process that had not loaded it loads it from the database (tokens of
    its own, replaced once the cache answers again)."""
    state, lock = _state_and_lock(shop.id)
    read = batch_cache.attempt(
        lambda: read_with_activity(_keys(shop.id), shop_id=shop.id, visitor_id=visitor_id)
    )
    if read is None:
        return _state_without_cache(shop, state, lock), Activity()
    values, activity = read
    if not _is_current(state, values):
        with lock:
            if not _is_current(state, values):
                _refresh(shop, state, values)
    return state.view, activity


def _state_without_cache(shop: Shop, state: ShopState, lock: threading.Lock) -> View:
    if state.view is None:
        with lock:
            if state.view is None:
                _refresh(shop, state, {})
    return state.view


def _is_current(state: ShopState, values: dict) -> bool:
    model_key, full_key, delta_key, rules_key, erasures_key = _keys(state.shop_id)
    view = state.view
    now = time.monotonic()
    return (
        view is not None
        and values.get(model_key) is not None
        and values[model_key] == state.model_token
        and (
            state.artifacts is not None
            or not state.version_id
            or now - state.model_failed_at < MODEL_RETRY_SECONDS
        )
        and (values.get(full_key), values.get(delta_key)) == state.catalog_tokens
        and now - view.catalog.loaded_at < CATALOG_FULL_RELOAD_SECONDS
        and values.get(rules_key) is not None
        and values[rules_key] == state.rules_token
        and now - state.rules_loaded_at < RULES_RELOAD_SECONDS
        and values.get(erasures_key) is not None
        and values[erasures_key] == state.erasures_token
    )


def _refresh(shop: Shop, state: ShopState, values: dict) -> None:
    """Reload what changed into a new View. Runs under the shop's lock."""
    model_key, full_key, delta_key, rules_key, erasures_key = _keys(shop.id)
    now = time.monotonic()
    old = state.view

    rules = old.rules if old is not None else None
    rules_token = _token(values, rules_key)
    if (
        rules is None
        or rules_token != state.rules_token
        or now - state.rules_loaded_at >= RULES_RELOAD_SECONDS
    ):
        rules = load_rules(shop=shop)
        state.rules_token, state.rules_loaded_at = rules_token, now

    catalog = old.catalog if old is not None else None
    tokens = (_token(values, full_key), _token(values, delta_key))
    catalog_moved = False
    if (
        catalog is None
        or tokens[0] != state.catalog_tokens[0]
        or now - catalog.loaded_at >= CATALOG_FULL_RELOAD_SECONDS
    ):
        catalog = load_catalog(shop)
        catalog_moved = True
    elif tokens[1] != state.catalog_tokens[1]:
        catalog, _ = refresh_catalog(shop, catalog)
        catalog_moved = True
    state.catalog_tokens = tokens

    model_token = values.get(model_key)
    artifact_path = None
    if model_token is None:
        active = ModelVersion.objects.for_shop(shop).active().values_list("id", "artifact").first()
        model_token, artifact_path = (active[0], active[1]) if active else (0, "")
        found = (model_token, artifact_path)

        def announced() -> tuple:
            # add, not set: an announcement racing with this read wins.
            if cache.add(model_key, model_token, timeout=ACTIVE_KEY_SECONDS):
                return found
            return cache.get(model_key, model_token), None

        # with the cache down, the database's answer serves meanwhile
        model_token, artifact_path = batch_cache.attempt(announced, default=found)
    ranker = old.ranker if old is not None else None
    retry = (
        bool(state.version_id)
        and state.artifacts is None
        and now - state.model_failed_at >= MODEL_RETRY_SECONDS
    )
    model_moved = model_token != state.model_token or retry
    if model_moved:
        state.model_token = model_token
        state.version_id = int(model_token or 0)
        state.artifacts = None
        ranker = None
        if state.version_id:
            state.artifacts = _load_artifacts(shop, state.version_id, artifact_path)
            if state.artifacts is None:
                state.model_failed_at = now
    if state.artifacts is not None and (model_moved or catalog_moved or ranker is None):
        try:
            ranker = build_ranker(state.version_id, state.artifacts, catalog, previous=ranker)
        except Exception:
            log.exception(
                "could not lay model version %s over the catalog of shop %s", state.version_id, shop.id
            )
            ranker = None
    erasures_token = _token(values, erasures_key)
    if ranker is not None:
        if model_moved or erasures_token != state.erasures_token:
            state.erased = _erased_since_training(shop, state.version_id)
        ranker.erased = state.erased
    state.erasures_token = erasures_token
    if catalog_moved:
        state.event_trending = None
    state.view = View(
        catalog=catalog, ranker=ranker, rules=rules, version_id=ranker.version_id if ranker else None
    )
    if catalog_moved or model_moved:
        # A big catalog is a few hundred thousand long-lived objects (a list of tags per product,
        # ...): a full garbage collection walking them paused a worker for 117 ms, at random, on the
        # 50k-product benchmark shop. Frozen, later collections skip them (0.8 ms). The collection
        # first keeps today's garbage out of the frozen set; a reload pays it once.
        gc.collect()
        gc.freeze()


def _erased_since_training(shop: Shop, version_id: int) -> frozenset:
    """The hashes of shoppers erased after `version_id`'s training started (all, if it has no start)."""
    started = (
        ModelVersion.objects.for_shop(shop).filter(id=version_id).values_list("started_at", flat=True).first()
    )
    erased = ErasedUser.objects.for_shop(shop)
    if started is not None:
        erased = erased.filter(erased_at__gte=started)
    return frozenset(erased.values_list("user_hash", flat=True))


def _load_artifacts(
    shop: Shop, version_id: int, artifact_path: str | None
) -> artifact_files.Artifacts | None:
    if artifact_path is None:
        artifact_path = (
            ModelVersion.objects.for_shop(shop)
            .filter(id=version_id)
            .values_list("artifact", flat=True)
            .first()
        )
    if not artifact_path:
        log.warning(
            "model version %s of shop %s has no artifact; serving without a model", version_id, shop.id
        )
        return None
    try:
        return artifact_files.load(model_dir() / artifact_path)
    except Exception:
        log.exception(
            "could not load model version %s of shop %s; serving without a model", version_id, shop.id
        )
        return None


# --- trending without a model ------------------------------------------------------------------------


def event_trending(shop: Shop, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Catalog indices by recent interest (last two weeks of views, clicks and carts, recent days
    counting more), for shops without a trained model. One query, shared through the cache."""
    held = _held_event_trending(shop, view)
    return held.items, held.scores


def event_popular_in(shop: Shop, view: View, category: str) -> np.ndarray:
    """The products of `category` or below it, event_trending's first, then the newest: made once
    per category for as long as that list is held."""
    held = _held_event_trending(shop, view)
    by_category = held.by_category
    found = by_category.get(category)
    if found is None:
        if len(by_category) > 256:
            by_category.clear()
        found = by_category[category] = trending_then_newest(
            held.items, view.catalog, view.catalog.category_mask(category)
        )
    return found


def _held_event_trending(shop: Shop, view: View) -> "_EventTrending":
    state, _ = _state_and_lock(shop.id)
    now = time.monotonic()
    held = state.event_trending
    if held is not None and held.expires > now and held.catalog is view.catalog:
        return held
    # Shared through the cache; with it down each process queries its own, every few minutes.
    ranked = batch_cache.attempt(lambda: cache.get(_trending_key(shop.id)))
    if ranked is None:
        ranked = _query_event_trending(shop)
        batch_cache.attempt(lambda: cache.set(_trending_key(shop.id), ranked, timeout=EVENT_TRENDING_SECONDS))
    index = view.catalog.index
    pairs = [(index[pid], score) for pid, score in ranked if pid in index]
    items = np.array([p[0] for p in pairs], dtype=np.int32)
    scores = np.array([p[1] for p in pairs], dtype=np.float32)
    state.event_trending = held = _EventTrending(now + EVENT_TRENDING_SECONDS, items, scores, view.catalog)
    return held


def _query_event_trending(shop: Shop, keep: int = 500) -> list[tuple[str, float]]:
    """Two grouped queries: interest from events, and order lines (a purchase weighs most)."""
    now = timezone.now()

    def recency(field: str) -> Case:
        return Case(
            When(**{f"{field}__gte": now - timedelta(days=1)}, then=Value(4.0)),
            When(**{f"{field}__gte": now - timedelta(days=3)}, then=Value(2.0)),
            default=Value(1.0),
            output_field=FloatField(),
        )

    type_weight = Case(
        When(type="add_to_cart", then=Value(4.0)),
        When(type="rec_click", then=Value(1.5)),
        default=Value(1.0),
        output_field=FloatField(),
    )
    since = now - timedelta(days=EVENT_TRENDING_DAYS)
    viewed = (
        Event.objects.for_shop(shop)
        .filter(ts__gte=since, type__in=("product_view", "add_to_cart", "rec_click"))
        .exclude(product_id="")
        .values("product_id")
        .annotate(score=Sum(type_weight * recency("ts"), output_field=FloatField()))
        .order_by("-score", "product_id")[:keep]
    )
    bought = (
        OrderLine.objects.for_shop(shop)
        .filter(order__ts__gte=since)
        .values("product_id")
        .annotate(score=Sum(PURCHASE_TRENDING_WEIGHT * recency("order__ts"), output_field=FloatField()))
        .order_by("-score", "product_id")[:keep]
    )
    scores: dict[str, float] = {}
    for row in [*viewed, *bought]:
        scores[row["product_id"]] = scores.get(row["product_id"], 0.0) + float(row["score"])
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]
