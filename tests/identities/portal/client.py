"""Test helper for the portal screens: a logged-in client speaking HTTPS, as production requires."""
from django.test import Client


class HttpsClient(Client):
    """Production settings redirect plain HTTP to HTTPS: every request of this client is HTTPS."""

    def generic(self, method, path, *args, secure=True, **kwargs):
        return super().generic(method, path, *args, secure=True, **kwargs)


def logged_in(user) -> HttpsClient:
    client = HttpsClient()
    client.force_login(user)
    return client
