"""Every API route but the public ones needs a secret key: walk the URL conf so a new route cannot
slip through unguarded."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

PUBLIC = {"api/v1/collect"}  # site key + origin, checked inside the view


def api_routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from api_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            yield route


def concrete(route: str) -> str:
    """Fill path converters with a harmless value: '<path:visitor_id>' -> 'x'."""
    import re

    return "/" + re.sub(r"<[^>]+>", "x", route).replace("^", "").replace("$", "")


def test_the_api_has_routes():
    assert len(set(api_routes())) >= 4


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(set(api_routes()) - PUBLIC))
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_every_private_route_refuses_a_request_without_a_secret_key(route, method, shop):
    client = APIClient()
    response = (
        getattr(client, method)(concrete(route), {}, format="json")
        if method == "post"
        else getattr(client, method)(concrete(route) + f"?site_key={shop.site_key}")
    )
    assert response.status_code in (401, 403, 405), f"{method.upper()} {route} -> {response.status_code}"
