"""What the core publishes: an identity event was recorded (the channels subscribe; the core knows none of them)."""
from django.dispatch import Signal

# Sent with ``event`` (an IdentityEvent) inside the transaction that recorded it, so a
# subscriber's writes (the outbox rows) commit or roll back with the event itself.
identity_event_recorded = Signal()
