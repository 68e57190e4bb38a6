"""Tests of the matching engine (pure: no database)."""
