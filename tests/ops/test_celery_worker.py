"""A real Celery worker process, on the configured broker (Redis in CI, the filesystem transport
otherwise) and the test database, runs a task queued by the product's own code."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from personalize.catalog.models import FeedImport, Product
from personalize.catalog.services import start_feed_import
from personalize.celery import app as celery_app
from personalize.recommend.models import ModelVersion
from personalize.recommend.training import request_training, train_version
from tests.recommend.test_training import make_taste_groups

ROOT = Path(__file__).resolve().parents[2]
FEED = b"product_id,title,price,categories\nw-1,Worker Mug,4.50,Kitchen > Mugs\nw-2,Worker Bag,9.00,Bags\n"


def database_url_of_this_test() -> str:
    """The URL of the test database, for the worker process to open the same one."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


@pytest.fixture
def worker_queue(settings, tmp_path):
    """A queue of this test's own, served by a worker process started for it: one prefork child,
    so a test can kill the child mid-task as a crash would."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.PZ_MODEL_DIR = tmp_path / "models"
    env = dict(
        os.environ,
        DATABASE_URL=database_url_of_this_test(),
        CELERY_TASK_ALWAYS_EAGER="0",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PZ_MODEL_DIR=str(settings.PZ_MODEL_DIR),
    )
    log = tmp_path / "worker.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "personalize",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "-Q",
        queue,
        "--without-gossip",
        "--without-mingle",
        "--loglevel=warning",
    ]
    with log.open("w") as output:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    worker.log = log
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
        celery_app.conf.task_default_queue = "celery"
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def wait_for(condition, worker, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and worker.poll() is None:
        if condition():
            return
        time.sleep(0.2)


def pool_children(worker) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_a_queued_feed_import(shop, worker_queue):
    feed_import = start_feed_import(shop=shop, uploaded_file=ContentFile(FEED, name="feed.csv"))

    wait_for(
        lambda: feed_import.refresh_from_db() or feed_import.status in (FeedImport.DONE, FeedImport.FAILED),
        worker_queue,
    )

    assert worker_queue.poll() is None, f"the worker died: {worker_queue.log.read_text()}"
    assert feed_import.status == FeedImport.DONE, feed_import.failure
    assert feed_import.created == 2
    assert sorted(Product.objects.for_shop(shop).values_list("product_id", flat=True)) == ["w-1", "w-2"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_leaves_the_old_version_active_until_the_retry_finishes(
    shop, worker_queue
):
    make_taste_groups(shop, users_per_group=150)
    old = ModelVersion.objects.create(shop=shop, reason="first")
    train_version(old.id)  # in this process: the version that serves while the next one trains
    old.refresh_from_db()
    assert old.status == ModelVersion.ACTIVE

    new = request_training(shop=shop, reason="after a crash")
    wait_for(lambda: ModelVersion.objects.get(id=new.id).status == ModelVersion.TRAINING, worker_queue)
    children = pool_children(worker_queue)
    assert children, f"no pool process to kill: {worker_queue.log.read_text()}"
    os.kill(children[0], signal.SIGKILL)  # the process training the shop dies, as on an OOM kill

    old.refresh_from_db()
    assert old.status == ModelVersion.ACTIVE
    wait_for(
        lambda: ModelVersion.objects.get(id=new.id).status
        not in (ModelVersion.QUEUED, ModelVersion.TRAINING),
        worker_queue,
        seconds=240,
    )

    new.refresh_from_db()
    old.refresh_from_db()
    assert worker_queue.poll() is None, f"the worker died: {worker_queue.log.read_text()}"
    assert ModelVersion.objects.for_shop(shop).count() == 2  # the retry trained the same version again
    assert new.attempts == 2
    assert new.status in (ModelVersion.ACTIVE, ModelVersion.REJECTED), new.error
    assert ModelVersion.objects.for_shop(shop).active().count() == 1
    assert (old.status, new.status) in (
        (ModelVersion.RETIRED, ModelVersion.ACTIVE),
        (ModelVersion.ACTIVE, ModelVersion.REJECTED),
    )
