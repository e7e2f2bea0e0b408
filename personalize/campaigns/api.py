"""GET /api/v1/config: what the snippet needs on a shop's pages, read with the public site key."""

from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize.campaigns.defaults import LAYOUTS
from personalize.campaigns.models import Campaign
from personalize.campaigns.services import CONFIG_SECONDS, snippet_config
from personalize.events.api import allow_cors, error
from personalize.events.serializers import ErrorSerializer
from personalize.recommend.models import WIDGETS
from personalize.shops.services import resolve_request_shop


class _ShopSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField()
    locale = serializers.CharField(help_text="How to format prices, e.g. en-GB.")


class _ConsentSerializer(serializers.Serializer):
    required = serializers.BooleanField(help_text="Track only after pz('consent', true).")
    honor_gpc = serializers.BooleanField(help_text="Global Privacy Control means no tracking.")
    honor_dnt = serializers.BooleanField(help_text="Do Not Track means no tracking.")


class _HoldoutSerializer(serializers.Serializer):
    share = serializers.FloatField()
    seed = serializers.CharField(
        help_text='A visitor is held out when unit_hash(seed + ":" + visitor_id) < share '
        "(FNV-1a 32 over UTF-8, then MurmurHash3's fmix32, divided by 2**32)."
    )


class _WidgetSerializer(serializers.Serializer):
    title = serializers.CharField()
    limit = serializers.IntegerField()
    layout = serializers.ChoiceField(choices=LAYOUTS)
    category = serializers.CharField(required=False, help_text="Default filter; a placeholder's own wins.")
    min_price = serializers.FloatField(required=False, help_text="Default filter; a placeholder's own wins.")
    max_price = serializers.FloatField(required=False, help_text="Default filter; a placeholder's own wins.")


class _WidgetsSerializer(serializers.Serializer):
    for_you = _WidgetSerializer()
    similar = _WidgetSerializer()
    bought_together = _WidgetSerializer()
    trending = _WidgetSerializer()
    recently_viewed = _WidgetSerializer()
    cart = _WidgetSerializer()


class _BudgetSerializer(serializers.Serializer):
    per_session = serializers.IntegerField(help_text="Campaigns shown per visit at most.")
    per_day = serializers.IntegerField(help_text="Campaigns shown per visitor per day at most.")


class _TriggerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[t for t, _ in Campaign.TRIGGERS])
    delay_seconds = serializers.IntegerField()
    scroll_percent = serializers.IntegerField()


class _ContentSerializer(serializers.Serializer):
    title = serializers.CharField()
    text = serializers.CharField()
    image_url = serializers.CharField()
    cta_text = serializers.CharField()
    cta_url = serializers.CharField()
    coupon_code = serializers.CharField()
    widget = serializers.ChoiceField(choices=WIDGETS, allow_null=True)
    widget_limit = serializers.IntegerField()


class _VariantSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text='The variant ("A" is the original); sent back as properties.variant.'
    )
    upto = serializers.FloatField(
        help_text='Cumulative share: the visitor sees the first variant with unit_hash(visitor_id + ":" + campaign id) '
        "< upto."
    )
    content = _ContentSerializer(required=False, help_text="Absent: the campaign's own content.")


class _CampaignSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Send it back as campaign_id with campaign_* events.")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=[k for k, _ in Campaign.KINDS])
    priority = serializers.IntegerField()
    trigger = _TriggerSerializer()
    targeting = serializers.DictField(help_text="Only the rules that are set; every one must match.")
    content = _ContentSerializer()
    variants = _VariantSerializer(many=True, required=False, help_text="Only for A/B tested campaigns.")


class SnippetConfigSerializer(serializers.Serializer):
    shop = _ShopSerializer()
    consent = _ConsentSerializer()
    holdout = _HoldoutSerializer()
    widgets = _WidgetsSerializer()
    budget = _BudgetSerializer()
    campaigns = _CampaignSerializer(many=True, help_text="Live campaigns, highest priority first.")


class ConfigView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="snippet_config",
        summary="The snippet's settings and live campaigns",
        description=(
            "Read by the snippet with the shop's public `site_key`, from one of its allowed origins. "
            "Only active campaigns inside their schedule are listed, highest priority first. "
            f"The answer is the same for every visitor and may be cached for {CONFIG_SECONDS} s."
        ),
        parameters=[
            OpenApiParameter(
                "site_key", OpenApiTypes.STR, required=True, description="The shop's public key (pk_…)."
            )
        ],
        responses={
            200: SnippetConfigSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Unknown key or disallowed origin"),
        },
        auth=[],
    )
    def get(self, request):
        origin = request.META.get("HTTP_ORIGIN")
        # Site keys only: the answer is publicly cacheable by its URL, which a secret key
        # header (not part of the URL) would make unsafe.
        shop, denial = resolve_request_shop(
            authorization="",
            site_key=request.query_params.get("site_key"),
            origin=origin,
            referer=request.META.get("HTTP_REFERER"),
        )
        if denial is not None:
            response = error(403, *denial)
            response["Cache-Control"] = "no-store"
        else:
            response = allow_cors(Response(snippet_config(shop=shop)), origin)
            response["Cache-Control"] = f"public, max-age={CONFIG_SECONDS}"
        patch_vary_headers(response, ["Origin"])
        return response
