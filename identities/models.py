"""Where Django finds the app's models: each capability keeps its own, and this index imports them all.

The core is imported first; no capability is imported by the core (dependencies run one way).
"""
from identities.core.models import *  # noqa: F401,F403
from identities.documents.models import *  # noqa: F401,F403
from identities.interop.models import *  # noqa: F401,F403
from identities.matching.models import *  # noqa: F401,F403
from identities.merge.models import *  # noqa: F401,F403

from identities.portal.models import *  # noqa: F401,F403
from identities.workflows.models import *  # noqa: F401,F403
