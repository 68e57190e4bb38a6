"""The identities app: one Django app (one migration history, the tables as first created) whose capabilities are packages."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentitiesConfig(AppConfig):
    name = "identities"
    verbose_name = _("Référentiel d'identités")

    def ready(self) -> None:
        # Django: subscribers and post_migrate handlers connect once every model is loaded.
        from django.db.models.signals import post_migrate

        from identities import tasks  # noqa: F401  (every process knows the tasks it sends by name)
        from identities.core import defaults as core_defaults
        from identities.core import roles
        from identities.documents import defaults as document_defaults
        from identities.interop import outbox  # noqa: F401  (subscribes to identity events: the HL7 outbox)
        from identities.matching import receivers  # noqa: F401  (subscribes to identity events: stored keys, the check)
        from identities.merge import collisions  # noqa: F401  (subscribes to identity events: collision suspects)
        from identities.workflows import signals  # noqa: F401  (subscribes to identity events: NIA re-verification)

        # After every app's migrations: the roles hold permissions of other apps (insi...),
        # which exist only once those apps' own post_migrate has created them.
        post_migrate.connect(roles.ensure_roles, dispatch_uid="identities.ensure_roles")
        post_migrate.connect(core_defaults.ensure_defaults, sender=self, dispatch_uid="identities.ensure_defaults")
        post_migrate.connect(document_defaults.ensure_defaults, sender=self, dispatch_uid="identities.ensure_label_defaults")
