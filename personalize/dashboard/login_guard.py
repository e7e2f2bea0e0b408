"""Brute-force protection of the login form (django-axes, settings.AXES_*): whom and from where a
failed attempt counts against."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def login_username(request: HttpRequest, credentials: dict | None) -> str:
    """The account an attempt names, as the login form reads it (emails are stored lower-cased)."""
    value = (credentials or {}).get("username") or request.POST.get("username") or ""
    return value.strip().lower()


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind PZ_PROXY_COUNT proxies the address the outermost
    one saw (the count-th from the right of X-Forwarded-For; what the client wrote to its left is
    not trusted)."""
    count = settings.PZ_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def locked_out(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """429 with a page that says how long the pause lasts."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "dashboard/locked_out.html", context, status=429)
