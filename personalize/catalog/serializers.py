"""Shapes of the catalog API. Input rows are validated by services.clean_product (plain Python, fast);
the input serializers here only document them in the OpenAPI schema."""

from rest_framework import serializers

from personalize.catalog.models import FeedImport, Product


class ProductSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=14, decimal_places=4, coerce_to_string=False, allow_null=True)
    categories = serializers.ListField(
        child=serializers.CharField(), help_text='A path, e.g. ["Women", "Dresses"].'
    )
    category_path = serializers.CharField(help_text='The path joined with " > ", e.g. "Women > Dresses".')
    tags = serializers.ListField(child=serializers.CharField())
    attributes = serializers.DictField()

    class Meta:
        model = Product
        fields = [
            "product_id",
            "title",
            "url",
            "image_url",
            "price",
            "currency",
            "categories",
            "category_path",
            "brand",
            "tags",
            "in_stock",
            "attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductInputSerializer(serializers.Serializer):
    """One row of a bulk upsert. The row is the whole product: omitted fields get their defaults."""

    product_id = serializers.CharField(
        max_length=128, help_text="The merchant's own id; a number is taken as text."
    )
    title = serializers.CharField(max_length=500)
    url = serializers.URLField(max_length=2048, required=False, allow_blank=True)
    image_url = serializers.URLField(max_length=2048, required=False, allow_blank=True)
    price = serializers.DecimalField(
        max_digits=14, decimal_places=4, min_value=0, required=False, allow_null=True, coerce_to_string=False
    )
    currency = serializers.CharField(
        min_length=3,
        max_length=3,
        required=False,
        help_text="ISO 4217 code; defaults to the shop's currency.",
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=20,
        help_text='A path, e.g. ["Women", "Dresses"]; the text "Women > Dresses" is accepted too.',
    )
    brand = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    in_stock = serializers.BooleanField(required=False, default=True)
    attributes = serializers.DictField(required=False, help_text="Any JSON object, at most 32 KB.")


class RejectedProductSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in the request's list, from 0.")
    product_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="{FIELD: [REASON]}"
    )


class UpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = RejectedProductSerializer(many=True)


class FeedImportSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = FeedImport
        fields = [
            "id",
            "source",
            "format",
            "status",
            "progress",
            "total_bytes",
            "bytes_read",
            "rows_read",
            "created",
            "updated",
            "rejected",
            "errors",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
