"""HTTP endpoints of the events app: collect (the snippet's hot path), orders, visitor privacy."""

import json

import orjson
from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize.events import ratelimit
from personalize.events.serializers import (
    AcceptedSerializer,
    CollectRequestSerializer,
    ErrorSerializer,
    OrderSerializer,
)
from personalize.events.services import (
    CollectResult,
    OrderIn,
    erase_visitor,
    export_visitor,
    prepare_events,
    record_orders,
    store_events,
)
from personalize.events.validation import validate_order
from personalize.lib import cache as batch_cache
from personalize.lib.http import json_error, plain_json_answer
from personalize.shops.services import resolve_request_shop
from personalize.shops.tenancy import ShopAPIView


def error(status: int, field: str, reason: str, **headers) -> Response:
    return Response({"detail": reason, "errors": {field: [reason]}}, status=status, headers=headers)


def allow_cors(response: Response, origin: str | None) -> Response:
    """Let the page read the answer. Only reached once the origin is known to be allowed."""
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


class CollectView(APIView):
    """POST /api/v1/collect. Parsing, auth and CORS are done here, by hand, because this is the
    hottest path of the service and the body arrives as text/plain (no preflight)."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="collect",
        summary="Send a batch of events",
        description=(
            "Body as JSON, also accepted as text/plain so browsers send it without a preflight. "
            "Authenticate with `site_key` in the body (from an allowed origin) or with "
            "`Authorization: Bearer sk_…`. Good events are stored even when others are rejected; "
            "each event is stored once per shop by its `event_id`."
        ),
        request=CollectRequestSerializer,
        responses={
            200: AcceptedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Malformed JSON or body shape"),
            403: OpenApiResponse(ErrorSerializer, description="Unknown key or disallowed origin"),
            413: OpenApiResponse(ErrorSerializer, description="Over 512 KB or over 100 events"),
            429: OpenApiResponse(ErrorSerializer, description="Over the shop's rate; see Retry-After"),
        },
        auth=[],
    )
    def post(self, request):
        origin = request.META.get("HTTP_ORIGIN")
        limit = settings.PZ_COLLECT_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            return json_error(413, "body", f"must be at most {limit // 1024} KB")
        raw = request.read(limit + 1)
        if len(raw) > limit:
            return json_error(413, "body", f"must be at most {limit // 1024} KB")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Not strict JSON in UTF-8 (bad bytes, NaN, huge integers…): the standard parser decides,
            # and surrogateescape keeps non-UTF-8 bytes visible, so only the event holding them is
            # rejected.
            try:
                body = json.loads(raw.decode("utf-8", errors="surrogateescape"))
            except ValueError as exc:
                return json_error(400, "body", f"is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return json_error(400, "body", "must be a JSON object with site_key and events")

        shop, denial = resolve_request_shop(
            authorization=request.META.get("HTTP_AUTHORIZATION", ""),
            site_key=body.get("site_key"),
            origin=origin,
            referer=request.META.get("HTTP_REFERER"),
        )
        if denial is not None:
            return json_error(403, *denial)
        events = body.get("events")
        if not isinstance(events, list):
            return json_error(400, "events", "must be a list of events", origin=origin)
        if len(events) > settings.PZ_COLLECT_MAX_EVENTS:
            return json_error(
                413, "events", f"must hold at most {settings.PZ_COLLECT_MAX_EVENTS} events", origin=origin
            )
        if not events:
            return plain_json_answer(CollectResult().as_json(), origin=origin)
        prepared = prepare_events(shop=shop, batch=events)
        # The budget and the batch's cache reads in one round trip; every event sent counts. The
        # limiter lives in the cache: without it the batch is stored unthrottled (cached None), as
        # the events' record is PostgreSQL and a shop's data outranks its rate.
        retry_after, cached = batch_cache.attempt(
            lambda: ratelimit.take_events(
                shop_id=shop.id, limit=shop.collect_rate_limit, count=len(events), read=prepared.cache_keys
            ),
            default=(None, None),
        )
        if retry_after is not None:
            return json_error(
                429,
                "events",
                "over the shop's event rate; retry later",
                origin=origin,
                **{"Retry-After": str(retry_after)},
            )
        result = store_events(prepared, cached=cached) if prepared.events else prepared.result
        return plain_json_answer(result.as_json(), origin=origin)

    def dispatch(self, request, *args, **kwargs):
        # The hot path answers Django's request directly (see personalize.lib.http); the CORS
        # preflight and other methods go the DRF way.
        if request.method == "POST":
            return self.post(request)
        return super().dispatch(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        """CORS preflight, for clients that send application/json. The POST itself checks the key."""
        response = Response(status=204)
        origin = request.META.get("HTTP_ORIGIN")
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = "86400"
            response["Vary"] = "Origin"
        return response


class OrdersView(ShopAPIView):
    @extend_schema(
        operation_id="orders_create",
        summary="Record server-side orders",
        description=(
            'One order object, a list of them, or {"orders": [...]}. Deduplicated with purchase events '
            "by `order_id`: an order counts once per shop, however often it is sent."
        ),
        request=OrderSerializer(many=True),
        responses={200: AcceptedSerializer, 400: ErrorSerializer},
    )
    def post(self, request):
        body = request.data
        orders = body.get("orders") if isinstance(body, dict) and "orders" in body else body
        if isinstance(orders, dict):
            orders = [orders]
        if not isinstance(orders, list):
            return error(400, "orders", "must be an order object or a list of them")
        if len(orders) > 1000:
            return error(413, "orders", "must hold at most 1000 orders")
        result = CollectResult()
        valid = []
        now = timezone.now()
        skew = timezone.timedelta(seconds=settings.PZ_MAX_CLOCK_SKEW_SECONDS)
        for index, raw in enumerate(orders):
            order, errors = validate_order(raw, now=now, max_skew=skew)
            if errors:
                order_id = raw.get("order_id") if isinstance(raw, dict) else None
                result.rejected.append({"index": index, "order_id": order_id, "errors": errors})
            else:
                valid.append(
                    OrderIn(
                        order_id=order["order_id"],
                        revenue=order["revenue"],
                        ts=order["ts"],
                        lines=order["items"],
                        visitor_id=order["visitor_id"],
                        customer_id=order["customer_id"],
                        currency=order["currency"] or self.shop.currency,
                    )
                )
        created = record_orders(shop=self.shop, orders=valid, source="api") if valid else set()
        result.accepted = len(created)
        result.duplicates = len(valid) - len(created)
        return Response(result.as_json())


class VisitorView(ShopAPIView):
    @extend_schema(
        operation_id="visitor_export",
        summary="Export everything stored about a visitor",
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
    )
    def get(self, request, visitor_id: str):
        exported = export_visitor(shop=self.shop, visitor_id=visitor_id)
        if exported is None:
            return error(404, "visitor_id", "no such visitor")
        return Response(exported)

    @extend_schema(
        operation_id="visitor_erase",
        summary="Erase a visitor's events and profile",
        description=(
            "Orders stay as anonymous sales (visitor and customer ids cleared), so revenue totals hold. "
            "The active model stops using what it learnt of the visitor (and of the customer ids they "
            "identified as or ordered under) at once."
        ),
        responses={
            200: inline_serializer(
                "Erased",
                {
                    "events_deleted": serializers.IntegerField(),
                    "profile_deleted": serializers.BooleanField(),
                    "orders_anonymized": serializers.IntegerField(),
                    "analytics_days_deleted": serializers.IntegerField(),
                },
            ),
            404: ErrorSerializer,
        },
    )
    def delete(self, request, visitor_id: str):
        erased = erase_visitor(shop=self.shop, visitor_id=visitor_id)
        if erased is None:
            return error(404, "visitor_id", "no such visitor")
        return Response(erased)
