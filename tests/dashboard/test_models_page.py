"""The models page: versions with their metrics beside popularity, history, and the retrain button."""

from datetime import timedelta

from django.utils import timezone

from personalize.recommend.models import ModelVersion
from tests.dashboard.conftest import snapshot


def models_url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/models/{rest}"


def make_version(shop, status=ModelVersion.ACTIVE, **fields):
    now = timezone.now()
    defaults = dict(
        status=status,
        reason="schedule",
        algorithm="ials+ease",
        decision="NDCG@10 0.1200 beats popularity (0.0400) by 3.00x.",
        metrics={
            "model": {
                "ndcg": 0.12,
                "precision": 0.09,
                "recall": 0.2,
                "hit_rate": 0.5,
                "coverage": 0.3,
                "users": 77,
            },
            "popularity": {"ndcg": 0.04, "precision": 0.03, "recall": 0.1, "hit_rate": 0.2, "coverage": 0.01},
        },
        data_start=now - timedelta(days=90),
        data_end=now - timedelta(days=1),
        n_users=321,
        n_items=654,
        n_interactions=9876,
        train_seconds=12.5,
        finished_at=now,
        activated_at=now if status == ModelVersion.ACTIVE else None,
    )
    defaults.update(fields)
    return ModelVersion.objects.create(shop=shop, **defaults)


def test_it_shows_versions_with_metrics_beside_popularity(bob_client, shop):
    make_version(shop)
    make_version(
        shop,
        ModelVersion.REJECTED,
        decision="NDCG@10 0.0300 does not beat popularity (0.0400) on the hold-out.",
    )
    make_version(shop, ModelVersion.FAILED, metrics={}, error="Traceback …\nMemoryError: out of memory")
    response = bob_client.get(models_url(shop))
    assert response.status_code == 200
    html = response.content.decode()
    assert "does not beat popularity" in html
    assert "MemoryError: out of memory" in html
    assert "ials+ease" in html and "9876" in html and "12.5 s" in html
    assert "0.1200" in html and "0.0400" in html and "3.00×" in html  # NDCG beside popularity, ratio
    assert [v["status"] for v in response.context["versions"]] == ["failed", "rejected", "active"]
    assert response.context["active"]["n_users"] == 321
    assert '<form method="post"' in html and "csrfmiddlewaretoken" in html


def test_a_shop_without_versions_says_so(alice_client, shop):
    html = alice_client.get(models_url(shop)).content.decode()
    assert "No trained model yet" in html and "No training yet" in html


def test_other_shops_versions_are_not_shown(alice_client, shop, other_shop):
    make_version(other_shop, algorithm="charlies-secret-algo")
    html = alice_client.get(models_url(shop)).content.decode()
    assert "charlies-secret-algo" not in html


def test_retrain_queues_one_training_and_shows_it(bob_client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = bob_client.post(models_url(shop, "retrain/"))
    assert response.status_code == 302 and response["Location"] == models_url(shop)
    version = ModelVersion.objects.for_shop(shop).get()
    assert (version.status, version.reason) == (ModelVersion.QUEUED, "manual")
    assert len(callbacks) == 1  # the Celery task is sent once the version is committed
    page = bob_client.get(models_url(shop))
    assert page.context["pending"]["id"] == version.id
    assert 'is <strong data-field="pending-status">queued</strong>' in page.content.decode()
    status = bob_client.get(models_url(shop, "status.json")).json()
    assert status["pending"] == {"id": version.id, "status": "queued"}

    # one training per shop: a second press queues nothing more
    response = bob_client.post(models_url(shop, "retrain/"), follow=True)
    assert ModelVersion.objects.for_shop(shop).count() == 1
    assert f"Version {version.id} is already queued" in response.content.decode()


def test_retrain_runs_the_real_training_task(alice_client, shop, django_capture_on_commit_callbacks):
    # Celery runs inline in unit tests: the task trains, and a shop with no data is rejected.
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(models_url(shop, "retrain/"))
    version = ModelVersion.objects.for_shop(shop).get()
    assert version.status == ModelVersion.REJECTED
    assert "Not enough interactions" in version.decision
    assert alice_client.get(models_url(shop, "status.json")).json()["pending"] is None


def test_retrain_needs_post_and_csrf(alice, shop):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(models_url(shop, "retrain/")).status_code == 405
    assert client.post(models_url(shop, "retrain/")).status_code == 403
    assert not ModelVersion.objects.for_shop(shop).exists()


def test_outsiders_get_404_and_change_nothing(charlie_client, client, shop):
    before = snapshot()
    for url in (models_url(shop), models_url(shop, "status.json")):
        assert charlie_client.get(url).status_code == 404
    assert charlie_client.post(models_url(shop, "retrain/")).status_code == 404
    assert not ModelVersion.objects.for_shop(shop).exists()
    assert snapshot() == before
    # logged out: to the login page
    response = client.get(models_url(shop))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_page_makes_a_fixed_number_of_queries(bob_client, shop, django_assert_max_num_queries):
    for status in (ModelVersion.ACTIVE, ModelVersion.REJECTED, ModelVersion.FAILED, ModelVersion.RETIRED):
        make_version(shop, status)
    with django_assert_max_num_queries(8):
        assert bob_client.get(models_url(shop)).status_code == 200
