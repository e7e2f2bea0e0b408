"""The campaigns page: list, create, edit, pause/resume and delete pop-ups and exit-intent overlays,
their A/B variants, and the shop's attention budget; the editor previews the dialog as the snippet
draws it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from personalize.campaigns.defaults import default_locale
from personalize.campaigns.models import Campaign, CampaignVariant
from personalize.campaigns.services import (
    create_campaign,
    delete_campaign,
    get_campaign,
    get_snippet_settings,
    set_campaign_variants,
    update_campaign,
    update_snippet_settings,
)
from personalize.campaigns.variants import ORIGINAL, split
from personalize.dashboard import forms
from personalize.recommend import serving
from personalize.recommend.models import WIDGETS
from personalize.shops.models import Membership, Shop
from personalize.shops.services import access_shop


def _page(request, template, shop: Shop, membership: Membership, status=200, **context) -> HttpResponse:
    context.update(shop=shop, membership=membership, is_owner=membership.is_owner, tab="campaigns")
    return render(request, template, context, status=status)


def _shares(bounds: list[tuple[str, float]]) -> list[tuple[str, int]]:
    """[(key, percent)] from the cumulative bounds the snippet gets."""
    shares, previous = [], 0.0
    for key, upto in bounds:
        shares.append((key, round((upto - previous) * 100)))
        previous = upto
    return shares


def _list(request, shop, membership, *, budget_form=None, status=200) -> HttpResponse:
    now = timezone.now()
    campaigns = list(Campaign.objects.for_shop(shop).prefetch_related("variants").order_by("-priority", "id"))
    rows = [
        {
            "campaign": c,
            "live": c.is_live(now),
            "split": _shares(split(list(c.variants.all()))),
        }
        for c in campaigns
    ]
    return _page(
        request,
        "dashboard/campaigns.html",
        shop,
        membership,
        status=status,
        rows=rows,
        budget_form=budget_form
        or forms.BudgetForm(instance=get_snippet_settings(shop=shop), prefix="budget"),
    )


@login_required
@require_GET
def campaigns_page(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    return _list(request, shop, membership)


@login_required
@require_POST
def campaigns_budget(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    form = forms.BudgetForm(request.POST, instance=get_snippet_settings(shop=shop), prefix="budget")
    if form.is_valid():
        update_snippet_settings(
            shop=shop,
            campaigns_per_session=form.cleaned_data["campaigns_per_session"],
            campaigns_per_day=form.cleaned_data["campaigns_per_day"],
        )
        messages.success(request, "Attention budget saved.")
        return redirect("dashboard:campaigns", shop_id=shop.id)
    return _list(request, shop, membership, budget_form=form, status=400)


def _variant_initial(campaign: Campaign | None) -> list[dict]:
    if campaign is None or campaign.pk is None:
        return []
    fields = ("key", "share", *forms.VariantForm.CONTENT)
    return [
        {name: getattr(v, name) for name in fields}
        for v in CampaignVariant.objects.for_shop(campaign.shop).filter(campaign=campaign).order_by("key")
    ]


def _editor(request, shop, membership, campaign: Campaign | None) -> HttpResponse:
    instance = campaign or Campaign(shop=shop)
    if request.method == "POST":
        form = forms.CampaignForm(request.POST, instance=instance)
        variants = forms.VariantFormSet(request.POST, prefix="variants", initial=_variant_initial(campaign))
        if form.is_valid() and variants.is_valid():
            kept = [
                {
                    name: f.cleaned_data.get(name) or ("" if name != "share" else None)
                    for name in f.base_fields
                }
                for f in variants.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE") and not f.is_blank()
            ]
            for entry in kept:
                entry.pop("DELETE", None)
            try:
                with transaction.atomic():
                    if campaign is None:
                        saved = create_campaign(shop=shop, **form.campaign_fields())
                    else:
                        saved = update_campaign(shop=shop, campaign=campaign, **form.campaign_fields())
                    set_campaign_variants(shop=shop, campaign=saved, variants=kept)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    if field == "variants":
                        variants._non_form_errors = variants.error_class(errors)
                    else:
                        form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Campaign “{saved.name}” saved ({saved.get_status_display()}).")
                return redirect("dashboard:campaign_edit", shop_id=shop.id, campaign_id=saved.id)
        status = 400
    else:
        form = forms.CampaignForm(instance=instance)
        variants = forms.VariantFormSet(prefix="variants", initial=_variant_initial(campaign))
        status = 200
    return _page(
        request,
        "dashboard/campaign_edit.html",
        shop,
        membership,
        status=status,
        campaign=campaign,
        form=form,
        variants=variants,
        original=ORIGINAL,
        locale=shop.locale or default_locale(shop.currency),
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    return _editor(request, shop, membership, None)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, shop_id: int, campaign_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    return _editor(request, shop, membership, get_campaign(shop=shop, campaign_id=campaign_id))


@login_required
@require_POST
def campaign_status(request: HttpRequest, shop_id: int, campaign_id: int) -> HttpResponse:
    """Pause or resume (activate) a campaign."""
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    campaign = get_campaign(shop=shop, campaign_id=campaign_id)
    status = request.POST.get("status")
    if status not in (Campaign.ACTIVE, Campaign.PAUSED):
        messages.error(request, "Choose active or paused.")
    else:
        try:
            update_campaign(shop=shop, campaign=campaign, status=status)
        except ValidationError as exc:  # e.g. a row the admin saved before a rule existed
            messages.error(request, f"“{campaign.name}” needs fixing first: {'; '.join(exc.messages)}")
        else:
            state = "live" if status == Campaign.ACTIVE else "paused"
            messages.success(request, f"“{campaign.name}” is {state}.")
    return redirect("dashboard:campaigns", shop_id=shop.id)


@login_required
@require_POST
def campaign_delete(request: HttpRequest, shop_id: int, campaign_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    campaign = get_campaign(shop=shop, campaign_id=campaign_id)
    delete_campaign(shop=shop, campaign=campaign)
    messages.success(request, f"“{campaign.name}” deleted.")
    return redirect("dashboard:campaigns", shop_id=shop.id)


@login_required
@require_GET
def campaign_block_preview(request: HttpRequest, shop_id: int) -> JsonResponse:
    """The recommendations block a campaign embeds, as an anonymous shopper of this shop gets it."""
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    widget = request.GET.get("widget", "")
    try:
        limit = int(request.GET.get("limit", "4"))
    except ValueError:
        limit = 0
    errors = {}
    if widget not in WIDGETS:
        errors["widget"] = [f"must be one of {', '.join(WIDGETS)}"]
    if not 1 <= limit <= 50:
        errors["limit"] = ["must be a whole number from 1 to 50"]
    if errors:
        return JsonResponse({"detail": "Invalid preview request.", "errors": errors}, status=400)
    answer = serving.recommend(shop=shop, query=serving.Query(widget=widget, limit=limit))
    response = JsonResponse(answer)
    response["Cache-Control"] = "no-store"
    return response
