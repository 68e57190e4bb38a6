"""The portal's admin site: its titles, its home page and the portal pages kept behind the admin login.

Django loads this module while it reads INSTALLED_APPS (``PortalAdminConfig.default_site``),
before any model exists: what needs models is imported inside the methods.
"""
from django.conf import settings
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
        from identities.portal.forms import PortalAuthenticationForm  # loaded before the models (module docstring)

        self.login_form = PortalAuthenticationForm
        directory = {"oidc_enabled": settings.OIDC_ENABLED, "directory_refused": "annuaire" in request.GET}
        return super().login(request, {**directory, **(extra_context or {})})

    def get_urls(self):
        # The INSi workflow and merge screens; loaded before the models (module docstring).
        from identities.merge import views as merge_views
        from identities.workflows import views as workflow_views

        return [
            path("tableau-de-bord/", self.admin_view(self.dashboard_view), name="dashboard"),
            path("tableau-de-bord/export.pdf", self.admin_view(self.dashboard_pdf_view), name="dashboard_pdf"),
            path("tableau-de-bord/<slug:slug>.csv", self.admin_view(self.dashboard_csv_view), name="dashboard_csv"),
            path("lieux-de-naissance/", self.admin_view(self.birthplace_view), name="birthplace_search"),
            *workflow_views.get_urls(self),
            *merge_views.get_urls(self),
            *super().get_urls(),
        ]

    def dashboard_view(self, request):
        from identities.portal import views  # loaded before the models (module docstring)

        return views.dashboard(request, site=self)

    def dashboard_pdf_view(self, request):
        from identities.portal import views  # loaded before the models (module docstring)

        return views.dashboard_pdf(request)

    def dashboard_csv_view(self, request, slug):
        from identities.portal import views  # loaded before the models (module docstring)

        return views.dashboard_csv(request, slug)

    def birthplace_view(self, request):
        from identities.portal import views  # loaded before the models (module docstring)

        return views.birthplace_search(request)

    def index(self, request, extra_context=None):
        from identities.portal import views  # loaded before the models (module docstring)

        return super().index(request, extra_context={**views.home_context(request), **(extra_context or {})})


class PortalAdminConfig(AdminConfig):
    """Replaces ``django.contrib.admin`` in INSTALLED_APPS so that ``admin.site`` is the portal's site."""

    default_site = "identities.portal.site.PortalAdminSite"
