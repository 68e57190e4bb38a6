"""Management commands of the identity referential."""
