"""The manage.py commands of the identity referential."""
