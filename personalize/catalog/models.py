"""A shop's products and the feed imports that fill them."""

from django.conf import settings
from django.db import models

from personalize.shops.models import ShopOwned

CATEGORY_SEPARATOR = " > "


class Product(ShopOwned):
    product_id = models.CharField(max_length=128, help_text="The merchant's own id.")
    title = models.CharField(max_length=500)
    url = models.URLField(max_length=2048, blank=True)
    image_url = models.URLField(max_length=2048, blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    categories = models.JSONField(default=list, blank=True, help_text='A path, e.g. ["Women", "Dresses"].')
    # The path joined with CATEGORY_SEPARATOR: filters match it and its prefixes with one index.
    category_path = models.CharField(max_length=1000, blank=True)
    brand = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    in_stock = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "product_id"], name="product_unique_id")]
        indexes = [
            models.Index(fields=["shop", "category_path"]),
            models.Index(fields=["shop", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.title}"


class FeedImport(ShopOwned):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED)]
    CSV, XML = "csv", "xml"
    FORMATS = [(CSV, "CSV"), (XML, "Google Shopping XML")]
    MAX_STORED_ERRORS = 200

    source = models.CharField(max_length=2048, help_text="File name or URL.")
    file = models.FileField(upload_to="feeds/%Y/%m/", blank=True)
    format = models.CharField(max_length=8, choices=FORMATS, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED)
    total_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="[{line, product_id, errors}], the first ones."
    )
    failure = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "created_at"])]

    @property
    def progress(self) -> float:
        if self.status == self.DONE:
            return 1.0
        return min(1.0, self.bytes_read / self.total_bytes) if self.total_bytes else 0.0
