"""The demo store at /demo/: pages, escaping, and that it only ever shows the demo shop's products."""

import json
import re

import pytest
from django.urls import reverse

from personalize.demo.services import DEMO_SHOP_NAME, ensure_demo_shop
from personalize.shops.services import create_shop
from tests.factories import make_product

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def demo_shop(db):
    shop, _, _ = ensure_demo_shop()
    make_product(
        shop,
        "85123A",
        title="White Hanging Heart T-light Holder",
        price="2.95",
        categories=["Home", "Candles"],
    )
    make_product(
        shop, "22423", title="Regency Cakestand 3 Tier", price="12.75", categories=["Kitchen", "Baking"]
    )
    make_product(shop, "xss-1", title=XSS, price="1.00", categories=["Home", "Candles"])
    return shop


PAGES = [
    ("demo:home", []),
    ("demo:category", ["home"]),
    ("demo:category", ["home/candles"]),
    ("demo:product", ["85123A"]),
    ("demo:cart", []),
    ("demo:checkout", []),
    ("demo:thank_you", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_every_page_renders_with_only_the_public_tag(client, demo_shop, name, args):
    response = client.get(reverse(name, args=args))

    assert response.status_code == 200
    html = response.content.decode()
    tag = f'<script async src="/p.js" data-site-key="{demo_shop.site_key}"></script>'
    assert html.count(tag) == 1
    scripts = re.findall(r"<script[^>]*>", html)
    # The public tag, the store's own basket code, and on product pages the JSON-LD data.
    assert all("/p.js" in s or "demo/store.js" in s or 'type="application/ld+json"' in s for s in scripts)
    assert "sk_" not in html
    assert re.search(
        r'<div data-pz-widget="(for_you|similar|bought_together|trending|recently_viewed|cart)"', html
    )


def test_the_product_page_has_placeholders_and_schema_org_data(client, demo_shop):
    html = client.get(reverse("demo:product", args=["85123A"])).content.decode()

    assert '<div data-pz-widget="similar" data-pz-product="85123A" data-pz-limit="8"></div>' in html
    assert '<div data-pz-widget="bought_together" data-pz-product="85123A" data-pz-limit="8"></div>' in html
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert ld["@type"] == "Product"
    assert (ld["sku"], ld["name"], ld["category"]) == (
        "85123A",
        "White Hanging Heart T-light Holder",
        "Home > Candles",
    )
    assert ld["offers"]["price"] == "2.95"
    assert ld["offers"]["priceCurrency"] == "GBP"
    assert ld["image"].endswith("/demo/img/85123A.svg")


@pytest.mark.parametrize(
    "url",
    [
        "/demo/",
        "/demo/category/home/candles/",
        "/demo/product/xss-1/",
        "/demo/?q=onerror",
        "/demo/img/xss-1.svg",
    ],
)
def test_it_escapes_product_text_everywhere(client, demo_shop, url):
    response = client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert XSS not in body
    assert "<img src=x" not in body


def test_json_ld_cannot_close_its_script_element(client, demo_shop):
    make_product(demo_shop, "ld-1", title="</script><script>alert(1)</script>", categories=["Home"])

    html = client.get("/demo/product/ld-1/").content.decode()

    assert "</script><script>alert(1)" not in html
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert ld["name"] == "</script><script>alert(1)</script>"


def test_the_image_is_an_svg_tile_with_escaped_initials(client, demo_shop):
    make_product(demo_shop, "amp-1", title='& "quoted" <b>bold</b>', categories=["Home"])

    response = client.get("/demo/img/amp-1.svg")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    svg = response.content.decode()
    assert svg.startswith("<svg") and "<b>" not in svg
    assert "&amp; &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt;" in svg
    # The same id always gets the same colour.
    assert client.get("/demo/img/amp-1.svg").content == response.content


def test_other_shops_products_never_appear(client, demo_shop, other_shop):
    make_product(other_shop, "secret-1", title="Charlie Secret Candle", categories=["Home", "Candles"])
    make_product(other_shop, "85123A", title="Charlie Namesake Holder", categories=["Home", "Candles"])
    namesake = create_shop(name=DEMO_SHOP_NAME, domains=["localhost"])
    make_product(namesake, "dup-1", title="Namesake Shop Mug", categories=["Kitchen"])

    pages = [
        "/demo/",
        "/demo/category/home/",
        "/demo/category/home/candles/",
        "/demo/product/85123A/",
        "/demo/?q=charlie",
        "/demo/?q=candle",
        "/demo/img/secret-1.svg",
        "/demo/category/kitchen/",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "Charlie" not in body, url
        assert "Namesake Shop Mug" not in body, url
    assert client.get("/demo/product/secret-1/").status_code == 404
    assert client.get("/demo/product/dup-1/").status_code == 404


def test_categories_list_their_products_and_unknown_ones_404(client, demo_shop):
    html = client.get("/demo/category/kitchen/").content.decode()

    assert "Regency Cakestand 3 Tier" in html
    assert "White Hanging Heart" not in html
    assert client.get("/demo/category/no-such-thing/").status_code == 404


def test_the_store_explains_itself_before_the_demo_is_loaded(client, db):
    response = client.get("/demo/")

    assert response.status_code == 200
    assert b"load_demo" in response.content
