"""Merge and unmerge of duplicate identities, collisions and usurpations (issue #13 fills this package)."""
