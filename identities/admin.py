"""Where Django's admin finds the app's screens: each capability registers its own ModelAdmins on the portal's site."""
from identities.documents import admin as documents_admin  # noqa: F401
from identities.interop import admin as interop_admin  # noqa: F401
from identities.portal import admin as portal_admin  # noqa: F401
from identities.portal import directory_admin  # noqa: F401
from identities.portal import establishments_admin  # noqa: F401
from identities.workflows import admin as workflows_admin  # noqa: F401
