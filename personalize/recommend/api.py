"""GET /api/v1/recommendations: the snippet's read path (site key + allowed origin) and servers'
(secret key). Parsing and access are done by hand, like collect, because this path is hot."""

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from personalize.events.serializers import ErrorSerializer
from personalize.lib.http import json_error, plain_json_answer
from personalize.recommend.models import WIDGETS
from personalize.recommend.rules import normalize_category
from personalize.recommend.serving import Query, recommend
from personalize.shops.services import resolve_request_shop

MAX_LIMIT = 50
DEFAULT_LIMIT = 8
MAX_CART = 100
NEEDS_PRODUCT = ("similar", "bought_together")
_TEXT_LIMITS = {"visitor_id": 64, "session_id": 64, "customer_id": 128, "product_id": 128, "category": 1000}


class BadParam(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


class RecommendedItemSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    image_url = serializers.CharField()
    price = serializers.FloatField(allow_null=True)
    currency = serializers.CharField()
    score = serializers.FloatField(help_text="What the list is ordered by (pins keep their slot).")
    reason = serializers.CharField(help_text='Why it is shown, e.g. "Because you viewed X".')


class RecommendationsSerializer(serializers.Serializer):
    rec_id = serializers.CharField(help_text="Send it back with rec_impression and rec_click events.")
    widget = serializers.ChoiceField(choices=WIDGETS)
    model_version = serializers.IntegerField(allow_null=True, help_text="The model version that ranked it.")
    holdout = serializers.BooleanField(help_text="The visitor is in the shop's hold-out group.")
    items = RecommendedItemSerializer(many=True)


def parse_query(params) -> Query:
    """Query parameters -> Query; BadParam names the first bad field."""
    widget = params.get("widget", "")
    if not widget:
        raise BadParam("widget", "is required")
    if widget not in WIDGETS:
        raise BadParam("widget", f"must be one of: {', '.join(WIDGETS)}")
    text = {}
    for name, max_len in _TEXT_LIMITS.items():
        value = params.get(name, "").strip()
        if len(value) > max_len:
            raise BadParam(name, f"must be at most {max_len} characters")
        if "\x00" in value:
            raise BadParam(name, "must not contain NUL characters")
        text[name] = value
    if widget in NEEDS_PRODUCT and not text["product_id"]:
        raise BadParam("product_id", f"is required for {widget}")

    limit = DEFAULT_LIMIT
    if params.get("limit", "") != "":
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadParam("limit", f"must be a whole number from 1 to {MAX_LIMIT}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadParam("limit", f"must be a whole number from 1 to {MAX_LIMIT}")

    cart = [p.strip() for p in params.get("cart", "").split(",") if p.strip()]
    if len(cart) > MAX_CART:
        raise BadParam("cart", f"must list at most {MAX_CART} product ids")
    if any(len(p) > 128 for p in cart):
        raise BadParam("cart", "product ids must be at most 128 characters")

    prices = {name: _price(params, name) for name in ("min_price", "max_price")}
    if None not in prices.values() and prices["min_price"] > prices["max_price"]:
        raise BadParam("max_price", "must not be below min_price")

    return Query(
        widget=widget,
        visitor_id=text["visitor_id"],
        session_id=text["session_id"],
        customer_id=text["customer_id"],
        product_id=text["product_id"],
        cart=cart,
        limit=limit,
        category=normalize_category(text["category"]),
        min_price=prices["min_price"],
        max_price=prices["max_price"],
    )


def _price(params, name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadParam(name, "must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise BadParam(name, "must be a number of 0 or more")
    return value


class RecommendationsView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="recommendations",
        summary="Recommendations for a widget",
        description=(
            "Authenticate with `site_key` (from one of the shop's allowed origins) or with "
            "`Authorization: Bearer sk_…`. Items are in stock, never the product itself or what is in "
            "the cart. A shop with no model or no data still answers, through the fallback chain "
            "(personal → similar → trending → newest)."
        ),
        parameters=[
            OpenApiParameter("site_key", OpenApiTypes.STR, description="The shop's public key (pk_…)."),
            OpenApiParameter("widget", OpenApiTypes.STR, required=True, enum=list(WIDGETS)),
            OpenApiParameter("visitor_id", OpenApiTypes.STR, description="The snippet's visitor id."),
            OpenApiParameter("session_id", OpenApiTypes.STR, description="The snippet's session id."),
            OpenApiParameter("customer_id", OpenApiTypes.STR, description="The merchant's own user id."),
            OpenApiParameter(
                "product_id", OpenApiTypes.STR, description="Required for similar and bought_together."
            ),
            OpenApiParameter("cart", OpenApiTypes.STR, description="Comma-separated product ids."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Default {DEFAULT_LIMIT}, at most {MAX_LIMIT}."
            ),
            OpenApiParameter(
                "category",
                OpenApiTypes.STR,
                description='A category path ("Women > Dresses") or a prefix of one.',
            ),
            OpenApiParameter("min_price", OpenApiTypes.NUMBER),
            OpenApiParameter("max_price", OpenApiTypes.NUMBER),
        ],
        responses={
            200: RecommendationsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad parameter, named"),
            403: OpenApiResponse(ErrorSerializer, description="Unknown key or disallowed origin"),
        },
        auth=[],
    )
    def get(self, request):
        origin = request.META.get("HTTP_ORIGIN")
        shop, denial = resolve_request_shop(
            authorization=request.META.get("HTTP_AUTHORIZATION", ""),
            site_key=request.GET.get("site_key"),
            origin=origin,
            referer=request.META.get("HTTP_REFERER"),
        )
        if denial is not None:
            return _private(json_error(403, *denial))
        try:
            query = parse_query(request.GET)
        except BadParam as exc:
            return _private(json_error(400, exc.field, exc.reason, origin=origin))
        return _private(plain_json_answer(recommend(shop=shop, query=query), origin=origin))

    def dispatch(self, request, *args, **kwargs):
        # The hot path answers Django's request directly (see personalize.lib.http).
        if request.method == "GET":
            return self.get(request)
        return super().dispatch(request, *args, **kwargs)


def _private(response):
    # Answers are per visitor and change with every event: no shared or stored copies.
    response["Cache-Control"] = "private, no-store"
    return response
