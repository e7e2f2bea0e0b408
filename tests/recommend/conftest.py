"""A small catalog of two disjoint taste groups and a model trained on it, served like a real version.

Group A is dresses, group B is shoes. Shoppers of group A only ever touch dresses, of group B only
shoes, so a right answer is known: an A shopper's for_you leads with dresses, similar(a1) with
dresses, and a1 is bought with a2.
"""

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from django.test import Client

from personalize.recommend import artifacts as artifact_files
from personalize.recommend import engine, store
from personalize.recommend.features import feature_matrix, price_edges
from personalize.recommend.models import ModelVersion, RecommenderConfig
from personalize.recommend.store import announce_active_version, rules_changed
from tests.factories import make_product

ORIGIN = "https://alice-shop.example"
DRESSES = ["Women", "Dresses"]
SHOES = ["Women", "Shoes"]


@pytest.fixture(autouse=True)
def _fresh_serving_state(settings, tmp_path):
    settings.PZ_MODEL_DIR = tmp_path / "models"
    store.forget_loaded_state()
    yield
    store.forget_loaded_state()


@pytest.fixture(autouse=True)
def _no_holdout(request):
    """Shoppers land in the 5% hold-out by the hash of their id and the shop's: tests that are not
    about the hold-out switch it off, so an answer never depends on which ids the database gave."""
    for name in ("shop", "other_shop"):
        if name in request.fixturenames:
            RecommenderConfig.objects.update_or_create(
                shop=request.getfixturevalue(name), defaults={"holdout_share": 0}
            )


def make_catalog(shop, *, title_prefix: str = "") -> dict[str, object]:
    """a1..a6 dresses, b1..b6 shoes, in stock, created in that order."""
    products = {}
    for i in range(1, 7):
        products[f"a{i}"] = make_product(
            shop,
            f"a{i}",
            title=f"{title_prefix}Linen summer dress {i}",
            categories=DRESSES,
            brand="Flora",
            price=f"{40 + i}.00",
        )
    for i in range(1, 7):
        products[f"b{i}"] = make_product(
            shop,
            f"b{i}",
            title=f"{title_prefix}Leather running shoe {i}",
            categories=SHOES,
            brand="Stride",
            price=f"{80 + i}.00",
        )
    return products


def group_interactions() -> list[tuple[str, str, float]]:
    """(user key, product id, weight): ten A shoppers on dresses, ten B shoppers on shoes.

    Each shopper skips one item of their group (a different one each), so the model has to
    generalise within the group rather than memorise.
    """
    rows = []
    for group in ("a", "b"):
        for u in range(10):
            for i in range(1, 7):
                if i != u % 6 + 1:
                    rows.append((f"v:{group}-shopper-{u}", f"{group}{i}", 1.0 + (i % 2)))
    return rows


def train_model(
    shop,
    *,
    interactions: list[tuple[str, str, float]] | None = None,
    baskets: list[list[str]] | None = None,
    activate: bool = True,
    algorithm: str = "lightfm-warp",
    precompute_top_n: bool = True,
) -> ModelVersion:
    """Fit the engine on `interactions` over the shop's catalog, save the artifacts the way training
    does, and make the version active (announced, as training announces it). Without
    `precompute_top_n` no user has a top-N list (as users training leaves out: serving ranks them)."""
    from personalize.catalog.models import Product

    interactions = group_interactions() if interactions is None else interactions
    baskets = [["a1", "a2"]] * 6 + [["b1", "b2"]] * 6 if baskets is None else baskets
    products = list(
        Product.objects.for_shop(shop)
        .order_by("id")
        .values("product_id", "title", "categories", "brand", "tags", "price")
    )
    item_ids = [p["product_id"] for p in products]
    item_index = {pid: i for i, pid in enumerate(item_ids)}
    user_ids = list(dict.fromkeys(user for user, _, _ in interactions))
    user_index = {u: i for i, u in enumerate(user_ids)}
    rows = [user_index[u] for u, _, _ in interactions]
    cols = [item_index[p] for _, p, _ in interactions]
    matrix = sp.csr_matrix(
        (np.array([w for _, _, w in interactions], dtype=np.float32), (rows, cols)),
        shape=(len(user_ids), len(item_ids)),
    )
    matrix.sum_duplicates()
    edges = price_edges([float(p["price"]) if p["price"] is not None else None for p in products])
    features, vocabulary = feature_matrix(products, edges)

    model = engine.fit(matrix, features, algorithm=algorithm, num_threads=1)
    model.params["price_edges"] = edges
    basket_matrix = sp.csr_matrix(
        (
            np.ones(sum(len(b) for b in baskets), dtype=np.float32),
            (
                [r for r, basket in enumerate(baskets) for _ in basket],
                [item_index[p] for basket in baskets for p in basket],
            ),
        ),
        shape=(len(baskets), len(item_ids)),
    )
    bought_together, lift = engine.co_purchase(basket_matrix, k=20)
    popularity = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float32)
    trending = np.argsort(-popularity, kind="stable").astype(np.int32)
    trending = trending[popularity[trending] > 0]
    top_n = engine.top_n(model, np.arange(len(user_ids)), 20, exclude=matrix)
    if not precompute_top_n:
        top_n[:] = -1

    version = ModelVersion.objects.create(shop=shop, status=ModelVersion.READY, algorithm=model.algorithm)
    path = Path(str(shop.id)) / f"{version.id}-{uuid.uuid4().hex[:8]}.npz"
    artifact_files.save(
        store.model_dir() / path,
        artifact_files.Artifacts(
            model=model,
            item_ids=np.array(item_ids),
            user_ids=np.array(user_ids),
            top_n=top_n,
            bought_together=bought_together,
            bought_together_lift=lift,
            trending=trending,
            trending_score=popularity[trending],
            feature_names=np.array(sorted(vocabulary, key=vocabulary.get)),
            user_history=matrix,
        ),
    )
    version.artifact = str(path)
    version.save(update_fields=["artifact"])
    if activate:
        ModelVersion.objects.for_shop(shop).active().update(status=ModelVersion.RETIRED)
        version.status = ModelVersion.ACTIVE
        version.save(update_fields=["status"])
        announce_active_version(shop.id, version.id)
    return version


def recommendations(shop, widget: str, *, origin: str = ORIGIN, client=None, **params):
    """GET /api/v1/recommendations from the shop's page, with its site key."""
    query = {"site_key": shop.site_key, "widget": widget, **params}
    return (client or Client()).get("/api/v1/recommendations", query, HTTP_ORIGIN=origin)


def product_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["product_id"] for item in response.json()["items"]]


def collect(shop, events: list[dict], *, origin: str = ORIGIN):
    response = Client().post(
        "/api/v1/collect",
        json.dumps({"site_key": shop.site_key, "events": events}),
        content_type="text/plain",
        HTTP_ORIGIN=origin,
    )
    assert response.status_code == 200, response.content
    assert not response.json()["rejected"], response.json()
    return response.json()


@pytest.fixture
def save_rules():
    """What the dashboard calls after saving a config or widget rules."""

    def save(shop) -> None:
        rules_changed(shop.id)

    return save
