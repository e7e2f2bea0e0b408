"""The products API: bulk upsert, list, retrieve, delete; tenancy and keys."""

import math
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.db import connection
from rest_framework.test import APIClient

from personalize.catalog.models import Product
from tests.factories import make_product

URL = "/api/v1/products"


def detail_url(product_id: str) -> str:
    return f"{URL}/{quote(product_id, safe='')}"


def row(product_id: str = "sku-1", **fields) -> dict:
    return {"product_id": product_id, "title": f"Product {product_id}", **fields}


# --- upsert ------------------------------------------------------------------------------------


def test_it_creates_products_with_every_field(api, shop):
    response = api.post(
        URL,
        [
            row(
                "sku-1",
                url="https://alice-shop.example/p/1",
                image_url="https://cdn.example/1.jpg",
                price=19.99,
                currency="eur",
                categories=["Women", "Dresses"],
                brand="Acme",
                tags=["summer", "linen", "summer"],
                in_stock=False,
                attributes={"color": "red", "sizes": ["S", "M"]},
            )
        ],
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "rejected": []}
    product = Product.objects.get(shop=shop, product_id="sku-1")
    assert product.title == "Product sku-1"
    assert product.url == "https://alice-shop.example/p/1"
    assert product.image_url == "https://cdn.example/1.jpg"
    assert product.price == Decimal("19.99")
    assert product.currency == "EUR"
    assert product.categories == ["Women", "Dresses"]
    assert product.category_path == "Women > Dresses"
    assert product.brand == "Acme"
    assert product.tags == ["summer", "linen"]
    assert product.in_stock is False
    assert product.attributes == {"color": "red", "sizes": ["S", "M"]}


def test_it_fills_defaults_and_takes_the_shops_currency(api, shop):
    response = api.post(URL, [row("sku-1")], format="json")

    assert response.json()["created"] == 1
    product = Product.objects.get(shop=shop, product_id="sku-1")
    assert (product.currency, product.in_stock, product.price) == ("GBP", True, None)
    assert (product.categories, product.category_path, product.tags, product.attributes) == ([], "", [], {})


def test_it_accepts_an_object_with_products_and_a_category_string(api, shop):
    response = api.post(
        URL, {"products": [row("sku-1", categories="Women > Dresses>Maxi"), row(42)]}, format="json"
    )

    assert response.json() == {"created": 2, "updated": 0, "rejected": []}
    product = Product.objects.get(shop=shop, product_id="sku-1")
    assert product.categories == ["Women", "Dresses", "Maxi"]
    assert product.category_path == "Women > Dresses > Maxi"
    assert Product.objects.filter(shop=shop, product_id="42").exists()


def test_it_replaces_existing_products_and_counts_them_as_updated(api, shop):
    old = make_product(shop, "sku-1", title="Old", price="5.00", brand="Old brand", tags=["old"])

    response = api.post(URL, [row("sku-1", title="New", price=7.5), row("sku-2")], format="json")

    assert response.json() == {"created": 1, "updated": 1, "rejected": []}
    product = Product.objects.get(shop=shop, product_id="sku-1")
    assert (product.title, product.price) == ("New", Decimal("7.5"))
    # A row is the whole product: fields it leaves out go back to their defaults.
    assert (product.brand, product.tags) == ("", [])
    assert product.pk == old.pk
    assert product.created_at == old.created_at
    assert product.updated_at > old.updated_at


