"""The exception the INSi app raises when its configuration cannot work."""


class InsiConfigurationError(Exception):
    """The INSi settings cannot work: missing or unreadable certificate, wrong CN, remote schema, no operation..."""
