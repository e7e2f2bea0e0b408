"""The widgets page: placement settings, merchandising rules, diversity, and the live preview of
real recommendations (the shop's trained model, through the serving code)."""

import pytest
from django.test import Client

from personalize.campaigns.models import WidgetSettings
from personalize.campaigns.services import snippet_config
from personalize.recommend import store
from personalize.recommend.models import RecommenderConfig, WidgetRule
from tests.dashboard.conftest import snapshot
from tests.recommend.conftest import ORIGIN, make_catalog, train_model


@pytest.fixture(autouse=True)
def _serving_state(settings, tmp_path):
    settings.PZ_MODEL_DIR = tmp_path / "models"
    store.forget_loaded_state()
    yield
    store.forget_loaded_state()


@pytest.fixture
def trained(shop, other_shop):
    make_catalog(shop)
    make_catalog(other_shop, title_prefix="Charlie ")
    train_model(shop)
    return shop


def url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/widgets/{rest}"


def form_data(**overrides) -> dict:
    data = {
        "title": "",
        "limit": "6",
        "layout": "",
        "category": "",
        "min_price": "",
        "max_price": "",
        "max_per_category": "0",
        "preview_product": "",
        "rules-TOTAL_FORMS": "3",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "50",
    }
    for i in range(3):
        data.update({f"rules-{i}-action": "", f"rules-{i}-target": "product", f"rules-{i}-value": ""})
    data.update(overrides)
    return data


def preview_ids(client, shop, widget="trending", **overrides) -> list[str]:
    response = client.get(url(shop, f"{widget}/preview.json"), form_data(**overrides))
    assert response.status_code == 200, response.content
    return [item["product_id"] for item in response.json()["items"]]


def test_the_list_shows_every_widget_type(bob_client, shop):
    WidgetSettings.objects.create(shop=shop, widget="similar", title="Pairs well with", limit=4)
    response = bob_client.get(url(shop))
    assert response.status_code == 200
    rows = {w["widget"]: w for w in response.context["widgets"]}
    assert list(rows) == ["for_you", "similar", "bought_together", "trending", "recently_viewed", "cart"]
    assert (rows["similar"]["title"], rows["similar"]["limit"]) == ("Pairs well with", 4)
    assert rows["trending"]["title"] == "Trending now"


def test_the_preview_shows_this_shops_real_recommendations(bob_client, trained):
    response = bob_client.get(url(trained, "for_you/preview.json"), form_data())
    assert response.status_code == 200
    data = response.json()
    assert data["model_version"] is not None  # ranked by the trained model
    items = data["items"]
    assert len(items) == 6
    assert {i["product_id"][0] for i in items} <= {"a", "b"}
    assert not any(i["title"].startswith("Charlie") for i in items)
    assert all(i["price"] and i["currency"] and i["reason"] for i in items)
    assert response["Cache-Control"] == "no-store"


def test_the_preview_follows_unsaved_filters_and_rules(bob_client, trained):
    assert set(preview_ids(bob_client, trained, category="Women > Shoes")) == {f"b{i}" for i in range(1, 7)}
    assert all(p in {"a5", "a6"} for p in preview_ids(bob_client, trained, min_price="45", max_price="46.50"))
    base = preview_ids(bob_client, trained)
    pinned = preview_ids(
        bob_client, trained, **{"rules-0-action": "pin", "rules-0-value": base[-1], "rules-0-slot": "1"}
    )
    assert pinned[0] == base[-1]
    buried = preview_ids(bob_client, trained, **{"rules-0-action": "bury", "rules-0-value": base[0]})
    assert base[0] not in buried[:-1]
    diverse = preview_ids(bob_client, trained, max_per_category="2")
    assert sum(p.startswith("a") for p in diverse) <= 2 and sum(p.startswith("b") for p in diverse) <= 2
    # nothing was saved by previewing
    assert not WidgetRule.objects.exists() and not WidgetSettings.objects.exists()
    assert not RecommenderConfig.objects.filter(shop=trained).exists()


def test_the_preview_equals_what_the_store_gets_once_saved(
    alice_client, trained, django_capture_on_commit_callbacks
):
    edits = {
        "max_per_category": "3",
        "rules-0-action": "pin",
        "rules-0-value": "b6",
        "rules-0-slot": "2",
        "rules-1-action": "boost",
        "rules-1-target": "category",
        "rules-1-value": "Women > Dresses",
        "rules-1-factor": "3",
    }
    previewed = preview_ids(alice_client, trained, "trending", **edits)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url(trained, "trending/"), form_data(**edits))
    assert response.status_code == 302
    served = Client().get(
        "/api/v1/recommendations",
        {"site_key": trained.site_key, "widget": "trending", "limit": 6},
        HTTP_ORIGIN=ORIGIN,
    )
    assert [i["product_id"] for i in served.json()["items"]] == previewed
    assert previewed[1] == "b6"


