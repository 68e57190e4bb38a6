from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentitiesConfig(AppConfig):
    name = "identities"
    verbose_name = _("Référentiel d'identités")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from identities import roles

        post_migrate.connect(roles.ensure_roles, sender=self)
