"""The ROI overview's data for the dashboard, its CSV export and the live feed's polling endpoint.

The overview page itself is the dashboard's shop home (dashboard.views.shop_home), which takes its
context from `roi_context`. Every view resolves the shop through `access_shop` (404 for strangers).
"""

from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from personalize.analytics import live
from personalize.analytics.report import PRESET_DAYS, export_csv, overview
from personalize.events.models import Event
from personalize.shops.models import Shop
from personalize.shops.services import access_shop

DEFAULT_DAYS = 30
MAX_DAYS = 366
TABLES = ("days", "widgets", "campaigns", "uplift")


class BadInput(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason

    def response(self) -> JsonResponse:
        return JsonResponse({"detail": "Invalid request.", "errors": {self.field: [self.reason]}}, status=400)


def parse_range(params, today: date) -> tuple[date, date]:
    """`start` and `end` (YYYY-MM-DD, both included); default: the last 30 days up to today (UTC)."""
    values = {}
    for name in ("start", "end"):
        raw = params.get(name, "").strip()
        if raw:
            try:
                values[name] = date.fromisoformat(raw)
            except ValueError:
                raise BadInput(name, "must be a date as YYYY-MM-DD") from None
    end = values.get("end", today)
    start = values.get("start", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise BadInput("start", "must not be after end")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadInput("start", f"the range may cover at most {MAX_DAYS} days")
    return start, end


def roi_context(*, request: HttpRequest, shop: Shop) -> tuple[dict, int]:
    """The overview page's context for the requested range, and the status (400 on a bad range)."""
    today = timezone.now().date()
    try:
        start, end = parse_range(request.GET, today)
        error, status = None, 200
    except BadInput as exc:
        start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
        error, status = exc, 400
    report = overview(shop=shop, start=start, end=end)
    return {
        "report": report,
        "range_error": error,
        "installed": Event.objects.for_shop(shop).exists(),
        "presets": [
            {"days": n, "start": (today - timedelta(days=n - 1)).isoformat(), "end": today.isoformat()}
            for n in PRESET_DAYS
        ],
        "range_query": f"start={start.isoformat()}&end={end.isoformat()}",
        "source_tables": [
            ("Widgets", report["widgets"], "widgets"),
            ("Campaigns", report["campaigns"], "campaigns"),
        ],
    }, status


@login_required
@require_GET
def export(request: HttpRequest, shop_id: int, table: str) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    try:
        if table not in TABLES:
            raise BadInput("table", f"must be one of {', '.join(TABLES)}")
        start, end = parse_range(request.GET, timezone.now().date())
    except BadInput as exc:
        return exc.response()
    report = overview(shop=shop, start=start, end=end, with_uplift=table == "uplift")
    body = export_csv(shop=shop, report=report, table=table)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shop-{shop.id}-{table}-{start}-{end}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def live_feed(request: HttpRequest, shop_id: int) -> JsonResponse:
    """The live card's snapshot, for pages that cannot open the websocket (they poll this)."""
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    response = JsonResponse(live.snapshot(shop=shop))
    response["Cache-Control"] = "no-store"
    return response
