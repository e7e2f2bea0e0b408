"""Load-balancer probes: /healthz says the process answers, /readyz that its backends do."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    down = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        down["database"] = str(exc)[:200]
    if settings.REDIS_URL:
        try:
            cache.client.get_client().ping()
        except Exception as exc:
            down["redis"] = str(exc)[:200]
    if down:
        return JsonResponse({"status": "unavailable", "down": down}, status=503)
    return JsonResponse({"status": "ok"})
