from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsiConfig(AppConfig):
    name = "insi"
    verbose_name = _("Téléservice INSi")
