"""The Celery application, configured from Django settings (``CELERY_`` namespace)."""
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")

app = Celery("insportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    """Workers and beat log through settings.LOGGING (no exception text, no personal data), not Celery's own."""
    from django.conf import settings

    from insportal.logs import configure

    configure(settings.LOGGING)
