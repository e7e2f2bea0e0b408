"""Recommendations while the cache (Redis) is down: every widget still answers, from the state a
process has loaded or, in a process that had not, from the database, without the session's
activity, instead of failing the page."""

import pytest

from personalize.recommend import store
from personalize.recommend.models import WIDGETS
from tests.factories import make_event
from tests.recommend.conftest import collect, make_catalog, product_ids, recommendations, train_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(shop):
    make_catalog(shop)
    version = train_model(shop)
    assert recommendations(shop, "trending").status_code == 200  # this process loads the shop
    return version


@pytest.mark.parametrize("widget", WIDGETS)
def test_a_loaded_shop_answers_every_widget_with_the_cache_down(shop, loaded, widget, request):
    request.getfixturevalue("cache_at_closed_port")
    for _ in range(2):  # the refused call, then the break that skips the cache
        answer = recommendations(shop, widget, visitor_id="a-shopper-0", product_id="a1", cart="a1")
        assert answer.status_code == 200
        assert answer.json()["model_version"] == loaded.id
        assert answer.json()["items"]


@pytest.mark.parametrize("widget", WIDGETS)
def test_a_process_that_had_not_loaded_the_shop_loads_it_from_the_database(shop, loaded, widget, request):
    store.forget_loaded_state()
    request.getfixturevalue("cache_at_closed_port")
    answer = recommendations(shop, widget, visitor_id="a-shopper-0", product_id="a1", cart="a1")
    assert answer.status_code == 200
    assert answer.json()["model_version"] == loaded.id
    assert answer.json()["items"]


def test_a_shop_without_a_model_answers_trending_from_its_events(shop, request):
    make_catalog(shop)
    collect(shop, [make_event("product_view", visitor_id=f"v-{i}", product_id="b4") for i in range(3)])
    assert product_ids(recommendations(shop, "trending"))[0] == "b4"
    store.forget_loaded_state()  # nothing held: the shared list would come from the cache
    request.getfixturevalue("cache_at_closed_port")
    answer = recommendations(shop, "trending")
    assert answer.status_code == 200
    assert answer.json()["model_version"] is None
    assert product_ids(answer)[0] == "b4"
