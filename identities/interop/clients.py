"""Client applications of the APIs (FHIR, CDA): issuing their bearer tokens (only the hash is stored), recognising them, checking their scope."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from django.db import transaction

from identities.core.errors import NotAllowed, RuleViolation
from identities.interop import selectors
from identities.interop.models import ClientApplication

SCOPES = tuple(ClientApplication.Scope.values)


def hash_token(token: str) -> str:
    # A random 256-bit token needs no slow hash: SHA-256 is enough to make the stored value useless.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def checked_scopes(scopes: str) -> str:
    chosen = scopes.split()
    unknown = sorted(set(chosen) - set(SCOPES))
    if unknown or not chosen:
        raise RuleViolation(f"droits attendus parmi : {', '.join(SCOPES)} (reçu : {scopes or 'rien'})", field="scopes")
    return " ".join(scope for scope in SCOPES if scope in chosen)


def client_application_save(*, actor, application: ClientApplication) -> str:
    """Create or update an application from the admin form; returns its new token when it
    has none yet (shown once, never stored in clear), else an empty string."""
    if not actor.has_perm("identities.add_clientapplication" if application.pk is None else "identities.change_clientapplication"):
        raise NotAllowed("Refusé : vous n'avez pas le droit de gérer les applications clientes FHIR.")
    application.scopes = checked_scopes(application.scopes)
    token = ""
    with transaction.atomic():
        if not application.token_hash:
            token = secrets.token_urlsafe(32)
            application.token_hash = hash_token(token)
        application._history_user = actor
        application.save()
    return token


def client_application_new_token(*, actor, application_id: int) -> str:
    """Replace an application's token (the old one stops working at once); returns the new one."""
    if not actor.has_perm("identities.change_clientapplication"):
        raise NotAllowed("Refusé : vous n'avez pas le droit de gérer les applications clientes FHIR.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        application = ClientApplication.objects.select_for_update().get(pk=application_id)
        application.token_hash = hash_token(token)
        application._history_user = actor
        application._change_reason = "Nouveau jeton"
        application.save(update_fields=["token_hash"])
    return token


def authenticate(authorization: str) -> ClientApplication | None:
    """The active application behind an ``Authorization: Bearer …`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return selectors.client_application(hash_token(token.strip()))


@dataclass(frozen=True)
class Denial:
    """Why an API call is refused, for each API to say in its own format."""

    status: int
    code: str  # FHIR issue code (login, forbidden)
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def authorise(authorization: str, scope: str) -> ClientApplication | Denial:
    """The application calling with this ``Authorization`` header if it holds ``scope``, else why not."""
    application = authenticate(authorization)
    if application is None:
        return Denial(401, "login", "Jeton d'application absent, inconnu ou révoqué (Authorization: Bearer …).",
                      {"WWW-Authenticate": 'Bearer realm="insportal"'})
    if not application.allows(scope):
        return Denial(403, "forbidden", f"L'application « {application.name} » n'a pas le droit « {scope} ».")
    return application