def test_it_stores_good_rows_and_rejects_bad_ones_with_reasons(api, shop):
    response = api.post(
        URL,
        [
            row("good-1"),
            {"title": "No id"},
            row("bad-2", title="", price=-1, currency="pounds"),
            row("bad-3", url="ftp://example.com/x", categories=["A", 3], tags="x", in_stock="maybe"),
            "not an object",
            row("x" * 129, attributes=["a"], image_url="notaurl"),
            row("good-2", price="12.50"),
        ],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 0)
    assert body["rejected"] == [
        {"index": 1, "product_id": None, "errors": {"product_id": ["is required"]}},
        {
            "index": 2,
            "product_id": "bad-2",
            "errors": {
                "title": ["is required"],
                "price": ["must not be negative"],
                "currency": ["must be a 3-letter currency code"],
            },
        },
        {
            "index": 3,
            "product_id": "bad-3",
            "errors": {
                "url": ["must be an absolute http(s) URL"],
                "categories": ["must be a list of strings (a path) or text like 'Women > Dresses'"],
                "in_stock": ["must be true or false (or 1/0, yes/no, 'in stock'/'out of stock')"],
            },
        },
        {"index": 4, "product_id": None, "errors": {"non_field_errors": ["must be an object"]}},
        {
            "index": 5,
            "product_id": "x" * 129,
            "errors": {
                "product_id": ["must be at most 128 characters"],
                "image_url": ["must be an absolute http(s) URL"],
                "attributes": ["must be an object"],
            },
        },
    ]
    assert sorted(Product.objects.filter(shop=shop).values_list("product_id", flat=True)) == [
        "good-1",
        "good-2",
    ]
    assert Product.objects.get(shop=shop, product_id="good-2").price == Decimal("12.50")


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"price": True}, {"price": ["must be a number"]}),
        ({"price": "1e400"}, {"price": ["is too large"]}),
        ({"price": 10_000_000_000}, {"price": ["is too large"]}),
        ({"title": "x" * 501}, {"title": ["must be at most 500 characters"]}),
        ({"title": "a\x00b"}, {"title": ["must not contain NUL characters"]}),
        ({"brand": 5}, {"brand": ["must be a string"]}),
        ({"tags": ["ok", 1]}, {"tags": ["must be a list of strings"]}),
        ({"categories": ["Women > Dresses"]}, {"categories": ["names in a list must not contain '>'"]}),
        ({"attributes": {"a": "x" * 40_000}}, {"attributes": ["must be at most 32 KB of JSON"]}),
        ({"attributes": {"a": "\x00"}}, {"attributes": ["must not contain NUL characters"]}),
    ],
)
def test_it_names_the_bad_field(api, shop, fields, errors):
    response = api.post(URL, [row("sku-1", **fields)], format="json")

    assert response.json()["rejected"] == [{"index": 0, "product_id": "sku-1", "errors": errors}]
    assert not Product.objects.filter(shop=shop).exists()


def test_the_last_of_repeated_product_ids_wins(api, shop):
    response = api.post(
        URL, [row("sku-1", title="First"), row("sku-2"), row("sku-1", title="Last")], format="json"
    )

    assert response.json() == {"created": 2, "updated": 0, "rejected": []}
    assert Product.objects.get(shop=shop, product_id="sku-1").title == "Last"


def test_it_refuses_more_than_1000_products_a_call(api, shop):
    response = api.post(URL, [row(f"sku-{i}") for i in range(1001)], format="json")

    assert response.status_code == 413
    assert response.json() == {"products": ["at most 1000 products a call; this one has 1001"]}
    assert not Product.objects.filter(shop=shop).exists()


@pytest.mark.parametrize("body", [{"items": []}, "text", 5])
def test_it_answers_400_when_the_body_is_not_a_list(api, shop, body):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert "products" in response.json()


def test_malformed_json_is_400(api):
    response = api.post(URL, "[{", content_type="application/json")

    assert response.status_code == 400


def test_an_empty_list_changes_nothing(api, shop):
    assert api.post(URL, [], format="json").json() == {"created": 0, "updated": 0, "rejected": []}


