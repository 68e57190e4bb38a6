"""The portal's admin site: its titles, its home page and the portal pages kept behind the admin login."""
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import path
from django.utils.translation import gettext_lazy as _


class PortalAdminSite(admin.AdminSite):
    site_header = _("INSportal — identitovigilance")
    site_title = _("INSportal")
    index_title = _("Accueil")
    index_template = "admin/portal_index.html"
    site_url = None  # the portal is the site: no "view site" link
    enable_nav_sidebar = False  # room for the lists; the header links lead to the daily screens

    def has_permission(self, request):
        # Every account with a role uses the portal; the "staff" flag of a bare Django admin is not asked for.
        user = request.user
        return user.is_active and (user.is_staff or bool(user.get_all_permissions()))

    def login(self, request, extra_context=None):
        from identities.forms import PortalAuthenticationForm

        self.login_form = PortalAuthenticationForm
        return super().login(request, extra_context)

    def get_urls(self):
        from identities import workflow_views  # the INSi workflow screens (recovery, batches, runs, CSV import)

        return [
            path("tableau-de-bord/", self.admin_view(self.dashboard_view), name="dashboard"),
            *workflow_views.get_urls(self),
            *super().get_urls(),
        ]

    def dashboard_view(self, request):
        # Imported here: this module is loaded while the app registry is still being filled.
        from identities import views

        return views.dashboard(request, site=self)

    def index(self, request, extra_context=None):
        from identities import views

        return super().index(request, extra_context={**views.home_context(request), **(extra_context or {})})


class PortalAdminConfig(AdminConfig):
    """Replaces ``django.contrib.admin`` in INSTALLED_APPS so that ``admin.site`` is the portal's site."""

    default_site = "identities.admin_site.PortalAdminSite"
