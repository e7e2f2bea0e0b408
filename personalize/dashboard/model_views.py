"""The models page: trained versions beside popularity, the training history, and a retrain button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from personalize.recommend.admin_services import model_versions, pending_training, retrain
from personalize.recommend.models import ModelVersion
from personalize.shops.services import access_shop

METRICS = [
    ("ndcg", "NDCG@10"),
    ("precision", "P@10"),
    ("recall", "R@10"),
    ("hit_rate", "HR@10"),
    ("coverage", "Coverage"),
]


def version_row(version: ModelVersion) -> dict:
    """A version as the page and its status endpoint show it."""
    metrics = version.metrics or {}
    model, popularity = metrics.get("model") or {}, metrics.get("popularity") or {}
    return {
        "id": version.id,
        "status": version.status,
        "reason": version.reason,
        "algorithm": version.algorithm,
        "decision": version.decision,
        "error": version.error.strip().splitlines()[-1] if version.error.strip() else "",
        "metrics": [
            {
                "key": key,
                "label": label,
                "model": model.get(key),
                "popularity": popularity.get(key),
                "lift": (model[key] / popularity[key]) if model.get(key) and popularity.get(key) else None,
            }
            for key, label in METRICS
        ],
        "evaluated_users": model.get("users"),
        "data_start": version.data_start,
        "data_end": version.data_end,
        "n_users": version.n_users,
        "n_items": version.n_items,
        "n_interactions": version.n_interactions,
        "train_seconds": version.train_seconds,
        "created_at": version.created_at,
        "finished_at": version.finished_at,
        "activated_at": version.activated_at,
        "busy": version.status in (ModelVersion.QUEUED, ModelVersion.TRAINING),
    }


@login_required
@require_GET
def models_page(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    versions = [version_row(v) for v in model_versions(shop=shop)]
    active = next((v for v in versions if v["status"] == ModelVersion.ACTIVE), None)
    pending = pending_training(shop=shop)
    return render(
        request,
        "dashboard/models.html",
        {
            "shop": shop,
            "membership": membership,
            "is_owner": membership.is_owner,
            "tab": "models",
            "versions": versions,
            "active": active,
            "pending": version_row(pending) if pending else None,
        },
    )


@login_required
@require_POST
def models_retrain(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    version, already = retrain(shop=shop)
    if version is not None:
        messages.success(
            request, f"Training queued (version {version.id}). This page updates when it is done."
        )
    else:
        messages.info(request, f"Version {already.id} is already {already.status}: one training at a time.")
    return redirect("dashboard:models", shop_id=shop.id)


@login_required
@require_GET
def models_status(request: HttpRequest, shop_id: int) -> JsonResponse:
    """The pending training (if any) and the newest version, for the page's polling."""
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    pending = pending_training(shop=shop)
    latest = model_versions(shop=shop, limit=1)
    response = JsonResponse(
        {
            "pending": {"id": pending.id, "status": pending.status} if pending else None,
            "latest": {"id": latest[0].id, "status": latest[0].status} if latest else None,
        }
    )
    response["Cache-Control"] = "no-store"
    return response
