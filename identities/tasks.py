"""Where Celery finds the app's tasks (``autodiscover_tasks``): each capability keeps its own."""
from identities.documents import tasks as documents_tasks  # noqa: F401
from identities.interop import tasks as interop_tasks  # noqa: F401
from identities.matching import tasks as matching_tasks  # noqa: F401
from identities.portal import tasks as portal_tasks  # noqa: F401
from identities.workflows import tasks as workflows_tasks  # noqa: F401
