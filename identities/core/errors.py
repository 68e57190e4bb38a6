"""Errors the services raise: each carries a French message for the user and the field at fault."""


class ServiceError(Exception):
    def __init__(self, message: str, *, field: str | None = None):
        self.message = message
        self.field = field
        super().__init__(message)


class NotAllowed(ServiceError):
    """The acting user lacks the permission, or the identity's state forbids the action."""


class RuleViolation(ServiceError):
    """The input breaks an identity rule (trait format, combination, document, INSi result)."""


class ConflictError(ServiceError):
    """Somebody else changed the identity since the form was read."""


def require_permission(actor, permission: str, message: str) -> None:
    """The services' permission check: NotAllowed with ``message`` unless ``actor`` holds it."""
    if not actor.has_perm(permission):
        raise NotAllowed(message)
