from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentitiesConfig(AppConfig):
    name = "identities"
    verbose_name = _("Référentiel d'identités")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from identities import defaults, roles

        # After every app's migrations: the roles hold permissions of other apps (insi...),
        # which exist only once those apps' own post_migrate has created them.
        post_migrate.connect(roles.ensure_roles, dispatch_uid="identities.ensure_roles")
        post_migrate.connect(defaults.ensure_defaults, sender=self, dispatch_uid="identities.ensure_defaults")
