"""The Celery app. Tasks live in each app's tasks.py and take ids, never objects."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalize.settings")

app = Celery("personalize")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
