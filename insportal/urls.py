"""URL map: the admin-based portal at the root, the FHIR and CDA APIs, OpenID Connect sign-in, the INSi simulator when enabled."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from identities.portal import directory

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("documents/", include("identities.documents.views")),
]
if getattr(settings, "INSI_SIMULATOR_ENABLED", False):
    urlpatterns.append(path("insi-simulator/", include("insi.simulator.urls")))
urlpatterns.append(path("fhir/", include("identities.interop.fhir_api")))
urlpatterns.append(path("cda/", include("identities.interop.cda_api")))
# Sign-in through OpenID Connect (404 while OIDC_RP_CLIENT_ID is unset); LDAP uses the login form.
urlpatterns.append(path("oidc/", include(directory.oidc_urls())))
urlpatterns.append(path("", admin.site.urls))
