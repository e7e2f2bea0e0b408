from django.contrib import admin

from personalize.catalog.models import FeedImport, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "product_id",
        "title",
        "shop",
        "price",
        "currency",
        "category_path",
        "in_stock",
        "updated_at",
    )
    list_filter = ("in_stock",)
    list_select_related = ("shop",)
    search_fields = ("product_id", "title", "brand", "category_path")
    raw_id_fields = ("shop",)
    readonly_fields = ("category_path", "created_at", "updated_at")


@admin.register(FeedImport)
class FeedImportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "shop",
        "source",
        "format",
        "status",
        "rows_read",
        "created",
        "updated",
        "rejected",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "format")
    list_select_related = ("shop",)
    search_fields = ("source",)
    raw_id_fields = ("shop", "created_by")
    readonly_fields = (
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
    )
