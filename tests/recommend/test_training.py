import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from personalize.events.services import OrderIn, record_events, record_orders
from personalize.recommend import artifacts
from personalize.recommend.models import ModelVersion
from personalize.recommend.training import ShopBusy, model_dir, request_training, train_version, training_lock
from tests.factories import make_product

START = datetime(2026, 1, 1, tzinfo=UTC)


def make_taste_groups(shop, *, users_per_group: int = 40, seed: int = 7) -> None:
    """Two disjoint taste groups of products (kitchen, garden), each user buying within one group
    over 60 days, so a model has something real to learn and a hold-out to be judged on."""
    rng = random.Random(seed)
    groups = {"kitchen": [f"k{i}" for i in range(12)], "garden": [f"g{i}" for i in range(12)]}
    for name, ids in groups.items():
        for pid in ids:
            make_product(shop, pid, title=f"{name} thing {pid}", categories=[name.title()])
    orders, events = [], []
    for name, ids in groups.items():
        for u in range(users_per_group):
            customer = f"{name}-{u}"
            picks = rng.sample(ids, 6)
            for n, pid in enumerate(picks):
                ts = START + timedelta(days=rng.uniform(0, 60))
                orders.append(
                    OrderIn(
                        order_id=f"{customer}-{n}",
                        revenue=10,
                        ts=ts,
                        customer_id=customer,
                        visitor_id=f"v-{customer}",
                        lines=[{"product_id": pid, "quantity": 1, "price": 10}],
                    )
                )
                events.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "type": "product_view",
                        "visitor_id": f"v-{customer}",
                        "customer_id": customer,
                        "product_id": rng.choice(ids),
                        "ts": (ts - timedelta(minutes=5)).isoformat(),
                    }
                )
    record_orders(shop=shop, orders=orders, source="api")
    for start in range(0, len(events), 100):
        record_events(shop=shop, batch=events[start : start + 100], received_at=START + timedelta(days=61))


@pytest.fixture(autouse=True)
def _models_in_tmp(settings, tmp_path):
    settings.PZ_MODEL_DIR = tmp_path / "models"


@pytest.fixture
def train(django_capture_on_commit_callbacks):
    """Queue a training the product's way and run the queued task (inline in tests) at commit."""

    def run(shop, reason="test"):
        with django_capture_on_commit_callbacks(execute=True):
            version = request_training(shop=shop, reason=reason)
        version.refresh_from_db()
        return version

    return run


@pytest.mark.django_db
def test_it_trains_evaluates_and_activates_a_version(shop, train):
    make_taste_groups(shop)
    version = train(shop, "test")

    assert version.status == ModelVersion.ACTIVE, version.decision or version.error
    assert version.metrics["model"]["ndcg"] > version.metrics["popularity"]["ndcg"]
    assert set(version.metrics["model"]) >= {"precision", "recall", "ndcg", "hit_rate", "coverage"}
    assert version.n_items == 24 and version.n_users == 80
    assert version.data_start >= START and version.data_end <= START + timedelta(days=61)
    assert version.train_seconds > 0 and version.algorithm
    stored = artifacts.load(model_dir() / version.artifact)
    assert len(stored.item_ids) == 24
    assert stored.model.item_vectors.shape[0] == 24


@pytest.mark.django_db
def test_the_blend_is_chosen_on_windows_before_the_holdout_then_again_on_the_newest(shop, train):
    make_taste_groups(shop)  # 60 days: windows of a tenth of the events each
    version = train(shop, "test")

    cutoff = datetime.fromisoformat(version.metrics["holdout"]["cutoff"])
    windows = {
        k: [[datetime.fromisoformat(t) for t in w] for w in v]
        for k, v in version.params["validation_windows"].items()
    }
    assert len(windows["candidate"]) == 2 and all(end <= cutoff for _, end in windows["candidate"])
    # the published blend's windows: the hold-out itself, then the candidate's newest one
    newest, second = windows["published"]
    assert abs((newest[0] - cutoff).total_seconds()) < 1e-3 and newest[1] > cutoff
    assert second == windows["candidate"][0]
    # neither was fitted again: both came scored from the candidate's work
    assert len(version.params["selection"]["scored_before"]) == 2
    assert version.params["selection"]["folds"] == 2


