from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from personalize import probes
from personalize.campaigns import snippet

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    # The snippet: the one URL merchants paste, and the chunks it loads on demand.
    path("p.js", snippet.loader, name="snippet"),
    re_path(r"^p/(?P<name>[a-z0-9-]+)\.js$", snippet.chunk, name="snippet_chunk"),
    path("api/v1/", include("personalize.events.urls")),
    path("api/v1/", include("personalize.catalog.urls")),
    path("api/v1/", include("personalize.recommend.urls")),
    path("api/v1/", include("personalize.campaigns.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("demo/", include("personalize.demo.urls")),
    path("", include("personalize.analytics.urls")),
    path("admin/", admin.site.urls),
    path("", include("personalize.dashboard.urls")),
]
