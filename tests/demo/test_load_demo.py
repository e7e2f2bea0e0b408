"""`manage.py load_demo` and the committed data slice it reads."""

import csv
import filecmp
import gzip
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from personalize.catalog.models import FeedImport, Product
from personalize.demo import build_slice
from personalize.demo.services import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SHOP_NAME, EVENTS_FILE, PRODUCTS_FILE
from personalize.events.models import Event, Order, OrderLine, Visitor
from personalize.shops.models import Membership, Shop


def load_demo() -> dict:
    out = io.StringIO()
    call_command("load_demo", "--no-progress", stdout=out)
    return json.loads(out.getvalue())


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            Shop,
            Membership,
            get_user_model(),
            Product,
            FeedImport,
            Event,
            Order,
            OrderLine,
            Visitor,
        )
    }


def test_load_demo_builds_the_demo_shop_and_a_rerun_adds_nothing(client, db):
    with PRODUCTS_FILE.open(newline="") as f:
        products = sum(1 for _ in csv.DictReader(f))
    with gzip.open(EVENTS_FILE, "rt", newline="") as f:
        rows = list(csv.DictReader(f))

    first = load_demo()
    after_first = counts()
    second = load_demo()

    assert counts() == after_first
    shop = Shop.objects.get(id=first["shop_id"])
    assert (shop.name, shop.currency, shop.site_key) == (DEMO_SHOP_NAME, "GBP", first["site_key"])
    assert sorted(shop.allowed_domains) == ["127.0.0.1", "localhost"]
    assert first["login"] == {"url": "/login/", "email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    assert (second["shop_id"], second["shop_created"]) == (shop.id, False)
    assert Product.objects.for_shop(shop).count() == products
    assert Event.objects.for_shop(shop).count() == len(rows) == first["history"]["stored"]
    assert Order.objects.for_shop(shop).count() == len({r["order_id"] for r in rows})
    assert OrderLine.objects.for_shop(shop).count() == len(rows)
    assert Visitor.objects.for_shop(shop).count() == len({r["visitor_id"] for r in rows})
    assert (second["history"]["stored"], second["history"]["duplicates"]) == (0, len(rows))
    assert second["products"]["created"] == 0
    product = Product.objects.for_shop(shop).get(product_id="85123A")
    assert product.url.endswith("/demo/product/85123A/") and product.url.startswith("http")
    assert product.currency == "GBP" and product.categories
    assert product.image_url.startswith("http") and product.image_url.endswith("/demo/img/85123A.svg")
    response = client.post("/login/", {"username": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


@pytest.mark.parametrize(
    ("description", "path"),
    [
        ("PAPER CHAIN KIT 50'S CHRISTMAS", ["Seasonal", "Christmas"]),
        ("JUMBO BAG RED RETROSPOT", ["Bags"]),
        ("SET OF 3 CAKE TINS PANTRY DESIGN", ["Kitchen", "Baking"]),
        ("WHITE HANGING HEART T-LIGHT HOLDER", ["Home", "Candles"]),
        ("ROSES REGENCY TEACUP AND SAUCER", ["Kitchen", "Mugs & Cups"]),
        ("INFLATABLE POLITICAL GLOBE", ["Gifts"]),
    ],
)
def test_categories_come_from_description_keywords(description, path):
    assert build_slice.categorize(description) == path


def test_the_committed_slice_is_what_the_builder_makes(tmp_path):
    if not build_slice.DEFAULT_SOURCE.exists():
        pytest.skip("../shared/datasets/online_retail is not here")

    build_slice.main(["--out", str(tmp_path)])

    assert filecmp.cmp(tmp_path / "products.csv", PRODUCTS_FILE, shallow=False)
    assert filecmp.cmp(tmp_path / "events.csv.gz", EVENTS_FILE, shallow=False)
