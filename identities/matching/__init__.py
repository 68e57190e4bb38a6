"""Duplicate and homonym matching: candidate pairs, their detection over the base, the labelled generated identities that score it."""