@pytest.mark.django_db
def test_the_train_command_prints_the_versions_metrics(shop):
    make_taste_groups(shop)
    out = StringIO()
    call_command("train", "--shop", str(shop.id), stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["status"] == "active"
    assert (
        printed["metrics"]["model"]["ndcg"]
        == ModelVersion.objects.for_shop(shop).get().metrics["model"]["ndcg"]
    )


@pytest.mark.django_db
def test_a_shop_without_enough_data_is_rejected_and_keeps_its_fallbacks(shop, train):
    make_product(shop, "only-one")
    version = train(shop, "test")
    assert version.status == ModelVersion.REJECTED
    assert "Not enough" in version.decision


@pytest.mark.django_db
def test_a_new_version_replaces_the_active_one_atomically(shop, train):
    make_taste_groups(shop)
    first = train(shop, "first")
    second = train(shop, "second")
    first.refresh_from_db()
    assert (first.status, second.status) == (ModelVersion.RETIRED, ModelVersion.ACTIVE)
    assert ModelVersion.objects.for_shop(shop).active().count() == 1


@pytest.mark.django_db
def test_only_one_training_per_shop_is_queued_at_a_time(shop, other_shop, django_capture_on_commit_callbacks):
    make_product(shop, "p")
    with django_capture_on_commit_callbacks(execute=False):
        first = request_training(shop=shop, reason="a")
        assert request_training(shop=shop, reason="b") is None
        assert request_training(shop=other_shop, reason="c") is not None  # other shops are not blocked
    assert ModelVersion.objects.for_shop(shop).count() == 1
    assert first.status == ModelVersion.QUEUED


@pytest.mark.django_db
def test_a_second_training_of_the_same_shop_waits_for_the_lock(shop):
    make_product(shop, "p")
    version = ModelVersion.objects.create(shop=shop)
    held, release = threading.Event(), threading.Event()

    def other_worker():  # its own thread, so its own database session, as another worker would have
        try:
            with training_lock(shop.id) as acquired:
                assert acquired
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(30)
        with pytest.raises(ShopBusy):
            train_version(version.id)
    finally:
        release.set()
        thread.join()
    version.refresh_from_db()
    assert version.status == ModelVersion.QUEUED  # untouched: the task's retry will train it
    with training_lock(shop.id) as acquired:
        assert acquired  # and the lock is free again once the other worker is done


@pytest.mark.django_db
def test_a_failed_training_is_recorded_and_the_active_version_keeps_serving(shop, settings, tmp_path, train):
    make_taste_groups(shop)
    good = train(shop, "good")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the model folder should be")
    settings.PZ_MODEL_DIR = blocker
    bad = train(shop, "bad")
    good.refresh_from_db()
    assert bad.status == ModelVersion.FAILED
    assert "Error" in bad.error
    assert good.status == ModelVersion.ACTIVE


@pytest.mark.django_db
def test_another_shops_data_never_enters_a_model(shop, other_shop, train):
    make_taste_groups(shop)
    make_product(other_shop, "secret-product")
    record_events(
        shop=other_shop,
        batch=[
            {
                "event_id": str(uuid.uuid4()),
                "type": "product_view",
                "visitor_id": "v-kitchen-0",
                "product_id": "secret-product",
            }
        ],
    )
    version = train(shop, "test")
    stored = artifacts.load(model_dir() / version.artifact)
    assert "secret-product" not in set(stored.item_ids.tolist())
    assert version.n_items == 24 and version.n_users == 80


@pytest.mark.django_db
def test_what_a_known_customer_bought_before_training_is_not_recommended_again(shop, train, api):
    from personalize.events.models import OrderLine
    from personalize.recommend.models import RecommenderConfig

    make_taste_groups(shop)
    train(shop, "test")
    bought = set(
        OrderLine.objects.for_shop(shop)
        .filter(order__customer_id="kitchen-0")
        .values_list("product_id", flat=True)
    )

    def for_you():
        answer = api.get(
            "/api/v1/recommendations", {"widget": "for_you", "customer_id": "kitchen-0", "limit": 24}
        )
        return {item["product_id"] for item in answer.json()["items"]}

    assert bought and not bought & for_you()
    config = RecommenderConfig.for_shop(shop)
    config.exclude_purchased = False  # a grocery shop wants buy-again
    config.save()
    from personalize.recommend.store import rules_changed

    rules_changed(shop.id)
    assert bought & for_you()
