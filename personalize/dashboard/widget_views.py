"""The widgets page: each widget type's placement settings, merchandising rules and diversity cap,
with a live preview of the real recommendations the unsaved settings would give."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from personalize.campaigns.defaults import DEFAULT_WIDGET_LIMIT, LAYOUTS, WIDGET_TITLES, default_locale
from personalize.campaigns.models import WidgetSettings
from personalize.campaigns.services import set_widget_settings
from personalize.dashboard import forms
from personalize.recommend import serving
from personalize.recommend.admin_services import (
    get_recommender_config,
    preview,
    set_widget_rules,
    update_recommender_config,
    widget_rules,
)
from personalize.recommend.models import WIDGETS, WidgetRule
from personalize.shops.models import Membership, Shop
from personalize.shops.services import access_shop

NEEDS_PRODUCT = {"similar", "bought_together"}


def _page(request, template, shop: Shop, membership: Membership, status=200, **context) -> HttpResponse:
    context.update(shop=shop, membership=membership, is_owner=membership.is_owner, tab="widgets")
    return render(request, template, context, status=status)


def _widget_or_404(widget: str) -> str:
    if widget not in WIDGETS:
        raise Http404("No such widget type")
    return widget


@login_required
@require_GET
def widgets_page(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    saved = {row.widget: row for row in WidgetSettings.objects.for_shop(shop)}
    counts: dict[str, int] = {}
    for widget in WidgetRule.objects.for_shop(shop).values_list("widget", flat=True):
        counts[widget] = counts.get(widget, 0) + 1
    rows = []
    for widget in WIDGETS:
        row = saved.get(widget)
        rows.append(
            {
                "widget": widget,
                "title": (row and row.title) or WIDGET_TITLES[widget],
                "limit": (row and row.limit) or DEFAULT_WIDGET_LIMIT,
                "layout": (row and row.layout) or LAYOUTS[0],
                "category": row.category if row else "",
                "min_price": row.min_price if row else None,
                "max_price": row.max_price if row else None,
                "rules": counts.get(widget, 0) + counts.get("*", 0),
            }
        )
    return _page(
        request,
        "dashboard/widgets.html",
        shop,
        membership,
        widgets=rows,
        max_per_category=get_recommender_config(shop=shop).max_per_category,
    )


def _settings_initial(shop: Shop, widget: str) -> dict:
    row = WidgetSettings.objects.for_shop(shop).filter(widget=widget).first()
    initial = {"max_per_category": get_recommender_config(shop=shop).max_per_category}
    if row is not None:
        initial.update(
            title=row.title,
            limit=row.limit,
            layout=row.layout,
            category=row.category,
            min_price=row.min_price,
            max_price=row.max_price,
        )
    return initial


def _rules_initial(shop: Shop, widget: str) -> list[dict]:
    return [
        {
            "action": r.action,
            "target": r.target,
            "value": r.value,
            "factor": r.factor if r.action == WidgetRule.BOOST else None,
            "slot": r.position + 1 if r.action == WidgetRule.PIN else None,
        }
        for r in widget_rules(shop=shop, widget=widget)
    ]


def _bound(data, shop: Shop, widget: str):
    form = forms.WidgetSettingsForm(data, initial=_settings_initial(shop, widget))
    rules = forms.RuleFormSet(data, prefix="rules", initial=_rules_initial(shop, widget))
    return form, rules


@login_required
@require_http_methods(["GET", "POST"])
def widget_edit(request: HttpRequest, shop_id: int, widget: str) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    widget = _widget_or_404(widget)
    if request.method == "POST":
        form, rules = _bound(request.POST, shop, widget)
        if form.is_valid() and rules.is_valid():
            data = form.cleaned_data
            drafts = [d for d in (f.draft() for f in rules.forms) if d]
            try:
                with transaction.atomic():
                    set_widget_settings(
                        shop=shop,
                        widget=widget,
                        title=data["title"].strip(),
                        limit=data["limit"],
                        layout=data["layout"],
                        category=data["category"],
                        min_price=data["min_price"],
                        max_price=data["max_price"],
                    )
                    set_widget_rules(shop=shop, widget=widget, rules=drafts)
                    update_recommender_config(shop=shop, max_per_category=data["max_per_category"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request, f"{WIDGET_TITLES[widget]} ({widget}) saved. The store shows it within a minute."
                )
                return redirect("dashboard:widget_edit", shop_id=shop.id, widget=widget)
        status = 400
    else:
        form = forms.WidgetSettingsForm(initial=_settings_initial(shop, widget))
        rules = forms.RuleFormSet(prefix="rules", initial=_rules_initial(shop, widget))
        status = 200
    return _page(
        request,
        "dashboard/widget_edit.html",
        shop,
        membership,
        status=status,
        widget=widget,
        default_title=WIDGET_TITLES[widget],
        needs_product=widget in NEEDS_PRODUCT,
        form=form,
        rules=rules,
        locale=shop.locale or default_locale(shop.currency),
    )


def _errors_json(form, rules) -> dict:
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    for i, rule_errors in enumerate(rules.errors if rules.is_bound else []):
        for name, errs in rule_errors.items():
            errors[f"rules-{i}-{name}"] = [str(e) for e in errs]
    for e in rules.non_form_errors():
        errors.setdefault("rules", []).append(str(e))
    return errors


@login_required
@require_GET
def widget_preview(request: HttpRequest, shop_id: int, widget: str) -> JsonResponse:
    """The real recommendations the edited (unsaved) settings give, for this shop only."""
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    widget = _widget_or_404(widget)
    form, rules = _bound(request.GET, shop, widget)
    if not (form.is_valid() and rules.is_valid()):
        return JsonResponse(
            {"detail": "Fix the highlighted fields.", "errors": _errors_json(form, rules)}, status=400
        )
    data = form.cleaned_data
    drafts = [d for d in (f.draft() for f in rules.forms) if d]
    product_id = data["preview_product"].strip()
    if widget in NEEDS_PRODUCT and not product_id:
        # Previewed on the shop's top trending product, as on a busy product page.
        top = serving.recommend(shop=shop, query=serving.Query(widget="trending", limit=1))["items"]
        product_id = top[0]["product_id"] if top else ""
    query = serving.Query(
        widget=widget,
        product_id=product_id,
        limit=data["limit"] or DEFAULT_WIDGET_LIMIT,
        category=data["category"],
        min_price=float(data["min_price"]) if data["min_price"] is not None else None,
        max_price=float(data["max_price"]) if data["max_price"] is not None else None,
    )
    answer = preview(shop=shop, query=query, rules=drafts, max_per_category=data["max_per_category"])
    answer["product_id"] = product_id
    answer["title"] = data["title"].strip() or WIDGET_TITLES[widget]
    answer["layout"] = data["layout"] or LAYOUTS[0]
    answer["locale"] = shop.locale or default_locale(shop.currency)
    response = JsonResponse(answer)
    response["Cache-Control"] = "no-store"
    return response
