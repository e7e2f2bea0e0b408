"""ASGI entry: HTTP through Django; websockets (the dashboard's live feed) through Channels, with
the session user and only from allowed hosts."""

import os

# A web process answers many small requests side by side: BLAS threads inside one request only fight
# the other workers for the cores (and OpenBLAS spins while it waits). Set before numpy loads;
# training runs in Celery workers, which keep their threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalize.settings")
django_asgi_app = get_asgi_application()

from personalize.analytics.routing import websocket_urlpatterns  # noqa: E402 (needs the apps loaded)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