def test_upsert_queries_do_not_grow_with_the_batch(api, shop, django_assert_max_num_queries):
    api.post(URL, [row("warm-up")], format="json")  # the key's first use records last_used_at
    rows = [row(f"sku-{i}", categories=["A", "B"], tags=["t"]) for i in range(1000)]
    make_product(shop, "sku-0")
    # Key lookup, savepoint + release, existing ids, insert. SQLite caps bind parameters at 999 per
    # statement, so there Django splits the insert; PostgreSQL sends one statement.
    fields = [f for f in Product._meta.concrete_fields if not f.primary_key]
    objs = [Product(shop=shop, product_id=r["product_id"]) for r in rows]
    insert_batches = math.ceil(len(rows) / connection.ops.bulk_batch_size(fields, objs))
    if connection.vendor == "postgresql":
        assert insert_batches == 1

    with django_assert_max_num_queries(4 + insert_batches):
        response = api.post(URL, rows, format="json")

    assert response.json() == {"created": 999, "updated": 1, "rejected": []}
    assert Product.objects.filter(shop=shop).count() == 1001


# --- list ----------------------------------------------------------------------------------------


def test_it_lists_products_in_product_id_order_page_by_page(api, shop):
    for product_id in ["c", "a", "e", "b", "d"]:
        make_product(shop, product_id)

    first = api.get(URL, {"page_size": 2}).json()
    second = api.get(URL, {"page_size": 2, "page": 2}).json()
    last = api.get(URL, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [p["product_id"] for p in first["results"]] == ["a", "b"]
    assert [p["product_id"] for p in second["results"]] == ["c", "d"]
    assert [p["product_id"] for p in last["results"]] == ["e"]
    assert "page=2" in first["next"] and first["previous"] is None
    assert last["next"] is None


def test_it_shows_every_field_of_a_product(api, shop):
    make_product(
        shop,
        "sku-1",
        title="Dress",
        price="19.9900",
        categories=["Women", "Dresses"],
        brand="Acme",
        tags=["summer"],
        attributes={"color": "red"},
        url="https://alice-shop.example/p/1",
    )

    (product,) = api.get(URL).json()["results"]

    assert {k: v for k, v in product.items() if k not in ("created_at", "updated_at")} == {
        "product_id": "sku-1",
        "title": "Dress",
        "url": "https://alice-shop.example/p/1",
        "image_url": "",
        "price": 19.99,
        "currency": "GBP",
        "categories": ["Women", "Dresses"],
        "category_path": "Women > Dresses",
        "brand": "Acme",
        "tags": ["summer"],
        "in_stock": True,
        "attributes": {"color": "red"},
    }
    assert product["created_at"] and product["updated_at"]


def test_page_size_is_capped_at_500(api, shop):
    Product.objects.bulk_create(
        [Product(shop=shop, product_id=f"sku-{i:04d}", title="x") for i in range(501)]
    )

    body = api.get(URL, {"page_size": 1000}).json()

    assert body["count"] == 501
    assert len(body["results"]) == 500


def test_it_filters_by_a_category_and_the_categories_below_it(api, shop):
    make_product(shop, "women", categories=["Women"])
    make_product(shop, "dress", categories=["Women", "Dresses"])
    make_product(shop, "maxi", categories=["Women", "Dresses", "Maxi"])
    make_product(shop, "womenswear", categories=["Womenswear"])
    make_product(shop, "men", categories=["Men"])

    def ids(**params):
        return [p["product_id"] for p in api.get(URL, params).json()["results"]]

    assert ids(category="Women") == ["dress", "maxi", "women"]
    assert ids(category="Women > Dresses") == ["dress", "maxi"]
    assert ids(category="Women>Dresses") == ["dress", "maxi"]
    assert ids(category="Women > Dresses > Maxi") == ["maxi"]
    assert ids(category="Wom") == []


def test_it_filters_by_stock(api, shop):
    make_product(shop, "in", in_stock=True)
    make_product(shop, "out", in_stock=False)

    assert [p["product_id"] for p in api.get(URL, {"in_stock": "false"}).json()["results"]] == ["out"]
    assert [p["product_id"] for p in api.get(URL, {"in_stock": "true"}).json()["results"]] == ["in"]
    response = api.get(URL, {"in_stock": "perhaps"})
    assert response.status_code == 400
    assert response.json() == {"in_stock": ["must be true or false"]}


def test_listing_takes_the_same_queries_for_any_page_size(api, shop, django_assert_max_num_queries):
    Product.objects.bulk_create(
        [Product(shop=shop, product_id=f"sku-{i:03d}", title="x") for i in range(300)]
    )
    api.get(URL)  # the key's first use records last_used_at

    with django_assert_max_num_queries(3):  # key, count, page
        body = api.get(URL, {"page_size": 300}).json()

    assert len(body["results"]) == 300


# --- retrieve, delete ---------------------------------------------------------------------------


@pytest.mark.parametrize("product_id", ["sku-1", "a/b/c", "v1.2.3", "with space", "odd%25?#&=+", "ünï"])
def test_it_retrieves_a_product_whatever_its_id_holds(api, shop, product_id):
    make_product(shop, product_id, title="Found")

    response = api.get(detail_url(product_id))

    assert response.status_code == 200
    assert response.json()["product_id"] == product_id
    assert response.json()["title"] == "Found"


def test_retrieving_a_missing_product_is_404(api, shop):
    assert api.get(detail_url("nope")).status_code == 404


def test_it_deletes_a_product(api, shop):
    make_product(shop, "a/b")
    make_product(shop, "keep")

    response = api.delete(detail_url("a/b"))

    assert response.status_code == 204
    assert list(Product.objects.filter(shop=shop).values_list("product_id", flat=True)) == ["keep"]
    assert api.delete(detail_url("a/b")).status_code == 404


# --- tenancy and keys ---------------------------------------------------------------------------


def test_other_shop_lists_none_of_the_shops_products(api, other_api, shop, other_shop):
    make_product(shop, "sku-1", categories=["Women"])

    body = other_api.get(URL, {"category": "Women"}).json()

    assert body["count"] == 0 and body["results"] == []


def test_other_shop_gets_404_for_the_shops_product(other_api, shop, other_shop):
    make_product(shop, "sku-1")

    assert other_api.get(detail_url("sku-1")).status_code == 404


def test_other_shop_cannot_delete_the_shops_product(other_api, shop, other_shop):
    make_product(shop, "sku-1")

    response = other_api.delete(detail_url("sku-1"))

    assert response.status_code == 404
    assert Product.objects.filter(shop=shop, product_id="sku-1").exists()


def test_other_shop_upserting_the_same_id_leaves_the_shops_product_alone(other_api, shop, other_shop):
    mine = make_product(shop, "sku-1", title="Mine", price="5.00")

    response = other_api.post(URL, [row("sku-1", title="Theirs", price=1)], format="json")

    assert response.json() == {"created": 1, "updated": 0, "rejected": []}
    mine.refresh_from_db()
    assert (mine.title, mine.price) == ("Mine", Decimal("5.0000"))
    assert Product.objects.get(shop=other_shop, product_id="sku-1").title == "Theirs"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("post", URL),
        ("get", detail_url("sku-1")),
        ("delete", detail_url("sku-1")),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer sk_not-a-real-key", "Basic abc"])
def test_it_refuses_requests_without_a_valid_secret_key(shop, method, path, authorization):
    make_product(shop, "sku-1")
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = getattr(client, method)(path, [row("sku-2")] if method == "post" else None, format="json")

    assert response.status_code == 401
    assert list(Product.objects.values_list("product_id", flat=True)) == ["sku-1"]


def test_the_site_key_cannot_use_the_products_api(shop):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {shop.site_key}")

    assert client.get(URL).status_code == 401


# --- schema ---------------------------------------------------------------------------------------


def test_the_schema_documents_the_products_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    products = schema["paths"]["/api/v1/products"]
    assert products["post"]["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert (
        "UpsertResult"
        in products["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert {p["name"] for p in products["get"]["parameters"]} >= {"page", "page_size", "category", "in_stock"}
    detail = schema["paths"]["/api/v1/products/{product_id}"]
    assert set(detail) >= {"get", "delete"}
    assert "ProductInputRequest" in schema["components"]["schemas"]
    assert "rejected" in schema["components"]["schemas"]["UpsertResult"]["properties"]
