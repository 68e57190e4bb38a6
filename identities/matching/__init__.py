"""Duplicate and homonym matching: candidates, scoring, explanations."""
