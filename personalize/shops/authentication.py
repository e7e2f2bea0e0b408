"""DRF authentication for secret keys. Kept apart from the views so DRF's settings can import it early."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from personalize.shops.models import SecretKey
from personalize.shops.services import resolve_secret_key


class SecretKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer sk_…` -> the key's shop becomes request.shop."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer sk_…'")
        key = resolve_secret_key(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked secret key")
        return (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasShop(permissions.BasePermission):
    message = "A secret key is required: Authorization: Bearer sk_…"

    def has_permission(self, request, view):
        return isinstance(request.auth, SecretKey)


class SecretKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes secret-key auth in the OpenAPI schema."""

    target_class = "personalize.shops.authentication.SecretKeyAuthentication"
    name = "secretKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A shop's secret API key: `Bearer sk_…`"}
