"""A faithful INSi simulator served by the portal itself (SOAP 1.2 at /insi-simulator/lps)."""
from insi.simulator.catalog import GENERATED_PREFIX, SimIdentity, generated_identity

__all__ = ["GENERATED_PREFIX", "SimIdentity", "generated_identity"]