def test_saving_stores_settings_filters_and_rules(alice_client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            url(shop, "similar/"),
            form_data(
                title="Pairs well with",
                limit="4",
                layout="carousel",
                category="Women>Shoes",
                min_price="10",
                max_price="90",
                max_per_category="2",
                **{"rules-0-action": "boost", "rules-0-value": "b1", "rules-0-factor": "2"},
            ),
        )
    assert response.status_code == 302 and response["Location"] == url(shop, "similar/")
    row = WidgetSettings.objects.get(shop=shop, widget="similar")
    assert (row.title, row.limit, row.layout, row.category) == (
        "Pairs well with",
        4,
        "carousel",
        "Women > Shoes",
    )
    rule = WidgetRule.objects.get(shop=shop)
    assert (rule.widget, rule.action, rule.value, rule.factor) == ("similar", "boost", "b1", 2.0)
    assert RecommenderConfig.objects.get(shop=shop).max_per_category == 2
    widget = snippet_config(shop=shop)["widgets"]["similar"]
    assert widget == {
        "title": "Pairs well with",
        "limit": 4,
        "layout": "carousel",
        "category": "Women > Shoes",
        "min_price": 10.0,
        "max_price": 90.0,
    }
    # the edit page shows the saved rule, and removing it deletes it
    page = alice_client.get(url(shop, "similar/"))
    assert page.context["rules"].initial[0]["value"] == "b1"
    data = form_data(**{"rules-TOTAL_FORMS": "4", "rules-INITIAL_FORMS": "1"})
    data.update({"rules-3-action": "", "rules-3-target": "product", "rules-3-value": ""})
    data.update(
        {"rules-0-action": "boost", "rules-0-value": "b1", "rules-0-factor": "2", "rules-0-DELETE": "on"}
    )
    assert alice_client.post(url(shop, "similar/"), data).status_code == 302
    assert not WidgetRule.objects.exists()


def test_bad_input_gives_per_field_errors(bob_client, shop):
    bad = form_data(
        limit="0",
        min_price="50",
        max_price="10",
        max_per_category="",
        **{"rules-0-action": "boost", "rules-0-value": "", "rules-1-action": "pin", "rules-1-value": "x"},
    )
    response = bob_client.get(url(shop, "trending/preview.json"), bad)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {
        "limit",
        "max_price",
        "max_per_category",
        "rules-0-value",
        "rules-0-factor",
        "rules-1-slot",
    }
    before = snapshot()
    response = bob_client.post(url(shop, "trending/"), bad)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_limit_error"' in html and 'id="id_rules-1-slot_error"' in html
    assert snapshot() == before and not WidgetSettings.objects.exists() and not WidgetRule.objects.exists()


def test_unknown_widget_types_are_404(alice_client, shop):
    assert alice_client.get(url(shop, "banner/")).status_code == 404
    assert alice_client.get(url(shop, "banner/preview.json"), form_data()).status_code == 404


def test_outsiders_get_404_and_change_nothing(charlie_client, client, trained):
    shop = trained
    for path in ("", "trending/", "trending/preview.json"):
        assert charlie_client.get(url(shop, path), form_data()).status_code == 404
    assert charlie_client.post(url(shop, "trending/"), form_data(title="Charlie was here")).status_code == 404
    assert not WidgetSettings.objects.exists()
    response = client.get(url(shop, "trending/preview.json"), form_data())
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_save_form_needs_csrf(alice, shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert "csrfmiddlewaretoken" in client.get(url(shop, "trending/")).content.decode()
    assert client.post(url(shop, "trending/"), form_data(title="x")).status_code == 403


def test_similar_is_previewed_on_a_product(bob_client, trained):
    # no product given: the shop's top trending one, and its neighbours (same taste group) lead
    data = bob_client.get(url(trained, "similar/preview.json"), form_data()).json()
    anchor = data["product_id"]
    assert anchor and anchor not in [i["product_id"] for i in data["items"]]
    leading = [i["product_id"] for i in data["items"][:3]]
    assert all(p[0] == anchor[0] for p in leading), (anchor, leading)
    chosen = bob_client.get(url(trained, "similar/preview.json"), form_data(preview_product="b2")).json()
    assert chosen["product_id"] == "b2"
    assert [i["product_id"][0] for i in chosen["items"][:3]] == ["b", "b", "b"]
