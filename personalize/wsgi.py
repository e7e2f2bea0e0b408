import os

# A web process answers many small requests side by side: BLAS threads inside one request only fight
# the other workers for the cores (and OpenBLAS spins while it waits). Set before numpy loads;
# training runs in Celery workers, which keep their threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalize.settings")
application = get_wsgi_application()
