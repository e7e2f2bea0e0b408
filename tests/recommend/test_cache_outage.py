"""Recommendations while the cache (Redis) is down: a process that has the shop loaded answers
every widget from that state, without the session's activity, instead of failing the page."""

import pytest

from personalize.recommend.models import WIDGETS
from tests.recommend.conftest import make_catalog, recommendations, train_model

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
