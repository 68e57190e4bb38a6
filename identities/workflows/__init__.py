"""The INSi workflows: recovery with comparison, verification, campaigns, reception and CSV import (domain.md §3)."""
