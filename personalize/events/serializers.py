"""Shapes for the OpenAPI schema. Validation itself is in validation.py: it is faster and per field."""

from rest_framework import serializers

from personalize.events.validation import EVENT_TYPES


class ItemSerializer(serializers.Serializer):
    product_id = serializers.CharField(max_length=128)
    quantity = serializers.IntegerField(min_value=1, default=1)
    price = serializers.FloatField(min_value=0, required=False)


class EventSerializer(serializers.Serializer):
    event_id = serializers.UUIDField(help_text="Made by the client; stored once per shop.")
    type = serializers.ChoiceField(choices=sorted(EVENT_TYPES))
    visitor_id = serializers.CharField(max_length=64)
    session_id = serializers.CharField(max_length=64, required=False, help_text="Derived when absent.")
    customer_id = serializers.CharField(max_length=128, required=False)
    ts = serializers.CharField(required=False, help_text="ISO 8601 or epoch milliseconds.")
    url = serializers.CharField(max_length=2048, required=False)
    referrer = serializers.CharField(max_length=2048, required=False)
    product_id = serializers.CharField(
        max_length=128,
        required=False,
        help_text="Required for product_view, add_to_cart, remove_from_cart, rec_click.",
    )
    quantity = serializers.IntegerField(min_value=1, required=False)
    price = serializers.FloatField(min_value=0, required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    order_id = serializers.CharField(max_length=128, required=False, help_text="Required for purchase.")
    items = ItemSerializer(many=True, required=False, help_text="Required for purchase.")
    revenue = serializers.FloatField(min_value=0, required=False, help_text="Defaults to the items' total.")
    query = serializers.CharField(max_length=512, required=False, help_text="Required for search.")
    rec_id = serializers.CharField(
        max_length=64, required=False, help_text="Required for rec_impression, rec_click."
    )
    campaign_id = serializers.CharField(max_length=64, required=False, help_text="Required for campaign_*.")
    properties = serializers.DictField(required=False, help_text="At most 4 KB of JSON.")


class CollectRequestSerializer(serializers.Serializer):
    site_key = serializers.CharField(required=False, help_text="pk_…; omit when sending a secret key header.")
    events = EventSerializer(many=True, max_length=100)


class RejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class OrderSerializer(serializers.Serializer):
    order_id = serializers.CharField(max_length=128)
    visitor_id = serializers.CharField(max_length=64, required=False)
    customer_id = serializers.CharField(max_length=128, required=False)
    items = ItemSerializer(many=True)
    revenue = serializers.FloatField(min_value=0, required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    ts = serializers.CharField(required=False)
